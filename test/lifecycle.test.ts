import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { bearer, jsonInit, signUp, socketTransport, uniqueEmail } from "./support/http.js";
import { seedDataDir, spawnKiln, tempDataDir, withStartups } from "./support/kiln.js";
import { until } from "./support/poll.js";

describe("a Kiln process and its data directory", () => {
  it("keeps users, sessions and organizations across a restart", async () => {
    const dataDir = tempDataDir();
    seedDataDir(dataDir);
    const first = await spawnKiln({ KILN_DATA_DIR: dataDir });
    const u = await signUp(socketTransport(first.url), { name: "Rhea" });
    expect(await first.kill("SIGTERM")).toBe(0);
    expect(existsSync(join(dataDir, "kiln.lock"))).toBe(false);

    const second = await spawnKiln({ KILN_DATA_DIR: dataDir });
    try {
      const t = socketTransport(second.url);
      const signIn = await t.request("/api/auth/sign-in/email", jsonInit("POST", { email: u.user.email, password: u.password }));
      expect(signIn.status).toBe(200);
      const me = await t.request("/v1/me", { headers: bearer(u.token) });
      expect(me.status).toBe(200);
      const body = (await me.json()) as { organizations: { id: string; role: string }[] };
      expect(body.organizations).toEqual([expect.objectContaining({ id: `personal-${u.user.id}`, role: "owner" })]);
    } finally {
      await second.kill();
    }
  }, withStartups(2));

  it("stops cleanly on SIGTERM to `npm start`, releasing its data directory", async () => {
    const dataDir = tempDataDir();
    seedDataDir(dataDir);
    const kiln = await spawnKiln({ KILN_DATA_DIR: dataDir, LOG_LEVEL: "info" }, { viaNpmStart: true });
    expect((await socketTransport(kiln.url).request("/healthz")).status).toBe(200);
    await kiln.kill("SIGTERM");
    // npm's own exit says nothing about its child; the released lock and the log line do.
    await until(async () => existsSync(join(dataDir, "kiln.lock")), (held) => !held, { timeoutMs: 10_000 });
    expect(kiln.output()).toContain('"msg":"shutting down"');
  }, withStartups(1));

  it("opens cleanly after kill -9 in the middle of traffic, keeping every acknowledged sign-up", async () => {
    const dataDir = tempDataDir();
    seedDataDir(dataDir);
    const first = await spawnKiln({ KILN_DATA_DIR: dataDir });
    const t = socketTransport(first.url);
    const acknowledged: { email: string; id: string }[] = [];
    let stop = false;
    const traffic = (async () => {
      while (!stop) {
        const email = uniqueEmail("k9");
        const res = await t
          .request("/api/auth/sign-up/email", jsonInit("POST", { email, password: "pw-kill-nine", name: "K" }))
          .catch(() => undefined);
        if (res?.status === 200) acknowledged.push({ email, id: ((await res.json()) as { user: { id: string } }).user.id });
      }
    })();
    // Killed once sign-ups are being acknowledged, so some are certainly in flight at the kill.
    await until(async () => acknowledged.length, (n) => n >= 3, { timeoutMs: 30_000, everyMs: 10 });
    await first.kill("SIGKILL");
    stop = true;
    await traffic;
    expect(acknowledged.length).toBeGreaterThan(0);

    const second = await spawnKiln({ KILN_DATA_DIR: dataDir });
    try {
      const t2 = socketTransport(second.url);
      expect((await t2.request("/healthz")).status).toBe(200);
      for (const u of acknowledged) {
        const res = await t2.request("/api/auth/sign-in/email", jsonInit("POST", { email: u.email, password: "pw-kill-nine" }));
        expect(res.status).toBe(200);
        const token = ((await res.json()) as { token: string }).token;
        const me = (await (await t2.request("/v1/me", { headers: bearer(token) })).json()) as { organizations: { id: string }[] };
        expect(me.organizations.map((o) => o.id)).toEqual([`personal-${u.id}`]);
      }
    } finally {
      await second.kill();
    }
  }, withStartups(2));

  it("refuses a second Kiln on the same data directory, leaving the first untouched", async () => {
    const dataDir = tempDataDir();
    seedDataDir(dataDir);
    const first = await spawnKiln({ KILN_DATA_DIR: dataDir });
    try {
      const second = await spawnKiln({ KILN_DATA_DIR: dataDir }, { expectReady: false });
      expect(await second.exited).toBe(3);
      expect(second.output()).toContain(`Another Kiln (pid ${first.proc.pid}) is already using the data directory`);
      expect((await fetch(`${first.url}/healthz`)).status).toBe(200);
      const u = await signUp(socketTransport(first.url));
      expect(u.token).toBeTruthy();
    } finally {
      await first.kill();
    }
  }, withStartups(2));
});
