import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SessionEvent, SessionSummary } from "../shared/schemas/session.js";
import type { TaskSummary } from "../shared/schemas/task.js";
import type { api } from "./support/api.js";
import { startTestKiln, type TestKiln } from "./support/kiln.js";
import { ownerWithRepo } from "./support/owner.js";
import { until } from "./support/poll.js";
import { sandboxServersUnder } from "./support/processes.js";

/**
 * A sandbox's sandbox-agent server can die under an open session. The session must come back the
 * way it does after a Kiln restart: on a fresh agent session that gets the conversation back.
 */
describe("a session whose sandbox server crashed", () => {
  let kiln: TestKiln;
  let orgId: string;
  let repoId: string;
  let A: ReturnType<typeof api>;

  beforeAll(async () => {
    kiln = await startTestKiln();
    ({ orgId, repoId, A } = await ownerWithRepo(kiln.url));
  });
  afterAll(() => kiln?.stop());

  async function sessionOnReadyTask(prompt: string): Promise<{ task: TaskSummary; base: string; session: SessionSummary }> {
    const task = await A.createTask(orgId, { repoId, prompt });
    expect((await A.settled(orgId, task.id)).task.lifecycle.state).toBe("ready");
    const base = `/v1/orgs/${orgId}/tasks/${task.id}/sessions`;
    const opened = (await A.post<{ session: SessionSummary }>(base, { agent: "mock" })).body.session;
    const session = (await until(() => A.get<{ session: SessionSummary }>(`${base}/${opened.id}`), (r) => r.body.session.status === "ready")).body.session;
    return { task, base, session };
  }

  const transcript = async (base: string, id: string) => (await A.get<{ events: SessionEvent[] }>(`${base}/${id}/events?limit=1000`)).body.events;
  const turnsEnded = async (base: string, id: string) => (await transcript(base, id)).filter((e) => e.kind === "turn_ended");

  /** Kills the task's sandbox-agent server, as a crash would, and waits until it is gone. */
  async function crashServer(taskId: string): Promise<void> {
    const { pid } = JSON.parse(readFileSync(join(kiln.dataDir, "sandboxes", taskId, "server.json"), "utf8")) as { pid: number };
    try {
      process.kill(pid, "SIGKILL");
    } catch (err) {
      expect((err as NodeJS.ErrnoException).code).toBe("ESRCH");
    }
    await until(async () => sandboxServersUnder(kiln.dataDir).some((p) => p.pid === pid), (alive) => !alive);
  }

  /** Sends `recall` and returns the agent's reply: the conversation it was handed. */
  async function recall(base: string, id: string): Promise<string> {
    const before = (await turnsEnded(base, id)).length;
    const sent = await A.post(`${base}/${id}/messages`, { text: "recall" });
    expect(sent.status).toBe(202);
    await until(() => turnsEnded(base, id), (ended) => ended.length === before + 1, { timeoutMs: 30_000 });
    const events = await transcript(base, id);
    const lastTurn = events.slice(events.findLastIndex((e) => e.kind === "user_message"));
    expect(lastTurn.at(-1), JSON.stringify(lastTurn.map((e) => [e.sender, e.kind, e.text, JSON.stringify(e.payload).slice(0, 300)]))).toMatchObject({ kind: "turn_ended", text: "end_turn" });
    return lastTurn.filter((e) => e.kind === "agent_message_chunk").map((e) => e.text ?? "").join("");
  }

  it("crashed between turns: the next message re-opens the session with its context", async () => {
    const { task, base, session } = await sessionOnReadyTask("Crash between turns");
    await A.post(`${base}/${session.id}/messages`, { text: "the password is tangerine" });
    await until(() => turnsEnded(base, session.id), (ended) => ended.length === 1);
    await crashServer(task.id);

    const reply = await recall(base, session.id);
    expect(reply).toContain("User: the password is tangerine");
    expect(reply).toContain("Assistant: Working on: the password is tangerine");
    expect((await A.get<{ session: SessionSummary }>(`${base}/${session.id}`)).body.session).toMatchObject({ status: "ready", lastStopReason: "end_turn" });
  });

  it("crashed during a turn: the turn ends, the session is ready again and keeps its context", async () => {
    const { task, base, session } = await sessionOnReadyTask("Crash during a turn");
    await A.post(`${base}/${session.id}/messages`, { text: "remember the number 42" });
    await until(() => turnsEnded(base, session.id), (ended) => ended.length === 1);
    await A.post(`${base}/${session.id}/messages`, { text: "sleep 60000" });
    await until(() => transcript(base, session.id), (events) => events.filter((e) => e.kind === "agent_message_chunk").length > 3);
    await crashServer(task.id);

    const after = await until(() => A.get<{ session: SessionSummary }>(`${base}/${session.id}`), (r) => r.body.session.status !== "running", { timeoutMs: 30_000 });
    expect(after.body.session.status).toBe("ready");
    expect((await turnsEnded(base, session.id)).map((e) => e.text)).toEqual(["end_turn", "error"]);

    const reply = await recall(base, session.id);
    expect(reply).toContain("User: remember the number 42");
    expect(reply).toContain("User: sleep 60000");
  });
});
