import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { boardEntry, deviceSnapshot, initialDeviceState } from "../actors/device/state.js";
import type { Device } from "../shared/schemas/device.js";
import type { Agent, ClaimedRun, WatcherSummary } from "../shared/schemas/watcher.js";
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

  // Idle polls of a registered device are answered from the gateway's device board, without its
  // DeviceActor; these check that nothing a poll must see is lost on the way.
  describe("polls answered from memory", () => {
    const listed = async (id: string) => (await A.get<{ devices: Device[] }>("/v1/devices")).body.devices.find((d) => d.id === id);

    it("an offer made while the device polls idly is claimed on its very next poll", async () => {
      const { minted, device } = await mintDevice(t, A, { platform: "macos" });
      const body = { app_version: "3.0", capabilities: { "os.shell": true, "ios.camera": true }, label: "Idle Mac" };
      for (let i = 0; i < 3; i++) expect((await device.poll(body)).body).toEqual({ next_poll_seconds: expect.any(Number) });
      const agentId = (await A.get<{ agents: Agent[] }>(`/v1/orgs/${orgId}/agents`)).body.agents[0]!.id;
      const watcher = await A.post<WatcherSummary>(`/v1/orgs/${orgId}/watchers`, {
        name: "Idle offer",
        schedule: "0 9 * * *",
        timezone: "UTC",
        agentId,
        prompt: "Look around",
        deviceWorkerId: minted.worker_id,
      });
      expect(watcher.status).toBe(201);
      for (let round = 0; round < 2; round++) {
        const triggered = await device.trigger<{ run_id: string }>(watcher.body.id);
        expect(triggered.status).toBe(200);
        const claimed = await device.poll<ClaimedRun>(body);
        expect(claimed.body.run_id).toBe(triggered.body.run_id);
        expect((await device.poll(body)).body).toEqual({ next_poll_seconds: expect.any(Number) });
        expect((await device.complete(claimed.body.run_id, { output: "done" })).body).toEqual({ ok: true, status: "completed" });
      }
    });

    it("records a changed app version, label, capabilities or timezone on the poll that reports it", async () => {
      const { minted, device } = await mintDevice(t, A, { platform: "macos", label: "Before" });
      const body = { app_version: "1.0", capabilities: { "os.shell": true }, label: "Before" };
      for (let i = 0; i < 3; i++) await device.poll(body);
      expect(await listed(minted.worker_id)).toMatchObject({ appVersion: "1.0", label: "Before", capabilities: { "os.shell": true } });
      await device.poll({ ...body, app_version: "1.1" });
      expect(await listed(minted.worker_id)).toMatchObject({ appVersion: "1.1", label: "Before" });
      await device.poll({ ...body, app_version: "1.1", label: "After" });
      expect(await listed(minted.worker_id)).toMatchObject({ appVersion: "1.1", label: "After" });
      await device.poll({ app_version: "1.1", label: "After", capabilities: { "os.shell": true, "os.files": true } });
      expect((await listed(minted.worker_id))?.capabilities).toEqual({ "os.shell": true, "os.files": true });
      // Leaving fields out changes nothing; a poll that sends them again unchanged is idle.
      await device.poll();
      expect(await listed(minted.worker_id)).toMatchObject({ appVersion: "1.1", label: "After", capabilities: { "os.shell": true, "os.files": true } });
      // A relabel through the API is kept until the app reports another label.
      expect((await A.patch(`/v1/devices/${minted.worker_id}`, { label: "Renamed" })).status).toBe(200);
      await device.poll({ app_version: "1.1" });
      expect((await listed(minted.worker_id))?.label).toBe("Renamed");
      await device.poll({ app_version: "1.1", label: "After" });
      expect((await listed(minted.worker_id))?.label).toBe("After");
    });

    it("parallel polls with changes and a trigger among them: all 200, the run handed over exactly once, the last change kept", async () => {
      const { minted, device } = await mintDevice(t, A, { platform: "macos" });
      await device.poll({ app_version: "5.0" });
      const agentId = (await A.get<{ agents: Agent[] }>(`/v1/orgs/${orgId}/agents`)).body.agents[0]!.id;
      const watcher = (
        await A.post<WatcherSummary>(`/v1/orgs/${orgId}/watchers`, { name: "Parallel", schedule: "0 9 * * *", timezone: "UTC", agentId, prompt: "p", deviceWorkerId: minted.worker_id })
      ).body;
      const polls = Array.from({ length: 24 }, (_, i) => device.poll<Partial<ClaimedRun>>({ app_version: i % 2 ? "5.0" : "5.1" }));
      const [triggered, ...answers] = await Promise.all([device.trigger<{ run_id: string }>(watcher.id), ...polls]);
      expect(triggered.status).toBe(200);
      expect(answers.map((a) => a.status)).toEqual(answers.map(() => 200));
      const handed = answers.filter((a) => a.body.run_id !== undefined).map((a) => a.body.run_id);
      // Whether or not a poll of the burst came after the offer, the run is handed over exactly once.
      if (handed.length === 0) handed.push((await device.poll<ClaimedRun>({ app_version: "5.0" })).body.run_id);
      expect(handed).toEqual([triggered.body.run_id]);
      expect((await device.poll({ app_version: "5.0" })).body).toEqual({ next_poll_seconds: expect.any(Number) });
      expect((await listed(minted.worker_id))?.appVersion).toBe("5.0");
      expect((await device.complete(triggered.body.run_id, { output: "ok" })).status).toBe(200);
    });

    it("a deleted device's token gets 401 on its next poll, after idle polls", async () => {
      const { minted, device } = await mintDevice(t, A, { platform: "macos" });
      for (let i = 0; i < 3; i++) expect((await device.poll()).status).toBe(200);
      expect((await A.del(`/v1/devices/${minted.worker_id}`)).status).toBe(204);
      const after = await device.poll();
      expect(after.status).toBe(401);
      expect(after.body.error).toBe("unauthorized");
      expect(await listed(minted.worker_id)).toBeUndefined();
    });

    it("a revoked device token gets 401 on the next poll, after idle polls", async () => {
      const { minted, device } = await mintDevice(t, A, { platform: "macos" });
      for (let i = 0; i < 3; i++) expect((await device.poll()).status).toBe(200);
      const token = (await A.get<{ tokens: { id: string; deviceId: string | null }[] }>("/v1/tokens")).body.tokens.find((x) => x.deviceId === minted.worker_id);
      expect((await A.del(`/v1/tokens/${token?.id}`)).status).toBe(204);
      expect((await device.poll()).status).toBe(401);
    });
  });

  it("an idle poll writes nothing to the app database", async () => {
    const { minted, device } = await mintDevice(t, A, { platform: "macos" });
    await device.poll({ app_version: "2.0" });
    const rows = async <R>(q: ReturnType<typeof sql>) => {
      const res = (await kiln.db.db.execute(q)) as unknown as { rows?: R[] };
      return res.rows ?? (res as unknown as R[]);
    };
    // The first poll's last_seen_at is written within a second, with other devices' (one statement).
    await until(
      () => rows<{ seen: unknown }>(sql`select last_seen_at as seen from device_index where device_id = ${minted.worker_id}`),
      (r) => r[0]?.seen != null,
    );
    // Every row a transaction inserts or updates carries its transaction id (xmin). The id counter is
    // the whole PostgreSQL cluster's, which other tests write to, so the rows of this Kiln's own
    // database are what is checked: which were written after a given id.
    const xid = async () => Number((await rows<{ x: string }>(sql`select pg_current_xact_id()::text::bigint as x`))[0]?.x) % 2 ** 32;
    const tables = await rows<{ s: string; t: string }>(
      sql`select table_schema as s, table_name as t from information_schema.tables where table_type = 'BASE TABLE' and table_schema not in ('pg_catalog', 'information_schema')`,
    );
    expect(tables.map((x) => x.t)).toContain("device_index");
    const written = async (since: number) => {
      const found: string[] = [];
      for (const { s: schema, t: table } of tables) {
        const n = Number((await rows<{ n: string }>(sql`select count(*) as n from ${sql.identifier(schema)}.${sql.identifier(table)} where xmin::text::bigint > ${since}`))[0]?.n);
        if (n > 0) found.push(`${table}: ${n}`);
      }
      return found;
    };
    // A second device, minted now and first polled after the idle polls: once its last_seen_at is
    // in, any write the idle polls queued (they are written a second at a time) is in too.
    const { minted: probe, device: probeDevice } = await mintDevice(t, A, { platform: "macos" });
    const beforeIdle = await xid();
    for (let i = 0; i < 20; i++) expect((await device.poll({ app_version: "2.0" })).status).toBe(200);
    await probeDevice.poll();
    await until(
      () => rows<{ seen: unknown }>(sql`select last_seen_at as seen from device_index where device_id = ${probe.worker_id}`),
      (r) => r[0]?.seen != null,
    );
    // Only the probe's own row changed (its registration, its last_seen_at).
    const changed = await rows<{ id: string }>(sql`select device_id as id from device_index where xmin::text::bigint > ${beforeIdle}`);
    expect(changed.map((r) => r.id)).toEqual([probe.worker_id]);
    expect(await written(beforeIdle)).toEqual(["device_index: 1"]);
    // A poll that changes something does write.
    const beforeChange = await xid();
    await device.poll({ app_version: "2.1" });
    expect(await written(beforeChange)).toEqual(["device_index: 1"]);
  });
});

describe("the device board's entries", () => {
  it("hold plain copies, not the DeviceActor's state: the board outlives the actor, which must be free to go when it sleeps", () => {
    const state = { ...initialDeviceState({ orgId: "o", deviceId: "dev_0000000000000000", userId: "u", platform: "macos", label: null }), registeredAt: "2026-01-01T00:00:00.000Z", announced: true };
    state.capabilities = { "os.shell": true };
    const entry = boardEntry(state);
    expect(entry?.capabilities).toEqual({ "os.shell": true });
    expect(entry?.capabilities).not.toBe(state.capabilities);
    expect(deviceSnapshot(state).capabilities).not.toBe(state.capabilities);
  });
});
