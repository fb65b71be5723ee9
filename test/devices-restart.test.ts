import { describe, expect, it } from "vitest";
import type { Agent, ClaimedRun, WatcherRun, WatcherView } from "../shared/schemas/watcher.js";
import { api } from "./support/api.js";
import { deviceClient, mintDevice } from "./support/devices.js";
import { signUp, socketTransport } from "./support/http.js";
import { seedDataDir, spawnKiln, tempDataDir, withStartups } from "./support/kiln.js";

describe("device runs across kill -9", () => {
  // Two Kiln starts: their budget, not the assertions, is what needs the time under load.
  it("a claimed run and a pending run are neither lost nor duplicated", { timeout: withStartups(2) }, async () => {
    const dataDir = tempDataDir();
    seedDataDir(dataDir);
    const first = await spawnKiln({ KILN_DATA_DIR: dataDir });
    const t1 = socketTransport(first.url);
    const user = await signUp(t1);
    const orgId = `personal-${user.user.id}`;
    const A = api(t1, user.token);
    const { minted, device } = await mintDevice(t1, A, { platform: "macos" });
    await device.poll();
    const agentId = (await A.get<{ agents: Agent[] }>(`/v1/orgs/${orgId}/agents`)).body.agents[0]!.id;
    const make = async (name: string) =>
      (await A.post<WatcherView>(`/v1/orgs/${orgId}/watchers`, { name, schedule: "0 9 * * *", agentId, prompt: name, deviceWorkerId: minted.worker_id, leaseSeconds: 600 })).body;
    const claimedWatcher = await make("Claimed");
    const pendingWatcher = await make("Pending");
    const claimedId = (await device.trigger<{ run_id: string }>(claimedWatcher.id)).body.run_id;
    const claimed = await device.poll<ClaimedRun>();
    expect(claimed.body.run_id).toBe(claimedId);
    const pendingId = (await device.trigger<{ run_id: string }>(pendingWatcher.id)).body.run_id;
    await first.kill("SIGKILL");

    const second = await spawnKiln({ KILN_DATA_DIR: dataDir });
    try {
      const t2 = socketTransport(second.url);
      const B = api(t2, user.token);
      const D = deviceClient(t2, minted.access_token, minted.worker_id);
      // The claimed run is still this device's: its heartbeat extends the lease.
      expect((await D.heartbeat<{ continue: boolean }>(claimedId)).body).toMatchObject({ continue: true });
      // The pending run is handed over exactly once, on the first poll after the restart (the new
      // process's device board is empty, so that poll reaches the DeviceActor and its saved offer);
      // the claimed one is never handed over again.
      const next = await D.poll<ClaimedRun>();
      expect(next.status).toBe(200);
      expect(next.body.run_id).toBe(pendingId);
      for (let i = 0; i < 3; i++) expect((await D.poll()).body).toEqual({ next_poll_seconds: expect.any(Number) });
      expect((await D.complete(claimedId, { output: "done" })).body).toEqual({ ok: true, status: "completed" });
      expect((await D.complete(pendingId, { output: "done" })).body).toEqual({ ok: true, status: "completed" });
      for (const w of [claimedWatcher, pendingWatcher]) {
        const runs = (await B.get<{ runs: WatcherRun[] }>(`/v1/orgs/${orgId}/watchers/${w.id}/runs`)).body.runs;
        expect(runs.map((r) => r.status)).toEqual(["completed"]);
      }
    } finally {
      await second.kill();
    }
  });
});
