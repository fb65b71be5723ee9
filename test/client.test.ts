import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createKilnClient, KilnApiError, type KilnClient } from "../shared/client.js";
import type { TaskDetail, TaskSummary } from "../shared/schemas/task.js";
import { makeBareRepo } from "./support/git.js";
import { signUp, socketTransport } from "./support/http.js";
import { startTestKiln, type TestKiln } from "./support/kiln.js";
import { until } from "./support/poll.js";

describe("the typed frontend client", () => {
  let kiln: TestKiln;
  let client: KilnClient;
  beforeAll(async () => {
    kiln = await startTestKiln();
    const u = await signUp(socketTransport(kiln.url));
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
    const stopOrg = client.subscribeOrganization(orgId, { onTaskSummary: (t) => summaries.push(t) });
    // Let the subscription open before the task exists, as a workbench page would.
    await new Promise((r) => setTimeout(r, 200));
    const task = await client.createTask(orgId, { repoId: repo.id, prompt: "Through the client" });
    const details: TaskDetail[] = [];
    const stopTask = client.subscribeTask(orgId, task, { onTask: (d) => details.push(d) });
    try {
      await until(async () => summaries.filter((s) => s.id === task.id).at(-1)?.lifecycle.state, (s) => s === "ready");
      expect((await client.getTask(orgId, task.id)).task.lifecycle.state).toBe("ready");
      expect((await client.listTasks(orgId)).map((t) => t.id)).toContain(task.id);
    } finally {
      await stopTask();
      await stopOrg();
    }
  });

  it("raises KilnApiError with Kiln's stable code", async () => {
    const err = await client.listTasks("someone-elses-org").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KilnApiError);
    expect(err).toMatchObject({ status: 403, code: "forbidden" });
  });
});
