import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SessionSummary } from "../shared/schemas/session.js";
import type { TaskSummary, TaskView } from "../shared/schemas/task.js";
import type { api } from "./support/api.js";
import { git, makeBareRepo, workingCopy } from "./support/git.js";
import { startTestKiln, type TestKiln } from "./support/kiln.js";
import { ownerWithRepo } from "./support/owner.js";
import { until } from "./support/poll.js";
import { sandboxServersUnder } from "./support/processes.js";

/**
 * RivetKit starts a second action while the first awaits, so every route below is called many
 * times at once, over real HTTP. Each call must get a defined answer (2xx or 409), never a 500,
 * and the state must end consistent.
 */
describe("parallel calls on one actor", () => {
  let kiln: TestKiln;
  let orgId: string;
  let repoId: string;
  let A: ReturnType<typeof api>;

  beforeAll(async () => {
    kiln = await startTestKiln();
    ({ orgId, repoId, A } = await ownerWithRepo(kiln.url));
  });
  afterAll(() => kiln?.stop());

  async function readyTask(prompt: string): Promise<TaskSummary> {
    const task = await A.createTask(orgId, { repoId, prompt });
    expect((await A.settled(orgId, task.id)).task.lifecycle.state).toBe("ready");
    return task;
  }

  const statuses = (results: { status: number }[]) => results.map((r) => r.status).sort();

  it("six renames of one branch to one name: all succeed, and git agrees", async () => {
    const task = await readyTask("Rename me six times");
    const results = await Promise.all(Array.from({ length: 6 }, () => A.post<TaskView>(`/v1/orgs/${orgId}/tasks/${task.id}/branch`, { name: "same-name" })));
    expect(statuses(results)).toEqual(Array(6).fill(200));
    expect((await A.get<TaskView>(`/v1/orgs/${orgId}/tasks/${task.id}`)).body.task.branch).toBe("same-name");
    expect(git(workingCopy(kiln.dataDir, task.id), "rev-parse", "--abbrev-ref", "HEAD")).toBe("same-name");
  });

  it("six renames to six names: each is applied in turn, and the task, the index and git end on the same branch", async () => {
    const task = await readyTask("Rename me to many names");
    const names = Array.from({ length: 6 }, (_, i) => `name-${i}`);
    const results = await Promise.all(names.map((name) => A.post<TaskView>(`/v1/orgs/${orgId}/tasks/${task.id}/branch`, { name })));
    expect(statuses(results)).toEqual(Array(6).fill(200));
    const branch = (await A.get<TaskView>(`/v1/orgs/${orgId}/tasks/${task.id}`)).body.task.branch;
    expect(names).toContain(branch);
    expect(git(workingCopy(kiln.dataDir, task.id), "rev-parse", "--abbrev-ref", "HEAD")).toBe(branch);
    const listed = (await A.get<{ tasks: TaskSummary[] }>(`/v1/orgs/${orgId}/tasks`)).body.tasks.find((t) => t.id === task.id);
    expect(listed?.branch).toBe(branch);
  });

  it("two tasks renamed to one name at once: one gets it, the other a 409", async () => {
    const [a, b] = await Promise.all([readyTask("First claimant"), readyTask("Second claimant")]);
    const results = await Promise.all([a, b].map((t) => A.post(`/v1/orgs/${orgId}/tasks/${t.id}/branch`, { name: "contested" })));
    expect(statuses(results)).toEqual([200, 409]);
    expect(results.find((r) => r.status === 409)?.body).toMatchObject({ error: "conflict" });
  });

  it("tasks created at once with one prompt get distinct branches", async () => {
    const results = await Promise.all(Array.from({ length: 5 }, () => A.post<{ task: TaskSummary }>(`/v1/orgs/${orgId}/tasks`, { repoId, prompt: "Same prompt" })));
    expect(statuses(results)).toEqual(Array(5).fill(202));
    const branches = results.map((r) => r.body.task.branch);
    expect(new Set(branches).size).toBe(5);
    await Promise.all(results.map((r) => A.settled(orgId, r.body.task.id)));
  });

  it("one remote added five times at once is created once", async () => {
    const remote = makeBareRepo("added-at-once");
    const results = await Promise.all(Array.from({ length: 5 }, () => A.post<{ repo: { id: string } }>(`/v1/orgs/${orgId}/repos`, { remoteUrl: remote })));
    expect(statuses(results)).toEqual([200, 200, 200, 200, 201]);
    expect(new Set(results.map((r) => r.body.repo.id)).size).toBe(1);
  });

  it("five sessions opened at once leave exactly one open, and it is ready", async () => {
    const task = await readyTask("Open many sessions");
    const path = `/v1/orgs/${orgId}/tasks/${task.id}/sessions`;
    const results = await Promise.all(Array.from({ length: 5 }, () => A.post<{ session: SessionSummary }>(path, { agent: "mock" })));
    expect(statuses(results)).toEqual(Array(5).fill(202));
    const view = (await A.get<TaskView>(`/v1/orgs/${orgId}/tasks/${task.id}`)).body.task;
    expect(view.sessions).toHaveLength(5);
    const open = view.sessions.filter((s) => !s.closed);
    expect(open.map((s) => s.id)).toEqual([view.activeSessionId]);
    const settled = await Promise.all(
      view.sessions.map((s) =>
        until(
          () => A.get<{ session: SessionSummary }>(`${path}/${s.id}`),
          (r) => !["pending_provision", "pending_session_create"].includes(r.body.session.status),
        ),
      ),
    );
    const byId = new Map(settled.map((r) => [r.body.session.id, r.body.session.status]));
    expect(byId.get(view.activeSessionId ?? "")).toBe("ready");
    expect([...byId.entries()].filter(([id]) => id !== view.activeSessionId).map(([, status]) => status)).toEqual(Array(4).fill("closed"));
  });

  it("renames and session opens racing an archive answer 200, 202 or 409, and leave the sandbox stopped", async () => {
    const task = await readyTask("Archive me while busy");
    const base = `/v1/orgs/${orgId}/tasks/${task.id}`;
    const results = await Promise.all([
      A.post(`${base}/branch`, { name: "before-archive-0" }),
      A.post(`${base}/sessions`, { agent: "mock" }),
      A.post(`${base}/archive`),
      ...Array.from({ length: 4 }, (_, i) => A.post(`${base}/branch`, { name: `during-archive-${i}` })),
      A.post(`${base}/sessions`, { agent: "mock" }),
    ]);
    for (const r of results) expect([200, 202, 409], JSON.stringify(r.body)).toContain(r.status);
    await until(() => A.get<TaskView>(base), (r) => r.body.task.lifecycle.state === "archived");
    // The task turns archived under its lock, right after the stop: nothing queued behind it can start the sandbox again.
    expect(sandboxServersUnder(kiln.dataDir).filter((p) => p.cwd.includes(task.id))).toEqual([]);
  });

  it("renames racing a kill answer 200, 202 or 409, never a 500", async () => {
    const task = await readyTask("Kill me while busy");
    const base = `/v1/orgs/${orgId}/tasks/${task.id}`;
    const results = await Promise.all([
      ...Array.from({ length: 3 }, (_, i) => A.post(`${base}/branch`, { name: `before-kill-${i}` })),
      A.del(base),
      ...Array.from({ length: 3 }, (_, i) => A.post(`${base}/branch`, { name: `after-kill-${i}` })),
    ]);
    for (const r of results) expect([200, 202, 409], JSON.stringify(r.body)).toContain(r.status);
    await until(() => A.get<TaskView>(base), (r) => r.body.task.lifecycle.phase === "killed");
  });

  it("messages sent at once to one session: one turn runs, the others get 409", async () => {
    const task = await readyTask("Send many messages");
    const path = `/v1/orgs/${orgId}/tasks/${task.id}/sessions`;
    const session = (await A.post<{ session: SessionSummary }>(path, { agent: "mock" })).body.session;
    await until(() => A.get<{ session: SessionSummary }>(`${path}/${session.id}`), (r) => r.body.session.status === "ready");
    const results = await Promise.all(Array.from({ length: 5 }, (_, i) => A.post(`${path}/${session.id}/messages`, { text: `sleep 20000 message ${i}` })));
    expect(statuses(results)).toEqual([202, 409, 409, 409, 409]);
    // A close racing the turn's end leaves the session closed, never running or ready.
    const closing = A.del<{ session: SessionSummary }>(`${path}/${session.id}`);
    expect((await closing).body.session.status).toBe("closed");
    const after = await until(
      () => A.get<{ events: { kind: string }[] }>(`${path}/${session.id}/events`),
      (r) => r.body.events.some((e) => e.kind === "turn_ended"),
    );
    expect(after.body.events.filter((e) => e.kind === "user_message")).toHaveLength(1);
    expect((await A.get<{ session: SessionSummary }>(`${path}/${session.id}`)).body.session.status).toBe("closed");
  });
});
