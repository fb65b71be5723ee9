import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createKilnClient, KilnApiError, type KilnClient } from "../shared/client.js";
import type { SessionEvent } from "../shared/schemas/session.js";
import type { TaskDetail, TaskSummary } from "../shared/schemas/task.js";
import { makeBareRepo } from "./support/git.js";
import { signUp, socketTransport } from "./support/http.js";
import { startTestKiln, type TestKiln } from "./support/kiln.js";
import { until } from "./support/poll.js";

describe("the typed frontend client", () => {
  let kiln: TestKiln;
  let client: KilnClient;
  let token: string;
  beforeAll(async () => {
    kiln = await startTestKiln();
    const u = await signUp(socketTransport(kiln.url));
    token = u.token;
    client = createKilnClient({ baseUrl: kiln.url, token: u.token });
  });
  afterAll(async () => {
    await client?.dispose();
    await kiln?.stop();
  });

  it("calls REST, subscribes to an org and a task, and sees a task become ready", async () => {
    const me = await client.me();
    const orgId = me.organizations[0]!.id;
    const repo = await client.addRepo(orgId, makeBareRepo());
    const summaries: TaskSummary[] = [];
    let opened = 0;
    const stopOrg = client.subscribeOrganization(orgId, { onTaskSummary: (t) => summaries.push(t), onOpen: () => (opened += 1) });
    // The subscription is live before the task exists, as on a workbench page.
    await until(async () => opened, (n) => n === 1);
    const task = await client.createTask(orgId, { repoId: repo.id, prompt: "Through the client" });
    const details: TaskDetail[] = [];
    const stopTask = client.subscribeTask(orgId, task, { onTask: (d) => details.push(d) });
    try {
      await until(async () => summaries.filter((s) => s.id === task.id).at(-1)?.lifecycle.state, (s) => s === "ready");
      expect((await client.getTask(orgId, task.id)).task.lifecycle.state).toBe("ready");
      expect((await client.listTasks(orgId)).tasks.map((t) => t.id)).toContain(task.id);
    } finally {
      await stopTask();
      await stopOrg();
    }
  });

  it("opens a session, streams its events and pages the transcript", async () => {
    const orgId = (await client.me()).organizations[0]!.id;
    const repo = await client.addRepo(orgId, makeBareRepo("client-sessions"));
    const task = await client.createTask(orgId, { repoId: repo.id, prompt: "Talk to me" });
    await until(() => client.getTask(orgId, task.id), (v) => v.task.lifecycle.state === "ready");
    const opened = await client.openSession(orgId, task.id, { agent: "mock" });
    await until(async () => (await client.getTask(orgId, task.id)).task.activeSessionId, (id) => id === opened.id);
    const events: SessionEvent[] = [];
    const stop = client.subscribeSession(orgId, task, opened.id, { onEvent: (e) => events.push(e) });
    try {
      await until(() => client.actors.taskSession.get(["org", orgId, "repo", task.repoId, "task", task.id, "session", opened.id], { params: { token } }).view(), (s) => s.status === "ready");
      await client.sendMessage(orgId, task.id, opened.id, "hello agent");
      await until(async () => events.map((e) => e.kind), (k) => k.includes("turn_ended"));
      const page = await client.sessionEvents(orgId, task.id, opened.id);
      expect(page.events.map((e) => e.kind)).toEqual(events.map((e) => e.kind));
      expect(events.some((e) => e.kind === "agent_message_chunk")).toBe(true);
    } finally {
      await stop();
    }
  });

  it("raises KilnApiError with Kiln's stable code", async () => {
    const err = await client.listTasks("someone-elses-org").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KilnApiError);
    expect(err).toMatchObject({ status: 403, code: "forbidden" });
  });
});
