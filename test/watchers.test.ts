import { request } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Agent, ClaimedRun, WatcherRun, WatcherSummary, WatcherView } from "../shared/schemas/watcher.js";
import { api } from "./support/api.js";
import { mintDevice } from "./support/devices.js";
import { signUp, socketTransport, type SignedUp, type Transport } from "./support/http.js";
import { startTestKiln, type TestKiln } from "./support/kiln.js";
import { until } from "./support/poll.js";

/** Announces a body over the limit and sends only its start: Kiln answers 413 without reading it. */
function declaredTooLarge(base: string, path: string, token: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}${path}`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json", "content-length": String(5 * 1024 * 1024) },
    });
    req.on("response", (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
      req.destroy();
    });
    req.on("error", reject);
    req.write("{\"worker_id\":");
  });
}

type Trigger = { run_id: string; status: string; already_queued: boolean; queued_at: string };

describe("watchers, runs and leases", () => {
  let kiln: TestKiln;
  let t: Transport;
  let ann: SignedUp;
  let A: ReturnType<typeof api>;
  let orgId: string;
  let agentId: string;

  beforeAll(async () => {
    kiln = await startTestKiln();
    t = socketTransport(kiln.url);
    ann = await signUp(t, { name: "Ann" });
    A = api(t, ann.token);
    orgId = `personal-${ann.user.id}`;
    agentId = (await A.post<Agent>(`/v1/orgs/${orgId}/agents`, { name: "Reviewer", kind: "codex", instructions: "Review." })).body.id;
  });
  afterAll(async () => {
    await kiln?.stop();
  });

  const createWatcher = async (body: Record<string, unknown>) => {
    const res = await A.post<WatcherView>(`/v1/orgs/${orgId}/watchers`, { name: "Inbox", schedule: "0 9 * * *", timezone: "UTC", agentId, prompt: "Read my inbox", ...body });
    if (res.status !== 201) throw new Error(`create watcher: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body;
  };
  const runsOf = async (watcherId: string) => (await A.get<{ runs: WatcherRun[] }>(`/v1/orgs/${orgId}/watchers/${watcherId}/runs`)).body.runs;

  it("validates cron, timezone and agent, and computes next_run_at in the watcher's timezone", async () => {
    const bad = await A.post(`/v1/orgs/${orgId}/watchers`, { name: "x", schedule: "every day", timezone: "Mars/Base", agentId, prompt: "p" });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toBe("invalid_request");
    expect(JSON.stringify(bad.body.details)).toContain("schedule");
    expect(JSON.stringify(bad.body.details)).toContain("timezone");
    expect((await A.post(`/v1/orgs/${orgId}/watchers`, { name: "x", schedule: "0 9 * * *", agentId: "agt_nope", prompt: "p" })).status).toBe(404);
    expect((await A.post(`/v1/orgs/${orgId}/watchers`, { name: "x", schedule: "0 9 * * *", agentId, prompt: "p", deviceWorkerId: "dev_0000000000000000" })).status).toBe(400);
    const w = await createWatcher({ name: "Tokyo morning", schedule: "30 7 * * *", timezone: "Asia/Tokyo" });
    expect(w).toMatchObject({ slug: "tokyo-morning", promptVersion: 1, status: "active", deviceWorkerId: null });
    // 07:30 in Tokyo is 22:30 UTC the day before.
    expect(new Date(w.nextRunAt!).toISOString()).toMatch(/T22:30:00\.000Z$/);
    const list = (await A.get<{ watchers: WatcherSummary[] }>(`/v1/orgs/${orgId}/watchers`)).body.watchers;
    expect(list.find((x) => x.id === w.id)).toMatchObject({ nextRunAt: w.nextRunAt });
    expect((await A.get(`/v1/orgs/${orgId}/watchers/wat_0000000000000000`)).status).toBe(404);
    // Ids are looked up as own entries: the names of Object.prototype's members find nothing.
    expect((await A.del(`/v1/orgs/${orgId}/agents/constructor`)).status).toBe(404);
    expect((await A.patch(`/v1/orgs/${orgId}/agents/__proto__`, { name: "x" })).status).toBe(404);
    expect((await A.post(`/v1/orgs/${orgId}/watchers`, { name: "x", schedule: "0 9 * * *", agentId: "constructor", prompt: "p" })).status).toBe(404);
    const ben = api(t, (await signUp(t)).token);
    expect((await ben.get(`/v1/orgs/${orgId}/watchers/${w.id}`)).status).toBe(403);
  });

  it("triggers, claims, heartbeats and completes a run; a second completion changes nothing; the schedule does not move", async () => {
    const { minted, device } = await mintDevice(t, A, { platform: "macos" });
    const w = await createWatcher({ name: "Manual", deviceWorkerId: minted.worker_id, prompt: "version one" });
    const notPolled = await device.trigger(w.id);
    expect(notPolled.status).toBe(404);
    expect(notPolled.body.error).toBe("device_not_registered");
    await device.poll();
    expect((await A.patch<WatcherView>(`/v1/orgs/${orgId}/watchers/${w.id}`, { prompt: "version two" })).body.promptVersion).toBe(2);

    const triggered = await device.trigger<Trigger>(w.id);
    expect(triggered.status).toBe(200);
    expect(triggered.body).toMatchObject({ status: "pending", already_queued: false });
    // A prompt edited after materialization does not change the run.
    await A.patch(`/v1/orgs/${orgId}/watchers/${w.id}`, { prompt: "version three" });
    const again = await device.trigger<Trigger>(w.id);
    expect(again.body).toMatchObject({ run_id: triggered.body.run_id, already_queued: true });

    const claimed = await device.poll<ClaimedRun>();
    expect(claimed.status).toBe(200);
    expect(claimed.body).toMatchObject({
      run_id: triggered.body.run_id,
      run_type: "watcher",
      organization_id: orgId,
      payload: {
        watcher: { id: w.id, slug: "manual", prompt: "version two", agent: { id: agentId, kind: "codex", name: "Reviewer" } },
        event: { dispatch_source: "manual" },
        context: { device: { worker_id: minted.worker_id }, user: { user_id: ann.user.id } },
      },
    });
    expect(JSON.stringify(claimed.body)).not.toMatch(/kiln_pat_|token/i);
    expect((await device.poll()).body).toEqual({ next_poll_seconds: expect.any(Number) });

    const beat = await device.heartbeat<{ continue: boolean }>(triggered.body.run_id);
    expect(beat.body).toMatchObject({ continue: true });
    const done = await device.complete(triggered.body.run_id, { output: "all good", duration_ms: 1200, exit_code: 0 });
    expect(done.body).toEqual({ ok: true, status: "completed" });
    const twice = await device.complete(triggered.body.run_id, { error: "late" });
    expect(twice.body).toEqual({ ok: true, status: "completed", idempotent: true });
    const late = await device.heartbeat(triggered.body.run_id);
    expect(late.status).toBe(409);
    expect(late.body.error).toBe("run_not_running");

    const after = (await A.get<WatcherView>(`/v1/orgs/${orgId}/watchers/${w.id}`)).body;
    expect(after.nextRunAt).toBe(w.nextRunAt);
    expect(after.lastFiredAt).toBe(claimed.body.payload.event.fired_at);
    const [run] = await runsOf(w.id);
    expect(run).toMatchObject({ id: triggered.body.run_id, status: "completed", output: "all good", durationMs: 1200, exitCode: 0, promptVersion: 2, dispatchSource: "manual" });
  });

  it("two triggers at the same instant give one run", async () => {
    const { minted, device } = await mintDevice(t, A, { platform: "macos" });
    await device.poll();
    const w = await createWatcher({ name: "Race", deviceWorkerId: minted.worker_id });
    const results = await Promise.all(Array.from({ length: 8 }, () => device.trigger<Trigger>(w.id)));
    expect(results.map((r) => r.status)).toEqual(Array(8).fill(200));
    expect(new Set(results.map((r) => r.body.run_id)).size).toBe(1);
    expect(results.filter((r) => !r.body.already_queued)).toHaveLength(1);
    expect(await runsOf(w.id)).toHaveLength(1);
  });

  it("answers every trigger, heartbeat and completion refusal with its status", async () => {
    const one = await mintDevice(t, A, { platform: "macos" });
    const two = await mintDevice(t, A, { platform: "macos" });
    await one.device.poll();
    await two.device.poll();
    const pinned = await createWatcher({ name: "Pinned", deviceWorkerId: one.minted.worker_id });
    const elsewhere = await two.device.trigger(pinned.id);
    expect(elsewhere.status).toBe(403);
    expect((await one.device.trigger("wat_0000000000000000")).status).toBe(404);
    expect((await one.device.trigger("../../x")).status).toBe(404);
    const ben = await signUp(t, { name: "Ben" });
    const B = api(t, ben.token);
    const benAgent = (await B.get<{ agents: Agent[] }>(`/v1/orgs/personal-${ben.user.id}/agents`)).body.agents[0]!;
    const foreign = (await B.post<WatcherView>(`/v1/orgs/personal-${ben.user.id}/watchers`, { name: "Ben's", schedule: "0 9 * * *", agentId: benAgent.id, prompt: "p" })).body;
    expect((await one.device.trigger(foreign.id)).status).toBe(403);

    const unbound = (await A.post<{ token: string }>("/v1/tokens", { name: "loose", scopes: ["device_worker:run"] })).body.token;
    const looseTrigger = await t.request(`/api/workers/me/watchers/${pinned.id}/trigger`, { method: "POST", headers: { authorization: `Bearer ${unbound}` } });
    expect(looseTrigger.status).toBe(403);

    const run = (await one.device.trigger<Trigger>(pinned.id)).body;
    expect((await one.device.heartbeat(run.run_id)).status).toBe(409); // pending: not claimed yet
    await one.device.poll();
    const stolen = await two.device.heartbeat(run.run_id);
    expect(stolen.status).toBe(403);
    expect((await two.device.complete(run.run_id, { output: "x" })).status).toBe(403);
    expect((await one.device.heartbeat(`run_${pinned.id.slice(4)}_000000000000`)).status).toBe(404);
    expect((await one.device.complete("nonsense", {})).status).toBe(404);
    expect(await declaredTooLarge(kiln.url, `/api/workers/me/runs/${run.run_id}/complete-watcher`, one.minted.access_token)).toBe(413);
    expect((await one.device.complete(run.run_id, { exit_code: 2, error: "boom" })).body).toEqual({ ok: true, status: "failed" });

    const noAgent = await createWatcher({ name: "Agentless", deviceWorkerId: one.minted.worker_id, agentId: (await A.post<Agent>(`/v1/orgs/${orgId}/agents`, { name: "tmp", kind: "claude" })).body.id });
    await A.del(`/v1/orgs/${orgId}/agents/${noAgent.agentId}`);
    const agentless = await one.device.trigger(noAgent.id);
    expect(agentless.status).toBe(409);
    expect(agentless.body.error).toBe("watcher_has_no_agent");
    expect((await A.del(`/v1/orgs/${orgId}/watchers/${pinned.id}`)).body.status).toBe("archived");
    const archived = await one.device.trigger(pinned.id);
    expect(archived.status).toBe(409);
    expect(archived.body.error).toBe("watcher_inactive");
  });

  it("a scheduled run whose lease expires is retried, and the old claim can no longer complete", async () => {
    const { minted, device } = await mintDevice(t, A, { platform: "macos" });
    await device.poll();
    // Every two seconds, with a one-second lease.
    const w = await createWatcher({ name: "Fast", schedule: "*/2 * * * * *", deviceWorkerId: minted.worker_id, leaseSeconds: 1 });
    const first = await until(() => device.poll<ClaimedRun>(), (r) => r.status === 200 && "run_id" in r.body, { timeoutMs: 20_000, everyMs: 200 });
    expect(first.body.payload.event.dispatch_source).toBe("scheduled");
    const timedOut = await until(() => runsOf(w.id), (runs) => runs.some((r) => r.id === first.body.run_id && r.status === "timeout"), { timeoutMs: 20_000, everyMs: 200 });
    const retry = timedOut.find((r) => r.id !== first.body.run_id && r.attempt === 2);
    expect(retry).toMatchObject({ status: "pending", firedAt: first.body.payload.event.fired_at });
    const stale = await device.complete(first.body.run_id, { output: "too late" });
    expect(stale.status).toBe(409);
    const second = await until(() => device.poll<ClaimedRun>(), (r) => "run_id" in r.body, { timeoutMs: 10_000, everyMs: 100 });
    expect(second.body.run_id).toBe(retry?.id);
    expect((await device.complete(second.body.run_id, { output: "ok" })).body).toEqual({ ok: true, status: "completed" });
    await A.del(`/v1/orgs/${orgId}/watchers/${w.id}`);
  });

  it("an unpinned watcher's scheduled run goes to its creator's most recently seen device", async () => {
    const older = await mintDevice(t, A, { platform: "macos" });
    const newer = await mintDevice(t, A, { platform: "macos" });
    await older.device.poll();
    await newer.device.poll();
    const w = await createWatcher({ name: "Anywhere", schedule: "*/2 * * * * *" });
    expect(w.deviceWorkerId).toBeNull();
    const claimed = await until(() => newer.device.poll<ClaimedRun>(), (r) => r.status === 200 && "run_id" in r.body, { timeoutMs: 20_000, everyMs: 200 });
    expect(claimed.body.payload).toMatchObject({ watcher: { id: w.id }, event: { dispatch_source: "scheduled" }, context: { device: { worker_id: newer.minted.worker_id } } });
    expect((await older.device.poll()).body).toEqual({ next_poll_seconds: expect.any(Number) });
    await A.del(`/v1/orgs/${orgId}/watchers/${w.id}`);
    // The watcher stays unpinned; its run records the device it went to.
    const view = (await A.get<WatcherView>(`/v1/orgs/${orgId}/watchers/${w.id}`)).body;
    expect(view.deviceWorkerId).toBeNull();
    expect((await runsOf(w.id)).find((r) => r.id === claimed.body.run_id)?.deviceWorkerId).toBe(newer.minted.worker_id);
  });

  it("an unpinned watcher whose creator has no device records each skipped slot, with the reason, on the watcher", async () => {
    const cy = await signUp(t, { name: "Cy" });
    const C = api(t, cy.token);
    const cyOrg = `personal-${cy.user.id}`;
    const cyAgent = (await C.get<{ agents: Agent[] }>(`/v1/orgs/${cyOrg}/agents`)).body.agents[0]!;
    const w = (await C.post<WatcherView>(`/v1/orgs/${cyOrg}/watchers`, { name: "Nowhere", schedule: "*/2 * * * * *", agentId: cyAgent.id, prompt: "p" })).body;
    expect(w.lastSkip).toBeNull();
    const skipped = await until(
      () => C.get<WatcherView>(`/v1/orgs/${cyOrg}/watchers/${w.id}`),
      (r) => r.body.lastSkip !== null,
      { timeoutMs: 20_000, everyMs: 200 },
    );
    expect(skipped.body.lastSkip).toEqual({ at: expect.any(String), reason: expect.stringContaining("No device to run on") });
    expect((await C.get<{ runs: WatcherRun[] }>(`/v1/orgs/${cyOrg}/watchers/${w.id}/runs`)).body.runs).toEqual([]);
    const listed = (await C.get<{ watchers: WatcherSummary[] }>(`/v1/orgs/${cyOrg}/watchers`)).body.watchers.find((x) => x.id === w.id);
    expect(listed?.lastSkip?.reason).toContain("No device to run on");
    await C.del(`/v1/orgs/${cyOrg}/watchers/${w.id}`);
  });

  it("a manual run whose lease expires is not retried", async () => {
    const { minted, device } = await mintDevice(t, A, { platform: "macos" });
    await device.poll();
    const w = await createWatcher({ name: "Once", deviceWorkerId: minted.worker_id, leaseSeconds: 1 });
    const run = (await device.trigger<Trigger>(w.id)).body;
    await device.poll();
    const runs = await until(() => runsOf(w.id), (r) => r[0]?.status === "timeout", { timeoutMs: 15_000, everyMs: 200 });
    expect(runs).toHaveLength(1);
    expect(runs[0]?.id).toBe(run.run_id);
  });
});
