/**
 * The fake Daytona, Render and Polar servers in test/fakes/, driven through the real SDKs
 * (`@daytonaio/sdk`, `@polar-sh/sdk`) or through `fetch` (Render has no SDK). These tests pin
 * down the contract the WorkerActor provisioners and the Polar paywall tests rely on.
 */
import {
  Daytona,
  DaytonaAuthenticationError,
  DaytonaConflictError,
  DaytonaConnectionTimeoutError,
  DaytonaError,
  DaytonaInternalServerError,
  DaytonaNotFoundError,
  DaytonaTimeoutError,
  DaytonaValidationError,
} from "@daytonaio/sdk";
import { Polar } from "@polar-sh/sdk";
import { ConnectionError, RequestTimeoutError } from "@polar-sh/sdk/models/errors/httpclienterrors.js";
import { HTTPValidationError } from "@polar-sh/sdk/models/errors/httpvalidationerror.js";
import { ResourceNotFound } from "@polar-sh/sdk/models/errors/resourcenotfound.js";
import { SDKError } from "@polar-sh/sdk/models/errors/sdkerror.js";
import { afterEach, describe, expect, it } from "vitest";
import { until } from "./support/poll.js";
import { startFakeDaytona, type FakeDaytona } from "./fakes/daytona.js";
import { startFakePolar, type FakePolar } from "./fakes/polar.js";
import { startFakeRender, type FakeRender } from "./fakes/render.js";

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (closers.length > 0) await closers.pop()!();
});

/** Start a fake, close it after the test, and fail the test if the fake's own handlers threw. */
function track<T extends { close(): Promise<void>; errors: unknown[] }>(fake: T): T {
  closers.push(async () => {
    await fake.close();
    expect(fake.errors).toEqual([]);
  });
  return fake;
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (error) {
    return error;
  }
  throw new Error("expected the promise to reject");
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ------------------------------------------------------------------------------------------------
// Daytona
// ------------------------------------------------------------------------------------------------

describe("fake Daytona via @daytonaio/sdk", () => {
  async function setup(opts: Parameters<typeof startFakeDaytona>[0] = {}): Promise<{ fake: FakeDaytona; daytona: Daytona }> {
    const fake = track(await startFakeDaytona(opts));
    const daytona = new Daytona({
      apiKey: fake.apiKey,
      apiUrl: fake.apiUrl,
      target: fake.target,
      useDeprecatedPolling: true,
    });
    return { fake, daytona };
  }

  it("create → toolbox url → poll until started; execute, preview health, delete", async () => {
    const { fake, daytona } = await setup();

    const sandbox = await daytona.create(
      { snapshot: "kiln-worker:1", envVars: { KILN_TOKEN: "t" }, labels: { "kiln.worker": "w1" } },
      { timeout: 10 },
    );
    expect(sandbox.state).toBe("started");
    expect(sandbox.target).toBe("us");
    expect(sandbox.snapshot).toBe("kiln-worker:1");

    // The exact call sequence of create().
    const calls = fake.requests.map((r) => `${r.method} ${r.path}`);
    expect(calls[0]).toBe("POST /sandbox");
    expect(calls[1]).toBe(`GET /sandbox/${sandbox.id}/toolbox-proxy-url`);
    expect(calls.slice(2).every((c) => c === `GET /sandbox/${sandbox.id}`)).toBe(true);
    expect(calls.length).toBeGreaterThanOrEqual(3);
    const createBody = fake.requests[0]!.body as Record<string, unknown>;
    expect(createBody).toMatchObject({
      snapshot: "kiln-worker:1",
      env: { KILN_TOKEN: "t" },
      target: "us",
      labels: { "kiln.worker": "w1", "code-toolbox-language": "python" },
    });
    expect(fake.requests[0]!.headers.authorization).toBe(`Bearer ${fake.apiKey}`);

    // Process API goes through the toolbox proxy URL.
    const echo = await sandbox.process.executeCommand("echo hi", "/home/daytona", { A: "1" }, 30);
    expect(echo).toEqual({ exitCode: 0, result: "", artifacts: { stdout: "" } });
    expect(fake.requestsTo("POST", `/toolbox/${sandbox.id}/process/execute`)).toHaveLength(1);
    expect(fake.commandsFor(sandbox.id)[0]).toMatchObject({
      command: "echo hi",
      cwd: "/home/daytona",
      envs: { A: "1" },
      timeout: 30,
      exitCode: 0,
    });

    // Preview URL + token; health is 502 until the sandbox-agent server runs.
    const link = await sandbox.getPreviewLink(2468);
    expect(link.sandboxId).toBe(sandbox.id);
    expect(link.url).toBe(`${fake.url}/preview/${sandbox.id}/2468`);
    expect(link.token).toMatch(/^[0-9a-f]{32}$/);
    const headers = { "x-daytona-preview-token": link.token };
    expect((await fetch(`${link.url}/v1/health`, { headers })).status).toBe(502);
    expect((await fetch(`${link.url}/v1/health`)).status).toBe(401);

    const started = await sandbox.process.executeCommand(
      "nohup sandbox-agent server --no-token -H 0.0.0.0 -p 2468 > /tmp/sa.log 2>&1 &",
    );
    expect(started.exitCode).toBe(0);
    expect(fake.sandbox(sandbox.id)!.serverRunning).toBe(true);
    const health = await fetch(`${link.url}/v1/health`, { headers });
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: "ok" });

    // get() by id returns the same sandbox.
    const again = await daytona.get(sandbox.id);
    expect(again.id).toBe(sandbox.id);
    expect(again.state).toBe("started");

    // delete() really deletes.
    await daytona.delete(again);
    expect(fake.requestsTo("DELETE", `/sandbox/${sandbox.id}`)).toHaveLength(1);
    expect(fake.state.deleted).toEqual([sandbox.id]);
    expect(fake.sandbox(sandbox.id)).toBeUndefined();
    expect((await fetch(`${link.url}/v1/health`, { headers })).status).toBe(404);
    const gone = await rejection(daytona.get(sandbox.id));
    expect(gone).toBeInstanceOf(DaytonaNotFoundError);
    expect((gone as DaytonaNotFoundError).statusCode).toBe(404);
  });

  it("a scripted sandbox-agent start failure returns a non-zero exit with its output", async () => {
    const { fake, daytona } = await setup();
    fake.scriptCommand(/sandbox-agent\s+server/, {
      exitCode: 1,
      result: "sandbox-agent server failed to start: address already in use",
    });
    const sandbox = await daytona.create({ snapshot: "kiln-worker:1" });

    const res = await sandbox.process.executeCommand("sandbox-agent server -p 2468");
    expect(res.exitCode).toBe(1);
    expect(res.result).toBe("sandbox-agent server failed to start: address already in use");
    expect(res.artifacts?.stdout).toBe(res.result);
    expect(fake.sandbox(sandbox.id)!.serverRunning).toBe(false);

    const link = await sandbox.getPreviewLink(2468);
    const health = await fetch(`${link.url}/v1/health`, { headers: { "x-daytona-preview-token": link.token } });
    expect(health.status).toBe(502);

    // Other commands are unaffected by the script.
    expect((await sandbox.process.executeCommand("uname -a")).exitCode).toBe(0);
  });

  it("scripted replies can be one-shot (times) and slow (delayMs)", async () => {
    const { fake, daytona } = await setup({ transitionPolls: 0 });
    fake.scriptCommand("flaky", { exitCode: 7, result: "first try fails", times: 1, delayMs: 50 });
    const sandbox = await daytona.create();
    const t0 = Date.now();
    const first = await sandbox.process.executeCommand("./flaky.sh");
    expect(Date.now() - t0).toBeGreaterThanOrEqual(45);
    expect(first).toMatchObject({ exitCode: 7, result: "first try fails" });
    expect((await sandbox.process.executeCommand("./flaky.sh")).exitCode).toBe(0);
  });

  it("create failures: HTTP error, sandbox ending in error state, unknown snapshot", async () => {
    const { fake, daytona } = await setup({ snapshots: ["kiln-worker:1"] });

    fake.failNextCreate({ status: 500, message: "no runners available" });
    const http = await rejection(daytona.create({ snapshot: "kiln-worker:1" }));
    expect(http).toBeInstanceOf(DaytonaInternalServerError);
    expect((http as DaytonaError).message).toBe("no runners available");
    expect((http as DaytonaError).statusCode).toBe(500);
    expect(fake.state.sandboxes.size).toBe(0);

    fake.failNextCreate({ errorReason: "failed to pull snapshot" });
    const state = await rejection(daytona.create({ snapshot: "kiln-worker:1" }));
    expect(state).toBeInstanceOf(DaytonaError);
    expect((state as Error).message).toMatch(/failed to start with status: error, error reason: failed to pull snapshot/);
    const [errored] = [...fake.state.sandboxes.values()];
    expect(errored!.state).toBe("error");

    const snapshot = await rejection(daytona.create({ snapshot: "does-not-exist" }));
    expect(snapshot).toBeInstanceOf(DaytonaValidationError);
    expect((snapshot as Error).message).toMatch(/does-not-exist not found/);

    // The failures were one-shot.
    const ok = await daytona.create({ snapshot: "kiln-worker:1" });
    expect(ok.state).toBe("started");
  });

  it("wrong API key → DaytonaAuthenticationError; unknown id → DaytonaNotFoundError", async () => {
    const { fake, daytona } = await setup();
    const wrong = new Daytona({ apiKey: "wrong", apiUrl: fake.apiUrl, target: "us", useDeprecatedPolling: true });
    const auth = await rejection(wrong.create({ snapshot: "kiln-worker:1" }));
    expect(auth).toBeInstanceOf(DaytonaAuthenticationError);
    expect((auth as DaytonaError).statusCode).toBe(401);
    expect(fake.requestsTo("POST", "/sandbox")[0]!.status).toBe(401);
    expect(fake.state.sandboxes.size).toBe(0);

    const missing = await rejection(daytona.get("00000000-0000-0000-0000-000000000000"));
    expect(missing).toBeInstanceOf(DaytonaNotFoundError);
  });

  it("stop and start move through stopping/starting; commands on a stopped sandbox are refused", async () => {
    const { fake, daytona } = await setup();
    const sandbox = await daytona.create();
    await sandbox.process.executeCommand("sandbox-agent server &");
    await daytona.stop(sandbox);
    expect(sandbox.state).toBe("stopped");
    expect(fake.sandbox(sandbox.id)!.serverRunning).toBe(false);
    expect(fake.requestsTo("POST", `/sandbox/${sandbox.id}/stop`)).toHaveLength(1);

    const refused = await rejection(sandbox.process.executeCommand("echo hi"));
    expect(refused).toBeInstanceOf(DaytonaConflictError);

    await daytona.start(sandbox);
    expect(sandbox.state).toBe("started");
    expect(fake.requestsTo("POST", `/sandbox/${sandbox.id}/start`)).toHaveLength(1);
    expect((await sandbox.process.executeCommand("echo hi")).exitCode).toBe(0);
  });

  it("failNext scripts teardown failures: DELETE fails twice, then deletes", async () => {
    const { fake, daytona } = await setup({ transitionPolls: 0 });
    const sandbox = await daytona.create();
    fake.failNext({ method: "DELETE", path: /^\/sandbox\//, status: 500, times: 2, body: { message: "runner unreachable" } });

    for (let i = 0; i < 2; i++) {
      const err = await rejection(daytona.delete(sandbox));
      expect(err).toBeInstanceOf(DaytonaInternalServerError);
      expect((err as Error).message).toBe("runner unreachable");
      expect(fake.sandbox(sandbox.id)).toBeDefined();
    }
    // wait=true polls GET until 404, which the SDK maps to `destroyed`.
    await daytona.delete(sandbox, 10, true);
    expect(sandbox.state).toBe("destroyed");
    expect(fake.requestsTo("DELETE", `/sandbox/${sandbox.id}`).map((r) => r.status)).toEqual([500, 500, 200]);
    expect(fake.requestsTo("GET", `/sandbox/${sandbox.id}`).at(-1)!.status).toBe(404);
    expect(fake.state.deleted).toEqual([sandbox.id]);
  });

  it("a hanging API needs requestTimeoutMs (the SDK default is 24 h) → DaytonaConnectionTimeoutError", async () => {
    const { fake } = await setup();
    const impatient = new Daytona({
      apiKey: fake.apiKey,
      apiUrl: fake.apiUrl,
      target: fake.target,
      useDeprecatedPolling: true,
      requestTimeoutMs: 200,
    });
    fake.failNext({ method: "GET", path: /^\/sandbox\//, network: "hang" });
    const err = await rejection(impatient.get("any-id"));
    expect(err).toBeInstanceOf(DaytonaConnectionTimeoutError);
    expect(err).toBeInstanceOf(DaytonaTimeoutError);
  });

  it("setState simulates a sandbox crashing behind Kiln's back", async () => {
    const { fake, daytona } = await setup({ transitionPolls: 0 });
    const sandbox = await daytona.create();
    fake.setState(sandbox.id, "error", "OOM killed");
    await sandbox.refreshData();
    expect(sandbox.state).toBe("error");
    expect(sandbox.errorReason).toBe("OOM killed");
  });

  it("previewUrlFor points the preview URL elsewhere (e.g. a real local sandbox-agent)", async () => {
    const { daytona } = await setup({ previewUrlFor: (_sb, port) => `http://127.0.0.1:${port}` });
    const sandbox = await daytona.create();
    const link = await sandbox.getPreviewLink(39999);
    expect(link.url).toBe("http://127.0.0.1:39999");
  });
});

// ------------------------------------------------------------------------------------------------
// Render (REST via fetch)
// ------------------------------------------------------------------------------------------------

describe("fake Render REST API via fetch", () => {
  async function setup(opts: Parameters<typeof startFakeRender>[0] = {}) {
    const fake = track(await startFakeRender(opts));
    const headers = { authorization: `Bearer ${fake.apiKey}`, "content-type": "application/json", accept: "application/json" };
    const api = (path: string, init: RequestInit = {}) => fetch(`${fake.apiBase}${path}`, { ...init, headers });
    const createService = async (name = "kiln-worker-1") => {
      const res = await api("/services", {
        method: "POST",
        body: JSON.stringify({
          type: "web_service",
          name,
          ownerId: fake.ownerId,
          image: { ownerId: fake.ownerId, imagePath: "ghcr.io/kiln/worker:1" },
          envVars: [{ key: "KILN_WORKER_TOKEN", value: "secret" }],
          serviceDetails: { runtime: "image", plan: "starter", region: "frankfurt", healthCheckPath: "/health" },
        }),
      });
      expect(res.status).toBe(201);
      return (await res.json()) as { service: RenderService; deployId: string };
    };
    return { fake, api, createService };
  }

  interface RenderService {
    id: string;
    name: string;
    ownerId: string;
    type: string;
    imagePath?: string;
    suspended: string;
    serviceDetails: { url: string; region: string; plan: string; runtime: string; healthCheckPath: string };
  }
  interface RenderDeploy {
    id: string;
    status: string;
    createdAt: string;
    finishedAt: string | null;
  }

  async function latestDeploy(api: (p: string) => Promise<Response>, serviceId: string): Promise<RenderDeploy> {
    const res = await api(`/services/${serviceId}/deploys?limit=1`);
    expect(res.status).toBe(200);
    const list = (await res.json()) as Array<{ deploy: RenderDeploy; cursor: string }>;
    expect(list).toHaveLength(1);
    return list[0]!.deploy;
  }

  it("create → deploy created → build_in_progress → live; health 503 then 200; delete → 204 and gone", async () => {
    const { fake, api, createService } = await setup({ queueMs: 150, buildMs: 150 });
    const { service, deployId } = await createService();

    expect(service).toMatchObject({
      name: "kiln-worker-1",
      ownerId: fake.ownerId,
      type: "web_service",
      imagePath: "ghcr.io/kiln/worker:1",
      suspended: "not_suspended",
      serviceDetails: { region: "frankfurt", plan: "starter", runtime: "image", healthCheckPath: "/health" },
    });
    expect(service.id).toMatch(/^srv-[0-9a-f]{20}$/);
    expect(deployId).toMatch(/^dep-/);
    expect(service.serviceDetails.url).toBe(`${fake.url}/svc/${service.id}`);
    expect(fake.service(service.id)!.envVars).toEqual([{ key: "KILN_WORKER_TOKEN", value: "secret" }]);

    const got = await api(`/services/${service.id}`);
    expect(got.status).toBe(200);
    expect(((await got.json()) as RenderService).id).toBe(service.id);

    const seen: string[] = [];
    const healthSeen: number[] = [];
    // Every state the deploy passes through is seen: polled every 10 ms until it is live.
    const last = await until(
      async () => {
        const deploy = await latestDeploy(api, service.id);
        expect(deploy.id).toBe(deployId);
        if (seen.at(-1) !== deploy.status) seen.push(deploy.status);
        healthSeen.push((await fetch(`${service.serviceDetails.url}/health`)).status);
        return deploy;
      },
      (d) => d.status === "live",
      { timeoutMs: 3_000, everyMs: 10 },
    );
    expect(seen).toEqual(["created", "build_in_progress", "live"]);
    expect(last.finishedAt).not.toBeNull();
    expect(Date.parse(last.finishedAt!)).toBeGreaterThanOrEqual(Date.parse(last.createdAt));
    expect(healthSeen[0]).toBe(503);
    expect(healthSeen.at(-1)).toBe(200);

    const del = await api(`/services/${service.id}`, { method: "DELETE" });
    expect(del.status).toBe(204);
    expect(await del.text()).toBe("");
    expect(fake.state.deleted).toEqual([service.id]);
    const after = await api(`/services/${service.id}`);
    expect(after.status).toBe(404);
    expect(await after.json()).toMatchObject({ id: "not_found" });
    expect((await fetch(`${service.serviceDetails.url}/health`)).status).toBe(404);
  });

  it("scripted build_failed and update_failed deploys; health never turns 200", async () => {
    const { fake, api, createService } = await setup({ queueMs: 0, buildMs: 0 });

    fake.scriptNextDeploy({ outcome: "build_failed" });
    const a = await createService("a");
    const da = await latestDeploy(api, a.service.id);
    expect(da.status).toBe("build_failed");
    expect(da.finishedAt).not.toBeNull();
    expect((await fetch(`${a.service.serviceDetails.url}/health`)).status).toBe(503);

    fake.scriptNextDeploy({ outcome: "update_failed" });
    const b = await createService("b");
    expect((await latestDeploy(api, b.service.id)).status).toBe("update_failed");
    expect((await fetch(`${b.service.serviceDetails.url}/health`)).status).toBe(503);

    // One-shot: the next deploy goes live.
    const c = await createService("c");
    expect((await latestDeploy(api, c.service.id)).status).toBe("live");
    expect((await fetch(`${c.service.serviceDetails.url}/v1/health`)).status).toBe(200);
  });

  it("slow and held deploys: hold stays build_in_progress until released", async () => {
    const { fake, api, createService } = await setup({ queueMs: 0, buildMs: 0 });

    fake.scriptNextDeploy({ buildMs: 60_000 });
    const slow = await createService("slow");
    expect((await latestDeploy(api, slow.service.id)).status).toBe("build_in_progress");

    fake.scriptNextDeploy({ hold: true });
    const held = await createService("held");
    await sleep(30);
    expect((await latestDeploy(api, held.service.id)).status).toBe("build_in_progress");
    expect((await fetch(`${held.service.serviceDetails.url}/health`)).status).toBe(503);
    fake.releaseDeploy(held.service.id, "live");
    const live = await latestDeploy(api, held.service.id);
    expect(live.status).toBe("live");
    expect(live.finishedAt).not.toBeNull();
    expect((await fetch(`${held.service.serviceDetails.url}/health`)).status).toBe(200);

    fake.scriptNextDeploy({ hold: true });
    const failed = await createService("held-fail");
    fake.releaseDeploy(failed.service.id, "build_failed");
    expect((await latestDeploy(api, failed.service.id)).status).toBe("build_failed");
  });

  it("deploy list is newest first; a newer live deploy deactivates the older one", async () => {
    const { api, createService } = await setup({ queueMs: 0, buildMs: 0 });
    const { service, deployId } = await createService();
    await sleep(5);
    const redeploy = await api(`/services/${service.id}/deploys`, { method: "POST", body: "{}" });
    expect(redeploy.status).toBe(201);
    const second = (await redeploy.json()) as RenderDeploy;
    const list = (await (await api(`/services/${service.id}/deploys`)).json()) as Array<{ deploy: RenderDeploy }>;
    expect(list.map((d) => d.deploy.id)).toEqual([second.id, deployId]);
    expect(list.map((d) => d.deploy.status)).toEqual(["live", "deactivated"]);
    const one = await api(`/services/${service.id}/deploys/${deployId}`);
    expect(((await one.json()) as RenderDeploy).status).toBe("deactivated");
  });

  it("failDeletes(n): DELETE fails n times, then succeeds", async () => {
    const { fake, api, createService } = await setup({ queueMs: 0, buildMs: 0 });
    const { service } = await createService();
    fake.failDeletes(2, 503);
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await api(`/services/${service.id}`, { method: "DELETE" })).status);
    expect(statuses).toEqual([503, 503, 204]);
    expect(fake.requestsTo("DELETE").map((r) => r.status)).toEqual([503, 503, 204]);
    expect(fake.state.services.has(service.id)).toBe(false);
  });

  it("401 on a bad key, 400 on a bad body, 404 on an unknown owner or service", async () => {
    const { fake, api } = await setup();
    const bad = await fetch(`${fake.apiBase}/services`, {
      method: "POST",
      headers: { authorization: "Bearer rnd_wrong", "content-type": "application/json" },
      body: JSON.stringify({ type: "web_service", name: "x", ownerId: fake.ownerId, repo: "https://github.com/a/b" }),
    });
    expect(bad.status).toBe(401);
    expect(await bad.json()).toEqual({ id: "unauthorized", message: "unauthorized" });
    expect((await fetch(`${fake.apiBase}/services/srv-x`)).status).toBe(401);

    const noType = await api("/services", { method: "POST", body: JSON.stringify({ name: "x", ownerId: fake.ownerId }) });
    expect(noType.status).toBe(400);
    const owner = await api("/services", {
      method: "POST",
      body: JSON.stringify({ type: "web_service", name: "x", ownerId: "tea-other", repo: "https://github.com/a/b" }),
    });
    expect(owner.status).toBe(404);
    expect((await api("/services/srv-unknown")).status).toBe(404);
    expect(fake.state.services.size).toBe(0);

    const owners = (await (await api("/owners")).json()) as Array<{ owner: { id: string } }>;
    expect(owners.map((o) => o.owner.id)).toEqual([fake.ownerId]);
  });

  it("a repo-based private service gets a branch, a commit on its deploy, and a URL", async () => {
    const { fake, api } = await setup({ queueMs: 0, buildMs: 0 });
    const res = await api("/services", {
      method: "POST",
      body: JSON.stringify({
        type: "private_service",
        name: "kiln-private",
        ownerId: fake.ownerId,
        repo: "https://github.com/kiln/worker",
        serviceDetails: { runtime: "docker" },
      }),
    });
    expect(res.status).toBe(201);
    const { service } = (await res.json()) as { service: RenderService & { repo: string; branch: string } };
    expect(service).toMatchObject({ type: "private_service", repo: "https://github.com/kiln/worker", branch: "main" });
    const deploy = (await latestDeploy(api, service.id)) as RenderDeploy & { commit?: { id: string } };
    expect(deploy.commit?.id).toMatch(/^[0-9a-f]{40}$/);
    expect((await fetch(`${service.serviceDetails.url}/health`)).status).toBe(200);
  });
});

// ------------------------------------------------------------------------------------------------
// Polar
// ------------------------------------------------------------------------------------------------

describe("fake Polar via @polar-sh/sdk", () => {
  async function setup(): Promise<{ fake: FakePolar; polar: Polar }> {
    const fake = track(await startFakePolar());
    return { fake, polar: new Polar({ accessToken: fake.accessToken, serverURL: fake.serverURL }) };
  }

  it("customers.getStateExternal: granted benefits for a known external id, ResourceNotFound otherwise", async () => {
    const { fake, polar } = await setup();
    const grant = fake.grantBenefit({ externalId: "user_1" });

    const state = await polar.customers.getStateExternal({ externalId: "user_1" });
    expect(state.externalId).toBe("user_1");
    expect(state.grantedBenefits.map((g) => g.benefitId)).toEqual([fake.benefitId]);
    expect(state.grantedBenefits[0]!.id).toBe(grant.id);
    expect(state.grantedBenefits[0]!.grantedAt).toBeInstanceOf(Date);
    expect(state.activeSubscriptions).toEqual([]);

    const missing = await rejection(polar.customers.getStateExternal({ externalId: "user_2" }));
    expect(missing).toBeInstanceOf(ResourceNotFound);
    expect((missing as ResourceNotFound).statusCode).toBe(404);
    expect(fake.requests.map((r) => r.path)).toEqual([
      "/v1/customers/external/user_1/state",
      "/v1/customers/external/user_2/state",
    ]);
  });

  it("email fallback: customers.list({ email }) then customers.getState({ id })", async () => {
    const { fake, polar } = await setup();
    fake.grantBenefit({ email: "Ada@Example.com" });
    fake.addCustomer({ email: "nobenefit@example.com" });

    // No external id on an email-only customer.
    expect(await rejection(polar.customers.getStateExternal({ externalId: "user_ada" }))).toBeInstanceOf(ResourceNotFound);

    const page = await polar.customers.list({ email: "ada@example.com" });
    expect(page.result.items).toHaveLength(1);
    expect(page.result.items[0]!.email).toBe("Ada@Example.com");
    expect(page.result.items[0]!.externalId).toBeNull();
    expect(page.result.pagination).toEqual({ totalCount: 1, maxPage: 1 });
    expect(fake.requests.at(-1)!.query).toMatchObject({ email: "ada@example.com" });

    const state = await polar.customers.getState({ id: page.result.items[0]!.id });
    expect(state.grantedBenefits.map((g) => g.benefitId)).toEqual([fake.benefitId]);

    const none = await polar.customers.list({ email: "nobody@example.com" });
    expect(none.result.items).toEqual([]);
    const other = await polar.customers.list({ email: "nobenefit@example.com" });
    const otherState = await polar.customers.getState({ id: other.result.items[0]!.id });
    expect(otherState.grantedBenefits).toEqual([]);
    expect(await rejection(polar.customers.getState({ id: "unknown" }))).toBeInstanceOf(ResourceNotFound);
  });

  it("benefitGrants.list({ externalCustomerId, isGranted }) and revocation", async () => {
    const { fake, polar } = await setup();
    fake.grantBenefit({ externalId: "user_1" });
    fake.grantBenefit({ externalId: "user_1", benefitId: "other-benefit" });
    fake.grantBenefit({ externalId: "user_2" });

    const page = await polar.benefitGrants.list({ externalCustomerId: "user_1", isGranted: true });
    expect(fake.requests.at(-1)!.query).toMatchObject({ external_customer_id: "user_1", is_granted: "true" });
    expect(page.result.items.map((g) => g.benefitId).sort()).toEqual([fake.benefitId, "other-benefit"].sort());
    for (const g of page.result.items) {
      expect(g.isGranted).toBe(true);
      expect(g.customer.externalId).toBe("user_1");
      expect(g.benefit.id).toBe(g.benefitId);
    }

    fake.revokeBenefit({ externalId: "user_1" });
    const after = await polar.benefitGrants.list({ externalCustomerId: "user_1", isGranted: true });
    expect(after.result.items.map((g) => g.benefitId)).toEqual(["other-benefit"]);
    const revoked = await polar.benefitGrants.list({ externalCustomerId: "user_1", isGranted: false });
    expect(revoked.result.items).toHaveLength(1);
    expect(revoked.result.items[0]!.isRevoked).toBe(true);
    expect(revoked.result.items[0]!.revokedAt).toBeInstanceOf(Date);
    const state = await polar.customers.getStateExternal({ externalId: "user_1" });
    expect(state.grantedBenefits.map((g) => g.benefitId)).toEqual(["other-benefit"]);
  });

  it("checkouts.create returns a fetchable url; completing it grants the benefit", async () => {
    const { fake, polar } = await setup();
    const checkout = await polar.checkouts.create({
      products: [fake.productId],
      successUrl: "https://kiln.example/billing/success",
      returnUrl: "https://kiln.example/billing",
      externalCustomerId: "user_9",
      customerEmail: "nine@example.com",
      metadata: { kilnUserId: "user_9" },
    });
    expect(checkout.url).toMatch(new RegExp(`^${fake.url}/checkout/polar_c_`));
    expect(checkout.status).toBe("open");
    expect(checkout.productId).toBe(fake.productId);
    expect(checkout.externalCustomerId).toBe("user_9");
    expect(checkout.successUrl).toBe("https://kiln.example/billing/success");
    expect(checkout.product?.benefits.map((b) => b.id)).toEqual([fake.benefitId]);
    expect(checkout.expiresAt).toBeInstanceOf(Date);
    expect((await fetch(checkout.url)).status).toBe(200);

    expect(fake.state.checkouts).toHaveLength(1);
    expect(fake.state.checkouts[0]!.body).toMatchObject({
      products: [fake.productId],
      success_url: "https://kiln.example/billing/success",
      return_url: "https://kiln.example/billing",
      external_customer_id: "user_9",
      customer_email: "nine@example.com",
    });

    expect(await rejection(polar.customers.getStateExternal({ externalId: "user_9" }))).toBeInstanceOf(ResourceNotFound);
    fake.completeCheckout(checkout.id);
    const state = await polar.customers.getStateExternal({ externalId: "user_9" });
    expect(state.email).toBe("nine@example.com");
    expect(state.grantedBenefits.map((g) => g.benefitId)).toEqual([fake.benefitId]);
    expect((await polar.checkouts.get({ id: checkout.id })).status).toBe("succeeded");
  });

  it("checkouts.create with an unknown product → HTTPValidationError (422)", async () => {
    const { fake, polar } = await setup();
    const err = await rejection(polar.checkouts.create({ products: ["not-a-product"], successUrl: "https://x" }));
    expect(err).toBeInstanceOf(HTTPValidationError);
    expect((err as HTTPValidationError).statusCode).toBe(422);
    expect((err as HTTPValidationError).detail?.[0]?.loc).toEqual(["body", "products", 0]);
    expect(fake.state.checkouts).toHaveLength(0);
  });

  it("outages: 5xx → SDKError, reset → ConnectionError, hang → RequestTimeoutError, closed → ConnectionError", async () => {
    const { fake, polar } = await setup();
    fake.grantBenefit({ externalId: "user_1" });

    fake.setOutage("http_503");
    const down = await rejection(polar.customers.getStateExternal({ externalId: "user_1" }));
    expect(down).toBeInstanceOf(SDKError);
    expect((down as SDKError).statusCode).toBe(503);
    const checkoutDown = await rejection(polar.checkouts.create({ products: [fake.productId], successUrl: "https://x" }));
    expect((checkoutDown as SDKError).statusCode).toBe(503);

    fake.setOutage("http_500");
    expect(((await rejection(polar.benefitGrants.list({ externalCustomerId: "user_1" }))) as SDKError).statusCode).toBe(500);

    fake.setOutage("reset");
    expect(await rejection(polar.customers.list({ email: "a@example.com" }))).toBeInstanceOf(ConnectionError);

    fake.setOutage("hang");
    const impatient = new Polar({ accessToken: fake.accessToken, serverURL: fake.serverURL, timeoutMs: 150 });
    expect(await rejection(impatient.customers.getStateExternal({ externalId: "user_1" }))).toBeInstanceOf(
      RequestTimeoutError,
    );

    fake.setOutage(null);
    const ok = await polar.customers.getStateExternal({ externalId: "user_1" });
    expect(ok.grantedBenefits).toHaveLength(1);

    await fake.close();
    expect(await rejection(polar.customers.getStateExternal({ externalId: "user_1" }))).toBeInstanceOf(ConnectionError);
  });

  it("wrong access token → SDKError 401", async () => {
    const { fake } = await setup();
    const wrong = new Polar({ accessToken: "polar_oat_wrong", serverURL: fake.serverURL });
    const err = await rejection(wrong.customers.getStateExternal({ externalId: "user_1" }));
    expect(err).toBeInstanceOf(SDKError);
    expect((err as SDKError).statusCode).toBe(401);
  });

  it("counts calls per operation (to prove the gate-off path never calls Polar, and caching)", async () => {
    const { fake, polar } = await setup();
    expect(fake.callCount()).toBe(0);

    fake.grantBenefit({ externalId: "user_1" });
    await polar.customers.getStateExternal({ externalId: "user_1" });
    await polar.customers.getStateExternal({ externalId: "user_1" });
    await polar.customers.list({ email: "x@example.com" });
    await polar.checkouts.create({ products: [fake.productId], successUrl: "https://x" });

    expect(fake.callCount()).toBe(4);
    expect(fake.callCount("customers.getStateExternal")).toBe(2);
    expect(fake.callCount("customers.list")).toBe(1);
    expect(fake.callCount("checkouts.create")).toBe(1);
    expect(fake.callCount("benefitGrants.list")).toBe(0);
    // The checkout page is not an API call.
    await fetch(fake.state.checkouts[0]!.url);
    expect(fake.callCount()).toBe(4);

    fake.resetCalls();
    expect(fake.callCount()).toBe(0);
  });
});
