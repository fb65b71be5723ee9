import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Device } from "../shared/schemas/device.js";
import type { Agent, ClaimedRun, WatcherRun, WatcherSummary, WatcherView } from "../shared/schemas/watcher.js";
import { api } from "./support/api.js";
import { mintDevice } from "./support/devices.js";
import { signUp, socketTransport, type Transport } from "./support/http.js";
import { startTestKiln, type TestKiln } from "./support/kiln.js";

type Trigger = { run_id: string };

describe("default provisioning and device deletion", () => {
  let kiln: TestKiln;
  let t: Transport;

  beforeAll(async () => {
    kiln = await startTestKiln();
    t = socketTransport(kiln.url);
  });
  afterAll(async () => {
    await kiln?.stop();
  });

  async function newUser() {
    const user = await signUp(t);
    const A = api(t, user.token);
    const orgId = `personal-${user.user.id}`;
    const watchers = async () => (await A.get<{ watchers: WatcherSummary[] }>(`/v1/orgs/${orgId}/watchers`)).body.watchers;
    const agents = async () => (await A.get<{ agents: Agent[] }>(`/v1/orgs/${orgId}/agents`)).body.agents;
    return { user, A, orgId, watchers, agents };
  }

  it("deleting a device with a pinned watcher keeps the watcher unpinned, cancels its runs and revokes its tokens; the next new device re-pins it", async () => {
    const { A, orgId, watchers } = await newUser();
    const first = await mintDevice(t, A, { platform: "macos" });
    await first.device.poll();
    const [daily] = await watchers();
    expect(daily).toMatchObject({ name: "Daily check-in", deviceWorkerId: first.minted.worker_id, timezone: "UTC" });
    const claimedRun = (await first.device.trigger<Trigger>(daily!.id)).body.run_id;
    const claimed = await first.device.poll<ClaimedRun>();
    expect(claimed.body.run_id).toBe(claimedRun);
    const own = (await A.post<WatcherView>(`/v1/orgs/${orgId}/watchers`, { name: "Mine", schedule: "0 8 * * 1", agentId: daily!.agentId, prompt: "p", deviceWorkerId: first.minted.worker_id })).body;
    const pendingRun = (await first.device.trigger<Trigger>(own.id)).body.run_id;

    expect((await A.del(`/v1/devices/${first.minted.worker_id}`)).status).toBe(204);
    expect((await first.device.poll()).status).toBe(401);
    expect((await A.get<{ devices: Device[] }>("/v1/devices")).body.devices.map((d) => d.id)).not.toContain(first.minted.worker_id);
    const after = await watchers();
    expect(after.map((w) => [w.id, w.status, w.deviceWorkerId])).toEqual([
      [daily!.id, "active", null],
      [own.id, "active", null],
    ]);
    const runsOf = async (id: string) => (await A.get<{ runs: WatcherRun[] }>(`/v1/orgs/${orgId}/watchers/${id}/runs`)).body.runs;
    expect((await runsOf(daily!.id)).find((r) => r.id === claimedRun)?.status).toBe("cancelled");
    expect((await runsOf(own.id)).find((r) => r.id === pendingRun)?.status).toBe("cancelled");
    expect((await A.del(`/v1/devices/${first.minted.worker_id}`)).status).toBe(404);

    const second = await mintDevice(t, A, { platform: "macos" });
    await second.device.poll({ timezone: "Asia/Tokyo" });
    const repinned = await watchers();
    expect(repinned.find((w) => w.id === daily!.id)?.deviceWorkerId).toBe(second.minted.worker_id);
    // Only the default follows a new device; the other watcher stays unpinned, and no second default appears.
    expect(repinned.find((w) => w.id === own.id)?.deviceWorkerId).toBeNull();
    expect(repinned.filter((w) => w.name === "Daily check-in")).toHaveLength(1);
  });

  it("a deleted default agent and an archived default watcher never come back", async () => {
    const { A, orgId, watchers, agents } = await newUser();
    const [defaultAgent] = await agents();
    expect(defaultAgent).toMatchObject({ name: "Default agent" });
    expect((await A.del(`/v1/orgs/${orgId}/agents/${defaultAgent!.id}`)).status).toBe(204);
    expect(await agents()).toEqual([]);

    const first = await mintDevice(t, A, { platform: "macos" });
    await first.device.poll();
    const [daily] = await watchers();
    expect(daily).toMatchObject({ name: "Daily check-in", agentId: null });
    expect((await A.del(`/v1/orgs/${orgId}/watchers/${daily!.id}`)).status).toBe(200);

    const second = await mintDevice(t, A, { platform: "ios" });
    await second.device.poll();
    expect((await first.device.poll()).status).toBe(200);
    expect((await watchers()).map((w) => [w.id, w.status])).toEqual([[daily!.id, "archived"]]);
    expect(await agents()).toEqual([]);
  });

  it("concurrent first polls of several devices create one default watcher", async () => {
    const { A, watchers } = await newUser();
    const devices = await Promise.all(Array.from({ length: 4 }, () => mintDevice(t, A, { platform: "macos" })));
    const polls = await Promise.all(devices.map((d) => d.device.poll()));
    expect(polls.map((p) => p.status)).toEqual([200, 200, 200, 200]);
    const all = await watchers();
    expect(all).toHaveLength(1);
    expect(devices.map((d) => d.minted.worker_id)).toContain(all[0]!.deviceWorkerId);
  });
});
