import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SessionEvent, SessionSummary } from "../shared/schemas/session.js";
import type { TaskSummary, TaskView } from "../shared/schemas/task.js";
import { api } from "./support/api.js";
import { git, makeBareRepo, workingCopy } from "./support/git.js";
import { signUp, socketTransport, type SignedUp } from "./support/http.js";
import { startTestKiln, type TestKiln } from "./support/kiln.js";
import { until } from "./support/poll.js";
import { rivetClient } from "./support/rivet.js";

describe("agent sessions on real sandbox-agent", () => {
  let kiln: TestKiln;
  let ann: SignedUp;
  let ben: SignedUp;
  let orgId: string;
  let A: ReturnType<typeof api>;
  let B: ReturnType<typeof api>;
  let task: TaskSummary;
  let client: ReturnType<typeof rivetClient>;

  const path = (rest = "") => `/v1/orgs/${orgId}/tasks/${task.id}/sessions${rest}`;

  async function openReadySession(): Promise<SessionSummary> {
    const opened = await A.post<{ session: SessionSummary }>(path(), { agent: "mock", name: "Pairing" });
    expect(opened.status).toBe(202);
    expect(opened.body.session.status).toBe("pending_provision");
    const ready = await until(
      () => A.get<{ session: SessionSummary }>(path(`/${opened.body.session.id}`)),
      (r) => r.body.session.status === "ready" || r.body.session.status === "error",
    );
    expect(ready.body.session).toMatchObject({ status: "ready", message: null, agent: "mock", name: "Pairing" });
    return ready.body.session;
  }

  async function transcript(sessionId: string): Promise<SessionEvent[]> {
    return (await A.get<{ events: SessionEvent[] }>(path(`/${sessionId}/events?limit=1000`))).body.events;
  }

  beforeAll(async () => {
    kiln = await startTestKiln();
    const t = socketTransport(kiln.url);
    [ann, ben] = [await signUp(t, { name: "Ann" }), await signUp(t, { name: "Ben" })];
    orgId = `personal-${ann.user.id}`;
    await kiln.organizations.upsertMember(orgId, { userId: ben.user.id, name: "Ben", email: ben.user.email, role: "member" });
    A = api(t, ann.token);
    B = api(t, ben.token);
    const repoId = await A.addRepo(orgId, makeBareRepo());
    task = await A.createTask(orgId, { repoId, prompt: "Pair with an agent" });
    expect((await A.settled(orgId, task.id)).task.lifecycle.state).toBe("ready");
    client = rivetClient(kiln.url, ben.token);
  });
  afterAll(async () => {
    await client?.dispose();
    await kiln?.stop();
  });

  it("streams a turn's events live to a subscriber, and keeps the whole transcript", async () => {
    const session = await openReadySession();
    const conn = client.taskSession.get(["org", orgId, "repo", task.repoId, "task", task.id, "session", session.id], { params: { token: ben.token } }).connect();
    const live: SessionEvent[] = [];
    conn.on("sessionEvent", (e) => live.push(e));
    try {
      await conn.view();
      const sent = await A.post<{ session: SessionSummary }>(path(`/${session.id}/messages`), { text: "Summarise the repository" });
      expect(sent.status).toBe(202);
      expect(sent.body.session.status).toBe("running");
      await until(async () => live.map((e) => e.kind), (kinds) => kinds.includes("turn_ended"));
      const chunks = live.filter((e) => e.kind === "agent_message_chunk").map((e) => e.text ?? "");
      expect(chunks.length).toBeGreaterThan(1);
      expect(chunks.join("")).toContain("Summarise the repository");
      expect(live.map((e) => e.kind)).toEqual(expect.arrayContaining(["user_message", "tool_call", "tool_call_update"]));
      expect(live.at(-1)).toMatchObject({ sender: "kiln", kind: "turn_ended", text: "end_turn" });

      const all = await transcript(session.id);
      expect(all.map((e) => e.index)).toEqual(all.map((_, i) => i + 1));
      expect(all.map((e) => e.kind)).toEqual(live.map((e) => e.kind));
      const page = await A.get<{ events: SessionEvent[]; next: number | null }>(path(`/${session.id}/events?after=2&limit=2`));
      expect(page.body.events.map((e) => e.index)).toEqual([3, 4]);
      expect(page.body.next).toBe(4);
      expect((await A.get<{ session: SessionSummary }>(path(`/${session.id}`))).body.session).toMatchObject({ status: "ready", lastStopReason: "end_turn" });
    } finally {
      await conn.dispose();
    }
  });

  it("marks the session unread for every member except the sender when a turn ends", async () => {
    const session = await openReadySession();
    await B.post(path(`/${session.id}/messages`), { text: "Hello from Ben" });
    await until(async () => (await transcript(session.id)).map((e) => e.kind), (k) => k.includes("turn_ended"));
    const annView = await until(() => A.get<TaskView>(`/v1/orgs/${orgId}/tasks/${task.id}`), (r) => r.body.workbench.sessions[session.id]?.unread === true);
    expect(annView.body.workbench.sessions[session.id]?.unread).toBe(true);
    const benView = await B.get<TaskView>(`/v1/orgs/${orgId}/tasks/${task.id}`);
    expect(benView.body.workbench.sessions[session.id]?.unread ?? false).toBe(false);
  });

  it("stops a long turn within a second", async () => {
    const session = await openReadySession();
    await A.post(path(`/${session.id}/messages`), { text: "sleep 20000" });
    // Stop once the agent is working, as a user would.
    await until(async () => (await transcript(session.id)).some((e) => e.kind === "agent_message_chunk"), (x) => x, { everyMs: 25 });
    const busy = await A.post<{ session: SessionSummary }>(path(`/${session.id}/messages`), { text: "again" });
    expect(busy.status).toBe(409);
    const started = Date.now();
    expect((await A.post(path(`/${session.id}/stop`))).status).toBe(200);
    const ended = await until(async () => (await transcript(session.id)).find((e) => e.kind === "turn_ended"), (e) => e !== undefined, { everyMs: 20 });
    expect(Date.now() - started).toBeLessThan(1000);
    expect(ended?.text).toBe("cancelled");
  });

  it("has its status sync poll only while a turn runs", async () => {
    const session = await openReadySession();
    const sync = client.sessionStatusSync.get(["org", orgId, "repo", task.repoId, "task", task.id, "session", session.id, "status-sync"], {
      params: { token: ann.token },
    });
    await A.post(path(`/${session.id}/messages`), { text: "sleep 2500" });
    const during = await until(() => sync.describe(), (st) => st.watching && st.polls >= 1, { timeoutMs: 5_000 });
    expect(during.watching).toBe(true);
    const after = await until(() => sync.describe(), (st) => !st.watching, { timeoutMs: 8_000 });
    expect((await transcript(session.id)).filter((e) => e.kind === "turn_ended").map((e) => e.text)).toEqual(["end_turn"]);
    await new Promise((r) => setTimeout(r, 2_500));
    expect((await sync.describe()).polls).toBe(after.polls);
  });

  it("runs turns back to back without the status sync mistaking one for lost", async () => {
    const session = await openReadySession();
    // A count of turns, not a time window: the machine's load must not change what is asserted.
    const turns = 8;
    for (let turn = 0; turn < turns; turn += 1) {
      expect((await A.post(path(`/${session.id}/messages`), { text: `turn ${turn}` })).status).toBe(202);
      const done = await until(() => A.get<{ session: SessionSummary }>(path(`/${session.id}`)), (r) => r.body.session.status !== "running", { everyMs: 10 });
      expect(done.body.session.lastStopReason).toBe("end_turn");
    }
    const ends = (await transcript(session.id)).filter((e) => e.kind === "turn_ended").map((e) => e.text);
    expect(ends).toEqual(Array(turns).fill("end_turn"));
  });

  it("lets the scripted agent commit a file, shown in the task's diff summary", async () => {
    const session = await openReadySession();
    await A.post(path(`/${session.id}/messages`), { text: "commit notes/agent.txt written by the agent" });
    const view = await until(() => A.get<TaskView>(`/v1/orgs/${orgId}/tasks/${task.id}`), (r) => r.body.task.diff?.files.some((f) => f.path === "notes/agent.txt") === true);
    expect(view.body.task.diff).toMatchObject({ commits: expect.any(Number), insertions: expect.any(Number) });
    expect(view.body.task.diff?.commits).toBeGreaterThanOrEqual(1);
    expect(git(workingCopy(kiln.dataDir, task.id), "log", "-1", "--format=%s")).toBe("agent: notes/agent.txt");
    expect(view.body.task.activeSessionId).toBe(session.id);
    expect(view.body.task.sessions.filter((s) => !s.closed).map((s) => s.id)).toEqual([session.id]);
  });

  it("validates input, and closes a session for good", async () => {
    const session = await openReadySession();
    expect((await A.post(path(`/${session.id}/messages`), { text: "" })).status).toBe(400);
    expect((await A.post(path(), { agent: "Not An Agent!" })).status).toBe(400);
    expect((await A.get(path(`/s_nope`))).status).toBe(404);
    const closed = await A.del<{ session: SessionSummary }>(path(`/${session.id}`));
    expect(closed.status).toBe(200);
    expect(closed.body.session.status).toBe("closed");
    const after = await A.post(path(`/${session.id}/messages`), { text: "still there?" });
    expect(after.status).toBe(409);
    expect(after.body).toMatchObject({ error: "conflict" });
  });
});
