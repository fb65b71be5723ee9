import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createKilnClient } from "../shared/client.js";
import type { CreatedWorker, WorkerView } from "../shared/schemas/worker.js";
import { startFakePolar, type FakePolar } from "./fakes/polar.js";
import { api } from "./support/api.js";
import { signUp, socketTransport, type SignedUp } from "./support/http.js";
import pg from "pg";
import { createPostgresDatabase, databaseBackends, postgresReachable } from "./support/db.js";
import { spawnKiln, startTestKiln, tempDataDir, withStartups, type TestKiln } from "./support/kiln.js";
import { until } from "./support/poll.js";
import { replayingProxy, rivetClient } from "./support/rivet.js";
import { keys } from "../shared/keys.js";
import { eq } from "drizzle-orm";
import { workerIndex } from "../server/db/schema.js";
import { sandboxServersUnder } from "./support/processes.js";

const backends = await databaseBackends();

describe.each(backends)("cloud workers on the local provisioner (%s)", (backend) => {
  let kiln: TestKiln;
  let ann: SignedUp;
  let ben: SignedUp;
  let outsider: SignedUp;
  let A: ReturnType<typeof api>;
  let B: ReturnType<typeof api>;
  let O: ReturnType<typeof api>;

  let polar: FakePolar;

  beforeAll(async () => {
    // Polar is configured but the gate is off: it must never be called.
    polar = await startFakePolar();
    kiln = await startTestKiln({
      backend,
      env: { POLAR_FEATURE_GATE_ENABLED: "false", POLAR_ACCESS_TOKEN: polar.accessToken, POLAR_SERVER_URL: polar.serverURL },
    });
    const t = socketTransport(kiln.url);
    [ann, ben, outsider] = [await signUp(t, { name: "Ann" }), await signUp(t, { name: "Ben" }), await signUp(t, { name: "Out" })];
    await kiln.organizations.upsertMember(`personal-${ann.user.id}`, { userId: ben.user.id, name: "Ben", email: ben.user.email, role: "member" });
    A = api(t, ann.token);
    B = api(t, ben.token);
    O = api(t, outsider.token);
  });
  afterAll(async () => {
    expect(polar.callCount()).toBe(0);
    await kiln?.stop();
    await polar?.close();
  });

  it("provisions a cloud worker after a 202, until instance.url + /health answers 200", async () => {
    const res = await A.post<CreatedWorker>("/v1/workers", { name: "builder", destination: "cloud" });
    expect(res.status).toBe(202);
    const created = res.body;
    expect(created.worker).toMatchObject({ name: "builder", status: "provisioning", destination: "cloud", failure: null });
    expect(created.launch).toEqual({ mode: "async", pollAfterMs: 250 });
    // The instance URL is known at once: polling its /health answers 503 until the worker is up.
    expect(created.instance?.url).toContain(`/w/personal-${ann.user.id}/${created.worker.id}`);
    expect(created.tokens.owner).toMatch(/^kiln_wo_/);
    expect(new Set(Object.values(created.tokens)).size).toBe(3);

    const ready = await until(() => A.get<WorkerView>(`/v1/workers/${created.worker.id}`), (r) => r.body.worker.status !== "provisioning");
    expect(ready.body.worker.status).toBe("healthy");
    expect(ready.body.instance).toMatchObject({ provider: "local", status: "running", url: expect.stringContaining(`/w/personal-${ann.user.id}/`) });
    const health = await fetch(`${ready.body.instance?.url}/health`);
    expect(health.status).toBe(200);
    expect(sandboxServersUnder(join(kiln.dataDir, "sandboxes", created.worker.id)).length).toBe(1);

    // Tokens are shown once: Kiln keeps only hashes, nowhere in plain text.
    expect(JSON.stringify(ready.body)).not.toContain(created.tokens.owner);
    const stateDir = join(kiln.dataDir, "actors", "state");
    for (const file of readdirSync(stateDir)) expect(readFileSync(join(stateDir, file)).includes(created.tokens.host)).toBe(false);
  });

  it("creates a local worker at once (201), and requires its workspace path", async () => {
    const missing = await A.post("/v1/workers", { name: "laptop", destination: "local" });
    expect(missing.status).toBe(400);
    expect(missing.body).toMatchObject({ error: "workspace_path_required" });
    const res = await A.post<CreatedWorker>("/v1/workers", { name: "laptop", destination: "local", workspacePath: "/home/ann/code" });
    expect(res.status).toBe(201);
    expect(res.body.launch).toEqual({ mode: "instant" });
    expect(res.body.worker).toMatchObject({ status: "healthy", workspacePath: "/home/ann/code" });
  });

  it("validates input with 400 invalid_request", async () => {
    expect((await A.post("/v1/workers", { name: "", destination: "moon" })).body).toMatchObject({ error: "invalid_request" });
    expect((await A.get("/v1/workers?limit=0")).status).toBe(400);
    expect((await A.get("/v1/workers?limit=51")).status).toBe(400);
  });

  it("lists the org's workers from the index, for every member", async () => {
    const list = await B.get<{ workers: WorkerView[] }>(`/v1/workers?orgId=personal-${ann.user.id}&limit=50`);
    expect(list.status).toBe(200);
    expect(list.body.workers.map((w) => w.worker.name)).toEqual(expect.arrayContaining(["builder", "laptop"]));
    expect((await O.get(`/v1/workers?orgId=personal-${ann.user.id}`)).status).toBe(403);
  });

  it("hides workers from non-members and unknown ids behind 404 worker_not_found", async () => {
    const mine = (await A.get<{ workers: WorkerView[] }>("/v1/workers")).body.workers[0]!;
    for (const r of [await O.get(`/v1/workers/${mine.worker.id}`), await A.get("/v1/workers/w_doesnotexist00000"), await A.get("/v1/workers/not-an-id"), await A.get(`/v1/workers/w_${"x".repeat(63)}`)]) {
      expect(r.status).toBe(404);
      expect(r.body).toMatchObject({ error: "worker_not_found" });
    }
  });

  it("creates and renames workers in parallel: every call answers, each worker is listed once with its own tokens", async () => {
    const org = `personal-${ben.user.id}`;
    const made = await Promise.all(
      Array.from({ length: 5 }, (_, i) => B.post<CreatedWorker>("/v1/workers", { name: `par-${i}`, destination: "local", workspacePath: `/p/${i}`, orgId: org })),
    );
    expect(made.map((r) => r.status)).toEqual([201, 201, 201, 201, 201]);
    expect(new Set(made.map((r) => r.body.worker.id)).size).toBe(5);
    expect(new Set(made.map((r) => r.body.tokens.owner)).size).toBe(5);
    const listed = (await B.get<{ workers: WorkerView[] }>(`/v1/workers?orgId=${org}&limit=50`)).body.workers.filter((w) => w.worker.name.startsWith("par-"));
    expect(listed.map((w) => w.worker.id).sort()).toEqual(made.map((r) => r.body.worker.id).sort());
    // Newest first.
    expect(listed.map((w) => w.worker.createdAt)).toEqual(listed.map((w) => w.worker.createdAt).sort().reverse());

    const id = made[0]!.body.worker.id;
    const renames = await Promise.all(Array.from({ length: 5 }, (_, i) => B.patch<WorkerView>(`/v1/workers/${id}`, { name: `renamed-${i}` })));
    expect(renames.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    const last = renames.reduce((a, b) => (b.body.revision > a.body.revision ? b : a));
    // The list and the read agree on the last rename applied.
    const read = await B.get<WorkerView>(`/v1/workers/${id}`);
    expect(read.body).toMatchObject({ revision: last.body.revision, worker: { name: last.body.worker.name } });
    const inList = (await B.get<{ workers: WorkerView[] }>(`/v1/workers?orgId=${org}&limit=50`)).body.workers.find((w) => w.worker.id === id);
    expect(inList?.worker.name).toBe(last.body.worker.name);
  });

  it("lets only the creator rename a worker or rotate its tokens", async () => {
    const created = (await A.post<CreatedWorker>("/v1/workers", { name: "renameme", destination: "local", workspacePath: "/w" })).body;
    const other = await B.patch(`/v1/workers/${created.worker.id}`, { name: "mine now" });
    expect(other.status).toBe(403);
    const mine = await A.patch<WorkerView>(`/v1/workers/${created.worker.id}`, { name: "renamed" });
    expect(mine.status).toBe(200);
    expect(mine.body.worker.name).toBe("renamed");
    const rotated = await A.post<{ tokens: CreatedWorker["tokens"] }>(`/v1/workers/${created.worker.id}/tokens`);
    expect(rotated.status).toBe(200);
    expect(rotated.body.tokens.owner).not.toBe(created.tokens.owner);
    expect((await B.post(`/v1/workers/${created.worker.id}/tokens`)).status).toBe(403);
  });

  it("streams the org's workers to every member subscribed to the org, from creation to deletion", async () => {
    const client = createKilnClient({ baseUrl: kiln.url, token: ben.token });
    const views: WorkerView[] = [];
    const deleted: string[] = [];
    let opened = false;
    const stop = client.subscribeOrganization(`personal-${ann.user.id}`, {
      onWorker: (v) => views.push(v),
      onWorkerDeleted: (id) => deleted.push(id),
      onOpen: () => (opened = true),
    });
    try {
      await until(async () => opened, (o) => o);
      const id = (await A.post<CreatedWorker>("/v1/workers", { name: "watched", destination: "cloud" })).body.worker.id;
      const mine = () => views.filter((v) => v.worker.id === id);
      await until(async () => mine(), (v) => v.some((x) => x.worker.status === "healthy"));
      expect(mine().at(-1)?.instance).toMatchObject({ provider: "local", status: "running" });
      expect((await A.patch(`/v1/workers/${id}`, { name: "watched-2" })).status).toBe(200);
      await until(async () => mine(), (v) => v.some((x) => x.worker.name === "watched-2"));
      await A.del(`/v1/workers/${id}`);
      await until(async () => deleted, (d) => d.includes(id));
      expect(mine().some((v) => v.worker.status === "deleting")).toBe(true);
      // Every view carries a newer revision, and the phases arrive in the order they happened.
      const revisions = mine().map((v) => v.revision);
      expect(revisions).toEqual([...revisions].sort((a, b) => a - b));
      expect(new Set(revisions).size).toBe(revisions.length);
      const phases = mine().map((v) => v.worker.status).filter((s, i, all) => s !== all[i - 1]);
      expect(phases).toEqual(["provisioning", "healthy", "deleting"]);
    } finally {
      await stop();
      await client.dispose();
    }
  });

  it("drops a worker event that arrives after a newer one, on a real subscription", async () => {
    const org = `personal-${ann.user.id}`;
    // Both subscriptions go through a proxy that can deliver one of Kiln's frames again, late.
    const proxy = await replayingProxy(kiln.url);
    const client = createKilnClient({ baseUrl: proxy.url, token: ben.token });
    const raw = rivetClient(proxy.url, ben.token);
    const views: WorkerView[] = [];
    const rawViews: WorkerView[] = [];
    let opened = false;
    const stop = client.subscribeOrganization(org, { onWorker: (v) => views.push(v), onOpen: () => (opened = true) });
    const conn = raw.organization.get(keys.organization(org), { params: { token: ben.token } }).connect();
    conn.on("workerUpdated", (v: WorkerView) => rawViews.push(v));
    try {
      await conn.summary();
      await until(async () => opened, (o) => o);
      const id = (await A.post<CreatedWorker>("/v1/workers", { name: "late", destination: "cloud" })).body.worker.id;
      proxy.keep(["workerUpdated", id]);
      const mine = () => views.filter((v) => v.worker.id === id);
      const rawMine = () => rawViews.filter((v) => v.worker.id === id);
      await until(async () => [mine(), rawMine()], ([a, b]) => [a, b].every((l) => l!.some((v) => v.worker.status === "healthy")));
      expect((await A.patch(`/v1/workers/${id}`, { name: "late-2" })).status).toBe(200);
      await until(async () => [mine(), rawMine()], ([a, b]) => [a, b].every((l) => l!.some((v) => v.worker.name === "late-2")));
      expect(proxy.recorded()).toBe(2);

      const rawBefore = rawMine().length;
      proxy.replay();
      // The plain connection takes the old view as it comes: the frame did reach the client.
      await until(async () => rawMine().length, (n) => n === rawBefore + 1);
      expect(rawMine().at(-1)!.revision).toBeLessThan(rawMine().at(-2)!.revision);
      // A later change flushes the client's socket: the old view came before it and was dropped.
      expect((await A.patch(`/v1/workers/${id}`, { name: "late-3" })).status).toBe(200);
      await until(async () => mine(), (v) => v.some((x) => x.worker.name === "late-3"));
      const revisions = mine().map((v) => v.revision);
      expect(revisions).toEqual([...new Set(revisions)].sort((a, b) => a - b));
      expect(mine().map((v) => v.worker.name).slice(-2)).toEqual(["late-2", "late-3"]);
    } finally {
      await stop();
      await client.dispose();
      await conn.dispose();
      await raw.dispose();
      await proxy.close();
    }
  });

  it("deletes a cloud worker for real: its instance and process are gone, then the worker is", async () => {
    const created = (await A.post<CreatedWorker>("/v1/workers", { name: "short-lived", destination: "cloud" })).body;
    const ready = await until(() => A.get<WorkerView>(`/v1/workers/${created.worker.id}`), (r) => r.body.worker.status === "healthy");
    const dir = join(kiln.dataDir, "sandboxes", created.worker.id);
    expect(existsSync(dir)).toBe(true);
    const del = await fetch(`${kiln.url}/v1/workers/${created.worker.id}`, { method: "DELETE", headers: { authorization: `Bearer ${ann.token}` } });
    expect(del.status).toBe(204);
    await until(() => A.get(`/v1/workers/${created.worker.id}`), (r) => r.status === 404);
    // Its authorization index row goes with it (the org removes it with the worker).
    expect(await kiln.db.db.select().from(workerIndex).where(eq(workerIndex.workerId, created.worker.id))).toEqual([]);
    expect(existsSync(dir)).toBe(false);
    expect(sandboxServersUnder(dir)).toEqual([]);
    expect((await fetch(`${ready.body.instance?.url}/health`)).status).toBe(503);
  });
});

describe.skipIf(!(await postgresReachable()))("workers an earlier Kiln kept in worker_index", () => {
  it("join their organization's list at the next start, and the index keeps only org and creator", { timeout: withStartups(2) }, async () => {
    const db = await createPostgresDatabase();
    const env = { KILN_DATA_DIR: tempDataDir(), DATABASE_URL: db.url };
    const sql = new pg.Client({ connectionString: db.url });
    let kiln = await spawnKiln(env);
    try {
      const user = await signUp(socketTransport(kiln.url), { name: "Lee" });
      const orgId = `personal-${user.user.id}`;
      const id = "w_legacy0000000001";
      const now = new Date().toISOString();
      // A row as the earlier Kiln wrote it: its view, pushed by the WorkerActor, was the list's source.
      const view = {
        worker: { id, orgId, name: "old-box", description: null, destination: "local", workspacePath: "/old", status: "healthy", failure: null, teardown: null, createdBy: user.user.id, createdAt: now, updatedAt: now },
        instance: { provider: "user-machine", url: null, status: "awaiting_connection" },
      };
      await sql.connect();
      await sql.query("insert into worker_index (worker_id, org_id, created_by, view) values ($1, $2, $3, $4)", [id, orgId, user.user.id, JSON.stringify(view)]);
      await kiln.kill();

      kiln = await spawnKiln(env);
      const A = api(socketTransport(kiln.url), user.token);
      // Adoption runs with the rest of the start's recovery, after the ready line.
      const read = await until(() => A.get<WorkerView>(`/v1/workers/${id}`), (r) => r.status === 200);
      expect(read.body).toMatchObject({ worker: { id, name: "old-box", status: "healthy" }, revision: 0 });
      expect((await A.get<{ workers: WorkerView[] }>("/v1/workers")).body.workers.map((w) => w.worker.id)).toContain(id);
      // The column is cleared once the org has adopted the view, so it is adopted once.
      const row = await until(async () => (await sql.query("select org_id, created_by, view from worker_index where worker_id = $1", [id])).rows, (r) => r[0]?.view === null);
      expect(row).toEqual([{ org_id: orgId, created_by: user.user.id, view: null }]);
    } finally {
      await kiln.kill();
      await sql.end().catch(() => undefined);
      await db.drop();
    }
  });
});
