import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Device } from "../shared/schemas/device.js";
import type { Agent, WatcherSummary } from "../shared/schemas/watcher.js";
import { api } from "./support/api.js";
import { databaseBackends } from "./support/db.js";
import { deviceClient, mintDevice } from "./support/devices.js";
import { signUp, socketTransport, type SignedUp, type Transport } from "./support/http.js";
import { startTestKiln, type TestKiln } from "./support/kiln.js";
import { until } from "./support/poll.js";

const backends = await databaseBackends();

describe.each(backends)("device registration and polling (%s)", (backend) => {
  let kiln: TestKiln;
  let t: Transport;
  let ann: SignedUp;
  let A: ReturnType<typeof api>;
  let orgId: string;

  beforeAll(async () => {
    kiln = await startTestKiln({ backend });
    t = socketTransport(kiln.url);
    ann = await signUp(t, { name: "Ann" });
    A = api(t, ann.token);
    orgId = `personal-${ann.user.id}`;
  });
  afterAll(async () => {
    await kiln?.stop();
  });

  it("mints a bound token, registers the device on its first poll and answers re-polls idly", async () => {
    const { minted, device } = await mintDevice(t, A, { platform: "macos", label: "Ann's Mac" });
    expect(minted).toMatchObject({ platform: "macos", worker_id: expect.stringMatching(/^dev_/), access_token: expect.stringMatching(/^kiln_pat_/) });
    let listed = (await A.get<{ devices: Device[] }>("/v1/devices")).body.devices.find((d) => d.id === minted.worker_id);
    expect(listed).toMatchObject({ registeredAt: null, online: false, label: "Ann's Mac", platform: "macos" });

    const first = await device.poll({ platform: "macos", app_version: "1.0.0", timezone: "Europe/Berlin" });
    expect(first.status).toBe(200);
    expect(first.body).toEqual({ next_poll_seconds: expect.any(Number) });
    const again = await device.poll({ platform: "macos", app_version: "1.0.0" });
    expect(again.body).toEqual(first.body);
    listed = (await A.get<{ devices: Device[] }>("/v1/devices")).body.devices.find((d) => d.id === minted.worker_id);
    expect(listed).toMatchObject({ registeredAt: expect.any(String), online: true, appVersion: "1.0.0" });
    const third = await device.poll({ app_version: "1.1.0", label: "Work Mac" });
    expect(third.status).toBe(200);
    listed = (await A.get<{ devices: Device[] }>("/v1/devices")).body.devices.find((d) => d.id === minted.worker_id);
    expect(listed).toMatchObject({ appVersion: "1.1.0", label: "Work Mac", registeredAt: first.status === 200 ? expect.any(String) : null });

    // The first device's registration created the default agent's "Daily check-in", pinned to it, in its timezone.
    const watchers = (await A.get<{ watchers: WatcherSummary[] }>(`/v1/orgs/${orgId}/watchers`)).body.watchers;
    expect(watchers).toHaveLength(1);
    expect(watchers[0]).toMatchObject({ name: "Daily check-in", schedule: "0 9 * * *", timezone: "Europe/Berlin", deviceWorkerId: minted.worker_id, status: "active" });
    const agents = (await A.get<{ agents: Agent[] }>(`/v1/orgs/${orgId}/agents`)).body.agents;
    expect(agents.map((a) => a.id)).toContain(watchers[0]!.agentId);
    // 09:00 in Berlin, whatever the offset of the day.
    const next = new Date(watchers[0]!.nextRunAt!);
    expect(new Intl.DateTimeFormat("en-GB", { timeZone: "Europe/Berlin", hour: "2-digit", minute: "2-digit" }).format(next)).toBe("09:00");
  });

  it("locks the platform and the worker id, and drops capabilities the platform may not have", async () => {
    const { minted, device } = await mintDevice(t, A, { platform: "chrome-extension" });
    const wrongPlatform = await device.poll({ platform: "macos" });
    expect(wrongPlatform.status).toBe(403);
    expect(wrongPlatform.body.error).toBe("platform_mismatch");
    const other = deviceClient(t, minted.access_token, "dev_0000000000000000");
    const mismatch = await other.poll();
    expect(mismatch.status).toBe(403);
    expect(mismatch.body.error).toBe("worker_id_mismatch");
    const ok = await device.poll({ platform: "chrome-extension", capabilities: { "browser.tabs": true, "browser.dom": false, "os.shell": true, "ios.camera": true } });
    expect(ok.status).toBe(200);
    const listed = (await A.get<{ devices: Device[] }>("/v1/devices")).body.devices.find((d) => d.id === minted.worker_id);
    expect(listed?.capabilities).toEqual({ "browser.tabs": true, "browser.dom": false });

    const mac = await mintDevice(t, A, { platform: "macos" });
    await mac.device.poll({ capabilities: { "os.shell": true, "os.files": true, local_directory: true, "browser.x": true, "ios.camera": true, "os.kernel": true } });
    const macListed = (await A.get<{ devices: Device[] }>("/v1/devices")).body.devices.find((d) => d.id === mac.minted.worker_id);
    expect(macListed?.capabilities).toEqual({ "os.shell": true, "os.files": true, local_directory: true, "browser.x": true });
  });

  it("answers 401 to unknown, revoked and session tokens and 403 to tokens without the scope or a device", async () => {
    const { minted, device } = await mintDevice(t, A, { platform: "ios" });
    expect((await device.poll()).status).toBe(200);
    expect((await deviceClient(t, "kiln_pat_unknown", minted.worker_id).poll()).status).toBe(401);
    expect((await deviceClient(t, ann.token, minted.worker_id).poll()).status).toBe(401);
    const apiOnly = (await A.post<{ token: string }>("/v1/tokens", { name: "cli", scopes: ["api"] })).body.token;
    const noScope = await deviceClient(t, apiOnly, minted.worker_id).poll();
    expect(noScope.status).toBe(403);
    expect(noScope.body.error).toBe("insufficient_scope");
    const unbound = (await A.post<{ token: string }>("/v1/tokens", { name: "loose", scopes: ["device_worker:run"] })).body.token;
    const loose = await deviceClient(t, unbound, minted.worker_id).poll();
    expect(loose.status).toBe(403);
    expect(loose.body.error).toBe("device_not_bound");
    const token = (await A.get<{ tokens: { id: string; deviceId: string | null }[] }>("/v1/tokens")).body.tokens.find((x) => x.deviceId === minted.worker_id);
    expect((await A.del(`/v1/tokens/${token?.id}`)).status).toBe(204);
    const revoked = await device.poll();
    expect(revoked.status).toBe(401);
    expect(revoked.body).toEqual({ error: "unauthorized", message: expect.any(String) });
  });

  it("relabels devices, refuses bad bodies and other users' devices", async () => {
    const { minted } = await mintDevice(t, A, { platform: "macos" });
    const relabeled = await A.patch<Device>(`/v1/devices/${minted.worker_id}`, { label: "Desk" });
    expect(relabeled.status).toBe(200);
    expect(relabeled.body.label).toBe("Desk");
    expect((await A.patch(`/v1/devices/${minted.worker_id}`, { label: "a\u0000b" })).status).toBe(400);
    expect((await A.post("/v1/devices/mint-token", { platform: "windows" })).status).toBe(400);
    expect((await A.post("/v1/devices/mint-token", { platform: "macos", orgId: "personal-nobody" })).status).toBe(403);
    const ben = api(t, (await signUp(t, { name: "Ben" })).token);
    expect((await ben.patch(`/v1/devices/${minted.worker_id}`, { label: "mine" })).status).toBe(404);
    expect((await ben.del(`/v1/devices/${minted.worker_id}`)).status).toBe(404);
    expect((await A.del("/v1/devices/../../etc")).status).toBe(404);
  });

  it("an idle poll writes nothing to the app database", async () => {
    const { device } = await mintDevice(t, A, { platform: "macos" });
    await device.poll({ app_version: "2.0" });
    // Every writing transaction takes a transaction id; reading the counter takes one itself.
    const xid = async () => {
      const res = (await kiln.db.db.execute(sql`select pg_current_xact_id()::text::bigint as x`)) as unknown as { rows?: { x: string }[] };
      return Number((res.rows ?? (res as unknown as { x: string }[]))[0]?.x);
    };
    const before = await xid();
    for (let i = 0; i < 20; i++) expect((await device.poll({ app_version: "2.0" })).status).toBe(200);
    expect(await xid()).toBe(before + 1);
    // A poll that changes something does write.
    await device.poll({ app_version: "2.1" });
    expect(await xid()).toBeGreaterThan(before + 2);
  });
});
