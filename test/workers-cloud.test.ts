/**
 * Cloud workers on Daytona and Render: Kiln drives the real `@daytonaio/sdk` (and `fetch` for
 * Render) against the local fakes in test/fakes/, through the public routes.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { keys } from "../shared/keys.js";
import { createKilnClient } from "../shared/client.js";
import type { CreatedWorker, WorkerView } from "../shared/schemas/worker.js";
import { startFakeDaytona, type FakeDaytona } from "./fakes/daytona.js";
import { startFakeRender, type FakeRender } from "./fakes/render.js";
import { api } from "./support/api.js";
import { signUp, socketTransport, type SignedUp } from "./support/http.js";
import { seedDataDir, spawnKiln, startTestKiln, tempDataDir, withStartups, type TestKiln } from "./support/kiln.js";
import { until } from "./support/poll.js";

type Api = ReturnType<typeof api>;

async function createCloudWorker(A: Api, name: string): Promise<CreatedWorker> {
  const res = await A.post<CreatedWorker>("/v1/workers", { name, destination: "cloud" });
  expect(res.status).toBe(202);
  return res.body;
}

function settled(A: Api, id: string, timeoutMs = 20_000) {
  return until(() => A.get<WorkerView>(`/v1/workers/${id}`), (r) => r.body.worker.status !== "provisioning", { timeoutMs });
}

/** Deletes a worker and waits until it is gone from the API. */
async function deleteWorker(A: Api, id: string, timeoutMs = 20_000): Promise<void> {
  expect((await A.del(`/v1/workers/${id}`)).status).toBe(204);
  await until(() => A.get(`/v1/workers/${id}`), (r) => r.status === 404, { timeoutMs });
}

function renderEnv(render: FakeRender): Record<string, string> {
  return {
    PROVISIONER_MODE: "render",
    RENDER_API_KEY: render.apiKey,
    RENDER_API_URL: render.apiBase,
    RENDER_OWNER_ID: render.ownerId,
    RENDER_WORKER_IMAGE: "ghcr.io/kiln/worker:1",
  };
}

describe("cloud workers on Daytona", () => {
  let daytona: FakeDaytona;
  let kiln: TestKiln;
  let A: Api;

  beforeAll(async () => {
    daytona = await startFakeDaytona({ snapshots: ["kiln-worker-v1"] });
    kiln = await startTestKiln({
      env: {
        PROVISIONER_MODE: "daytona",
        DAYTONA_API_KEY: daytona.apiKey,
        DAYTONA_API_URL: daytona.apiUrl,
        DAYTONA_TARGET: daytona.target,
        DAYTONA_SNAPSHOT: "kiln-worker-v1",
        DAYTONA_CPU: "2",
      },
    });
    const t = socketTransport(kiln.url);
    A = api(t, (await signUp(t, { name: "Dee" })).token);
  });
  afterAll(async () => {
    await kiln?.stop();
    await daytona?.close();
    expect(daytona.errors).toEqual([]);
  });

  it("creates a sandbox from the snapshot, starts sandbox-agent through the process API, and answers health through the preview URL", async () => {
    const created = await createCloudWorker(A, "on-daytona");
    expect(created.instance).toMatchObject({ provider: "daytona", status: "provisioning" });
    const done = await settled(A, created.worker.id);
    expect(done.body.worker).toMatchObject({ status: "healthy", failure: null });
    expect(done.body.instance).toMatchObject({ provider: "daytona", status: "running", region: daytona.target });

    const sandbox = daytona.sandbox(`kiln-${created.worker.id.toLowerCase()}`);
    expect(sandbox).toMatchObject({ snapshot: "kiln-worker-v1", state: "started", public: false, serverRunning: true, cpu: 2 });
    expect(sandbox?.labels).toMatchObject({ "kiln.sandbox": created.worker.id });
    const starts = daytona.commandsFor(sandbox!.id).filter((c) => /sandbox-agent server/.test(c.command));
    expect(starts).toHaveLength(1);
    // The server's token is in the start command; it never reaches the worker's view.
    const token = /--token=([0-9a-f]+)/.exec(starts[0]!.command)?.[1];
    expect(token).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(done.body)).not.toContain(token);

    const health = await fetch(`${done.body.instance?.url}/health`);
    expect(health.status).toBe(200);
    // Health went through the preview URL, carrying the preview token.
    const previewCalls = daytona.requests.filter((r) => r.path.startsWith(`/preview/${sandbox!.id}/`));
    expect(previewCalls.length).toBeGreaterThan(0);
    expect(previewCalls.every((r) => typeof r.headers["x-daytona-preview-token"] === "string")).toBe(true);

    // Health reflects the real server: once it stops answering, /health is no longer 200.
    // (One answer serves every caller for a second, so the change shows within about a second.)
    daytona.setServerRunning(sandbox!.id, false);
    daytona.scriptCommand(/sandbox-agent server/, { exitCode: 1, result: "boom" });
    await until(() => fetch(`${done.body.instance?.url}/health`), (r) => r.status === 503, { timeoutMs: 5_000 });
    daytona.clearScripts();
  });

  it("shares one slow restart among all health checks that arrive while it runs", async () => {
    const created = await createCloudWorker(A, "slow-restart");
    const done = await settled(A, created.worker.id);
    const sandbox = daytona.sandbox(`kiln-${created.worker.id.toLowerCase()}`)!;
    const starts = () => daytona.commandsFor(sandbox.id).filter((c) => /sandbox-agent server/.test(c.command)).length;
    expect(starts()).toBe(1);
    // The server dies; bringing it back takes 3 s, longer than one health answer is kept.
    daytona.setServerRunning(sandbox.id, false);
    daytona.scriptCommand(/sandbox-agent server/, { exitCode: 0, result: "started", delayMs: 3_000 });
    try {
      const check = () => fetch(`${done.body.instance?.url}/health`).then((r) => r.status);
      const first = check();
      // The first check has started the restart: every check from now on arrives while it runs.
      await until(async () => starts(), (n) => n === 2, { everyMs: 20 });
      const rest: Promise<number>[] = [];
      for (let i = 0; i < 9; i++) rest.push(check());
      const statuses = await Promise.all([first, ...rest]);
      expect(statuses).toEqual(Array(10).fill(200));
      expect(statuses.at(-1)).toBe(200);
      expect(starts()).toBe(2);
    } finally {
      daytona.clearScripts();
    }
  });

  it("fails fast, with the command's output, when sandbox-agent cannot start", async () => {
    daytona.scriptCommand(/sandbox-agent server/, { exitCode: 1, result: "Error: failed to bind 0.0.0.0:3000: Address already in use", times: 1 });
    const created = await createCloudWorker(A, "bad-server");
    const done = await settled(A, created.worker.id);
    expect(done.body.worker.status).toBe("failed");
    expect(done.body.worker.failure).toMatchObject({ code: "provisioning_failed", message: expect.stringContaining("Address already in use") });
    expect(done.body.worker.failure?.message).toContain("start-server failed");
    // The organization hears of it too, in its runtime issues.
    const issues = await A.get<{ issues: { scope: string; message: string; step: string | null }[] }>(`/v1/orgs/${done.body.worker.orgId}/runtime-issues`);
    expect(issues.body.issues).toContainEqual(expect.objectContaining({ scope: `worker:${created.worker.id}`, step: "start-server", message: expect.stringContaining("Address already in use") }));
    expect(done.body.instance).toMatchObject({ provider: "daytona", status: "failed" });
    expect((await fetch(`${done.body.instance?.url}/health`)).status).toBe(503);
    // Not retried: a server that cannot start will not start on a second try.
    const sandbox = daytona.sandbox(`kiln-${created.worker.id.toLowerCase()}`);
    expect(daytona.commandsFor(sandbox!.id).filter((c) => /sandbox-agent server/.test(c.command))).toHaveLength(1);
  });

  it("fails the worker with Daytona's reason when the sandbox ends in error", async () => {
    daytona.failNextCreate({ errorReason: "no runner available in region", times: 1 });
    const created = await createCloudWorker(A, "no-capacity");
    const done = await settled(A, created.worker.id);
    expect(done.body.worker.status).toBe("failed");
    expect(done.body.worker.failure?.message).toContain("no runner available in region");
    expect(done.body.worker.failure?.message).toContain("create-instance failed");
    // A sandbox in error is final: Kiln neither waits it out nor creates a second one.
    const name = `kiln-${created.worker.id.toLowerCase()}`;
    expect(daytona.requestsTo("POST", "/sandbox").filter((r) => (r.body as { name?: string }).name === name)).toHaveLength(1);
  });

  it("deletes the Daytona sandbox for real on DELETE", async () => {
    const created = await createCloudWorker(A, "short-lived");
    await settled(A, created.worker.id);
    const sandbox = daytona.sandbox(`kiln-${created.worker.id.toLowerCase()}`);
    expect(sandbox).toBeDefined();
    await deleteWorker(A, created.worker.id);
    expect(daytona.state.deleted).toContain(sandbox!.id);
    expect(daytona.sandbox(sandbox!.id)).toBeUndefined();
  });

  it("records a failed teardown on the worker and retries it until the sandbox is deleted", async () => {
    const created = await createCloudWorker(A, "sticky");
    await settled(A, created.worker.id);
    const sandbox = daytona.sandbox(`kiln-${created.worker.id.toLowerCase()}`)!;
    daytona.failNext({ method: "DELETE", path: `/sandbox/${sandbox.id}`, status: 503, body: { message: "runner unreachable" }, times: 2 });
    expect((await A.del(`/v1/workers/${created.worker.id}`)).status).toBe(204);

    const failing = await until(() => A.get<WorkerView>(`/v1/workers/${created.worker.id}`), (r) => (r.body.worker.teardown?.attempts ?? 0) >= 1);
    expect(failing.body.worker.status).toBe("deleting");
    expect(failing.body.worker.teardown?.lastError).toContain("runner unreachable");
    expect(daytona.sandbox(sandbox.id)).toBeDefined();

    await until(() => A.get(`/v1/workers/${created.worker.id}`), (r) => r.status === 404);
    expect(daytona.state.deleted).toContain(sandbox.id);
  });
});

describe("cloud workers on Render", () => {
  let render: FakeRender;
  let kiln: TestKiln;
  let ren: SignedUp;
  let outsider: SignedUp;
  let A: Api;

  beforeAll(async () => {
    render = await startFakeRender({ queueMs: 50, buildMs: 300 });
    kiln = await startTestKiln({ env: renderEnv(render) });
    const t = socketTransport(kiln.url);
    [ren, outsider] = [await signUp(t, { name: "Ren" }), await signUp(t, { name: "Out" })];
    A = api(t, ren.token);
  });
  afterAll(async () => {
    await kiln?.stop();
    await render?.close();
    expect(render.errors).toEqual([]);
  });

  const serviceOf = (workerId: string) => [...render.state.services.values()].find((s) => s.name === `kiln-${workerId.toLowerCase()}`);

  it("creates the service, waits for its deploy to go live, then for health", async () => {
    const created = await createCloudWorker(A, "on-render");
    expect(created.launch.pollAfterMs).toBe(10_000);
    // The URL is known at once; it answers 503 until the worker is up.
    expect((await fetch(`${created.instance?.url}/health`)).status).toBe(503);
    const done = await settled(A, created.worker.id);
    expect(done.body.worker.status).toBe("healthy");
    expect(done.body.instance).toMatchObject({ provider: "render", status: "running", region: "oregon" });

    const service = serviceOf(created.worker.id);
    expect(service).toMatchObject({ type: "web_service", imagePath: "ghcr.io/kiln/worker:1", ownerId: render.ownerId, plan: "starter" });
    const token = service?.envVars.find((e) => e.key === "SANDBOX_AGENT_TOKEN")?.value;
    expect(token).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(done.body)).not.toContain(token);
    // Kiln waited on the deploy, then checked the service's own health endpoint.
    expect(render.requestsTo("GET", new RegExp(`^/v1/services/${service!.id}/deploys`)).length).toBeGreaterThan(0);
    expect(render.requestsTo("GET", `/svc/${service!.id}/v1/health`).length).toBeGreaterThan(0);

    expect((await fetch(`${done.body.instance?.url}/health`)).status).toBe(200);
  });

  it("fails the worker when the deploy fails, and says so", async () => {
    render.scriptNextDeploy({ outcome: "build_failed", buildMs: 100 });
    const created = await createCloudWorker(A, "bad-deploy");
    const done = await settled(A, created.worker.id);
    expect(done.body.worker.status).toBe("failed");
    expect(done.body.worker.failure).toMatchObject({ code: "provisioning_failed", message: expect.stringContaining("build_failed") });
  });

  it("streams a worker's changes to a member's subscription, and refuses a non-member", async () => {
    render.scriptNextDeploy({ hold: true });
    const created = await createCloudWorker(A, "watched");
    const { orgId, id } = created.worker;
    const client = createKilnClient({ baseUrl: kiln.url, token: ren.token });
    const views: WorkerView[] = [];
    let deleted = false;
    const stop = client.subscribeWorker(orgId, id, { onWorker: (v) => views.push(v), onDeleted: () => (deleted = true) });
    try {
      // A rename shows the subscription is live before the deploy is let go.
      await until(
        async () => (await A.patch(`/v1/workers/${id}`, { name: "watched-2" }), views),
        (v) => v.some((x) => x.worker.name === "watched-2"),
      );
      // The rename can be seen before provisioning has reached Render: wait for the service to exist.
      const service = await until(async () => serviceOf(id), (x) => x !== undefined);
      render.releaseDeploy(service!.id, "live");
      await until(async () => views, (v) => v.some((x) => x.worker.status === "healthy"));
      expect(views.at(-1)?.instance).toMatchObject({ provider: "render", status: "running" });
      expect(JSON.stringify(views)).not.toContain(created.tokens.owner);

      await expect(client.actors.worker.get(keys.worker(orgId, id), { params: { token: outsider.token } }).view()).rejects.toMatchObject({ code: "forbidden" });

      await deleteWorker(A, id);
      await until(async () => deleted, (d) => d);
    } finally {
      await stop();
      await client.dispose();
    }
  });

  it("deletes a worker still waiting on its deploy: provisioning stops and the service is deleted", async () => {
    render.scriptNextDeploy({ hold: true });
    const created = await createCloudWorker(A, "impatient");
    const service = await until(async () => serviceOf(created.worker.id), (x) => x !== undefined);
    expect((await A.del(`/v1/workers/${created.worker.id}`)).status).toBe(204);
    await until(() => A.get(`/v1/workers/${created.worker.id}`), (r) => r.status === 404);
    expect(render.state.deleted).toContain(service!.id);
  });

  it("deletes the service for real, retrying a failed DELETE and recording it on the worker", async () => {
    const created = await createCloudWorker(A, "to-delete");
    await settled(A, created.worker.id);
    const service = serviceOf(created.worker.id)!;
    render.failDeletes(2, 502);
    expect((await A.del(`/v1/workers/${created.worker.id}`)).status).toBe(204);
    const failing = await until(() => A.get<WorkerView>(`/v1/workers/${created.worker.id}`), (r) => (r.body.worker.teardown?.attempts ?? 0) >= 1);
    expect(failing.body.worker.teardown?.lastError).toContain("502");
    await until(() => A.get(`/v1/workers/${created.worker.id}`), (r) => r.status === 404);
    expect(render.state.deleted).toContain(service.id);
    expect(render.service(service.id)).toBeUndefined();
  });
});

describe("a restart during provisioning on Render", () => {
  let render: FakeRender;
  beforeAll(async () => {
    render = await startFakeRender({ queueMs: 20, buildMs: 100 });
  });
  afterAll(async () => {
    await render?.close();
  });

  it("fails the worker with Render's own message when RENDER_OWNER_ID names no workspace", { timeout: withStartups(1) }, async () => {
    const dataDir = tempDataDir();
    seedDataDir(dataDir);
    const kiln = await spawnKiln({ KILN_DATA_DIR: dataDir, ...renderEnv(render), RENDER_OWNER_ID: "tea-nosuchowner" });
    try {
      const user = await signUp(socketTransport(kiln.url));
      const A = api(socketTransport(kiln.url), user.token);
      const created = await createCloudWorker(A, "misconfigured");
      const done = await settled(A, created.worker.id);
      expect(done.body.worker.status).toBe("failed");
      expect(done.body.worker.failure?.message).toContain("owner tea-nosuchowner not found");
      expect(done.body.worker.failure?.message).not.toContain(render.apiKey);
    } finally {
      await kiln.kill();
    }
  });

  it("resumes after kill -9: the same service is used, and the worker becomes healthy once the deploy is live", { timeout: withStartups(2) }, async () => {
    render.scriptNextDeploy({ hold: true });
    const dataDir = tempDataDir();
    seedDataDir(dataDir);
    const env = { KILN_DATA_DIR: dataDir, ...renderEnv(render) };
    const first = await spawnKiln(env);
    const user = await signUp(socketTransport(first.url));
    const created = await createCloudWorker(api(socketTransport(first.url), user.token), "survivor");
    const service = await until(
      async () => [...render.state.services.values()].find((s) => s.name === `kiln-${created.worker.id.toLowerCase()}`),
      (s) => s !== undefined,
    );
    await first.kill("SIGKILL");

    const second = await spawnKiln(env);
    try {
      const B = api(socketTransport(second.url), user.token);
      expect((await B.get<WorkerView>(`/v1/workers/${created.worker.id}`)).body.worker.status).toBe("provisioning");
      render.releaseDeploy(service!.id, "live");
      const done = await settled(B, created.worker.id);
      expect(done.body.worker.status).toBe("healthy");
      // Creation is idempotent across the restart: one service, never two.
      expect([...render.state.services.values()].filter((s) => s.name === service!.name)).toHaveLength(1);
    } finally {
      await second.kill();
    }
  });
});
