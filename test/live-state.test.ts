import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createKilnClient, type KilnClient } from "../shared/client.js";
import { TASK_PHASES, type TaskDetail, type TaskSummary, type TaskView } from "../shared/schemas/task.js";
import type { api } from "./support/api.js";
import type { SignedUp } from "./support/http.js";
import { startTestKiln, type TestKiln } from "./support/kiln.js";
import { ownerWithRepo } from "./support/owner.js";
import { until } from "./support/poll.js";
import { rivetClient } from "./support/rivet.js";

/** Every task's events, in arrival order: revisions only grow, and phases only move forward. */
function expectInOrder(events: TaskSummary[], taskIds: string[]): void {
  for (const id of taskIds) {
    const mine = events.filter((e) => e.id === id);
    expect(mine[0]?.lifecycle.phase, `first event of ${id}`).toBe("queued");
    expect(mine.at(-1)?.lifecycle.phase).toBe("ready");
    const revisions = mine.map((e) => e.revision);
    expect(revisions, `revisions of ${id}`).toEqual([...revisions].sort((a, b) => a - b));
    expect(new Set(revisions).size).toBe(revisions.length);
    const phases = mine.map((e) => TASK_PHASES.indexOf(e.lifecycle.phase));
    expect(phases, `phases of ${id}`).toEqual([...phases].sort((a, b) => a - b));
  }
}

describe("live state that agrees", () => {
  let kiln: TestKiln;
  let ann: SignedUp;
  let orgId: string;
  let repoId: string;
  let A: ReturnType<typeof api>;
  let kilnClient: KilnClient;
  let rivet: ReturnType<typeof rivetClient>;

  beforeAll(async () => {
    kiln = await startTestKiln();
    ({ user: ann, orgId, repoId, A } = await ownerWithRepo(kiln.url));
    kilnClient = createKilnClient({ baseUrl: kiln.url, token: ann.token });
    rivet = rivetClient(kiln.url, ann.token);
  });
  afterAll(async () => {
    await kilnClient?.dispose();
    await rivet?.dispose();
    await kiln?.stop();
  });

  it("the org subscription sends each task's phases in order, each under a higher revision", async () => {
    // A raw connection: what the server sends, before any client-side filtering.
    const conn = rivet.organization.get(["org", orgId], { params: { token: ann.token } }).connect();
    const sent: TaskSummary[] = [];
    conn.on("taskSummaryUpdated", (s) => sent.push(s));
    try {
      await conn.listTasks({ limit: 1 });
      const created = await Promise.all(Array.from({ length: 4 }, (_, i) => A.createTask(orgId, { repoId, prompt: `Ordered ${i}` })));
      const ids = created.map((t) => t.id);
      await until(async () => ids.every((id) => sent.some((s) => s.id === id && s.lifecycle.phase === "ready")), (done) => done, { timeoutMs: 60_000 });
      expectInOrder(sent, ids);
    } finally {
      await conn.dispose();
    }
  });

  it("the typed client delivers the same order to its handlers, on the org and on the task", async () => {
    const summaries: TaskSummary[] = [];
    let opened = false;
    const stopOrg = kilnClient.subscribeOrganization(orgId, { onTaskSummary: (s) => summaries.push(s), onOpen: () => (opened = true) });
    try {
      await until(async () => opened, (o) => o);
      const task = await kilnClient.createTask(orgId, { repoId, prompt: "Through the client, in order" });
      const details: TaskDetail[] = [];
      const stopTask = kilnClient.subscribeTask(orgId, task, { onTask: (d) => details.push(d) });
      try {
        await until(async () => summaries.some((s) => s.id === task.id && s.lifecycle.phase === "ready"), (done) => done, { timeoutMs: 60_000 });
        expectInOrder(summaries, [task.id]);
        await kilnClient.actors.task.get(["org", orgId, "repo", repoId, "task", task.id], { params: { token: ann.token } }).rename("Renamed live");
        await until(async () => details.at(-1)?.title, (title) => title === "Renamed live");
        const revisions = details.map((d) => d.revision);
        expect(revisions).toEqual([...revisions].sort((a, b) => a - b));
      } finally {
        await stopTask();
      }
    } finally {
      await stopOrg();
    }
  });

  it("one createdAt: the 202, the list, the task view and its live events agree", async () => {
    const conn = rivet.organization.get(["org", orgId], { params: { token: ann.token } }).connect();
    const sent: TaskSummary[] = [];
    conn.on("taskSummaryUpdated", (s) => sent.push(s));
    try {
      await conn.listTasks({ limit: 1 });
      const task = await A.createTask(orgId, { repoId, prompt: "When was I made?" });
      const view = await A.settled(orgId, task.id);
      const listed = (await A.get<{ tasks: TaskSummary[] }>(`/v1/orgs/${orgId}/tasks`)).body.tasks.find((t) => t.id === task.id);
      const fromEvents = new Set(sent.filter((s) => s.id === task.id).map((s) => s.createdAt));
      expect(listed?.createdAt).toBe(task.createdAt);
      expect(view.task.createdAt).toBe(task.createdAt);
      expect([...fromEvents]).toEqual([task.createdAt]);
      expect((await A.get<TaskView>(`/v1/orgs/${orgId}/tasks/${task.id}`)).body.task.revision).toBe(listed?.revision);
    } finally {
      await conn.dispose();
    }
  });
});
