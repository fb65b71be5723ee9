import { describe, expect, it } from "vitest";
import type { Agent, ClaimedRun, WatcherView } from "../shared/schemas/watcher.js";
import { api } from "./support/api.js";
import { mintDevice } from "./support/devices.js";
import { signUp, socketTransport } from "./support/http.js";
import { LIBFAKETIME, movableClock } from "./support/faketime.js";
import { seedDataDir, spawnKiln, tempDataDir, withStartups } from "./support/kiln.js";
import { until } from "./support/poll.js";

/**
 * A real Kiln whose clock (libfaketime, Debian package `faketime`) reads ten minutes before
 * Europe/Berlin moves from CET to CEST (2027-03-28 01:00 UTC) while the test signs up, and is then
 * moved to 8 s before it, just before the watcher is created. The clock runs at normal speed:
 * timers wait real time, so the watcher's timer is armed after the move.
 * 03:00 in Berlin that day is 01:00 UTC, the instant of the switch; a fixed +01:00 would say 02:00.
 */
describe.skipIf(!LIBFAKETIME)("a daily watcher across a DST change", () => {
  it("fires at 03:00 Berlin time on the day of the switch, and schedules 03:00 CEST the next day", { timeout: withStartups(1, 120_000) }, async () => {
    const dataDir = tempDataDir();
    seedDataDir(dataDir);
    const clock = movableClock();
    clock.set((Date.parse("2027-03-28T00:50:00Z") - Date.now()) / 1000);
    const kiln = await spawnKiln({ KILN_DATA_DIR: dataDir, TZ: "UTC", ...clock.env });
    try {
      const t = socketTransport(kiln.url);
      const user = await signUp(t);
      const orgId = `personal-${user.user.id}`;
      const A = api(t, user.token);
      const { minted, device } = await mintDevice(t, A, { platform: "macos" });
      await device.poll({ timezone: "Europe/Berlin" });
      const agentId = (await A.get<{ agents: Agent[] }>(`/v1/orgs/${orgId}/agents`)).body.agents[0]!.id;
      await clock.setNow("2027-03-28T00:59:52Z");
      const created = await A.post<WatcherView>(`/v1/orgs/${orgId}/watchers`, {
        name: "Berlin morning",
        schedule: "0 3 * * *",
        timezone: "Europe/Berlin",
        agentId,
        prompt: "Good morning",
        deviceWorkerId: minted.worker_id,
      });
      expect(created.status).toBe(201);
      expect(created.body.nextRunAt).toBe("2027-03-28T01:00:00.000Z");

      const claimed = await until(() => device.poll<ClaimedRun>(), (r) => r.status === 200 && "run_id" in r.body && r.body.payload.watcher.id === created.body.id, {
        timeoutMs: 60_000,
        everyMs: 250,
      });
      expect(claimed.body.payload.event).toMatchObject({ fired_at: "2027-03-28T01:00:00.000Z", dispatch_source: "scheduled" });
      expect((await device.heartbeat<{ continue: boolean }>(claimed.body.run_id)).body.continue).toBe(true);
      expect((await device.complete(claimed.body.run_id, { output: "ok" })).body).toEqual({ ok: true, status: "completed" });

      const after = (await A.get<WatcherView>(`/v1/orgs/${orgId}/watchers/${created.body.id}`)).body;
      expect(after.lastFiredAt).toBe("2027-03-28T01:00:00.000Z");
      expect(after.nextRunAt).toBe("2027-03-29T01:00:00.000Z");
    } finally {
      await kiln.kill();
    }
  });
});
