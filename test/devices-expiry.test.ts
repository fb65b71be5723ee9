import { describe, expect, it } from "vitest";
import { api } from "./support/api.js";
import { deviceClient, mintDevice } from "./support/devices.js";
import { signUp, socketTransport } from "./support/http.js";
import { LIBFAKETIME, movableClock } from "./support/faketime.js";
import { seedDataDir, spawnKiln, tempDataDir, withStartups } from "./support/kiln.js";
import { until } from "./support/poll.js";

/**
 * Tokens with `expiresInDays` stop working once that day has passed, on their next request, also
 * when they sit in the gateway's token cache. The smallest expiry is a day, so a real Kiln runs
 * under a clock the test moves forward (libfaketime reads the offset from a file, at most once a
 * second); timers keep the real monotonic clock.
 */
describe.skipIf(!LIBFAKETIME)("expired tokens", () => {
  it("an expired device token and an expired api token get 401 on their next request; an unexpired one goes on", { timeout: withStartups(1) }, async () => {
    const dataDir = tempDataDir();
    seedDataDir(dataDir);
    const clock = movableClock();
    const kiln = await spawnKiln({ KILN_DATA_DIR: dataDir, TZ: "UTC", ...clock.env });
    try {
      const t = socketTransport(kiln.url);
      const user = await signUp(t);
      const A = api(t, user.token);
      const { minted, device } = await mintDevice(t, A, { platform: "macos" });
      expect((await device.poll()).status).toBe(200);

      const create = async (scopes: string[], expiresInDays: number) => {
        const res = await A.post<{ token: string; expiresAt: string }>("/v1/tokens", { name: `expires in ${expiresInDays}`, scopes, expiresInDays });
        expect(res.status).toBe(201);
        return res.body;
      };
      // A device token from a PAT with the scope: unbound, so the worker API answers 403 while it lives, 401 once it expired.
      const worker = await create(["device_worker:run"], 1);
      const looseDevice = deviceClient(t, worker.token, minted.worker_id);
      const apiShort = await create(["api"], 1);
      const apiLong = await create(["api"], 3);
      const apiUnused = await create(["api"], 1);
      const me = (token: string) => api(t, token).get("/v1/me");
      // The fake clock is re-read within a second: wait until Kiln's (its responses' Date header) has passed `ms`.
      const kilnClockPast = (ms: number) =>
        until(
          async () => Date.parse((await t.request("/healthz", { method: "GET" })).headers.get("date") ?? ""),
          (now) => now > ms,
          { timeoutMs: 10_000, everyMs: 100 },
        );
      // Each is used (and so cached) before its expiry.
      expect((await looseDevice.poll()).body.error).toBe("device_not_bound");
      expect((await me(apiShort.token)).status).toBe(200);
      expect((await me(apiLong.token)).status).toBe(200);

      // Five minutes before the expiry: still good, and cached (the cache keeps a token 10 minutes).
      clock.set(86_400 - 300);
      await kilnClockPast(Date.now() + 86_000_000);
      expect((await me(apiShort.token)).status).toBe(200);
      expect((await looseDevice.poll()).body.error).toBe("device_not_bound");
      // A minute after it, well within the cache's 10 minutes: refused on the next request, from the cache.
      clock.set(86_400 + 60);
      await kilnClockPast(Date.now() + 86_400_000);
      const expired = await me(apiShort.token);
      expect(expired.status).toBe(401);
      expect(expired.body).toEqual({ error: "unauthorized", message: expect.any(String) });
      const polled = await looseDevice.poll();
      expect(polled.status).toBe(401);
      expect(polled.body.error).toBe("unauthorized");
      expect((await me(apiLong.token)).status).toBe(200);
      // A minted device token has no expiry.
      expect((await device.poll()).status).toBe(200);
      // One never used before its expiry (not cached) is refused from the database's row.
      expect((await me(apiUnused.token)).status).toBe(401);
    } finally {
      await kiln.kill();
    }
  });
});
