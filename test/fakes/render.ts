import { randomBytes } from "node:crypto";
import type { ServerResponse } from "node:http";
import {
  bearerToken,
  isoNow,
  sendJson,
  startBaseServer,
  type BaseFake,
  type FakeRequest,
  type RecordedRequest,
} from "./http.js";

/**
 * A fake of Render's public REST API v1 (https://api-docs.render.com), the subset Kiln's Render
 * provisioner calls with `fetch` and `Authorization: Bearer <RENDER_API_KEY>`:
 *
 * - GET    /v1/owners                        `[{ owner, cursor }]` (workspaces the key can use)
 * - POST   /v1/services                      201 `{ service, deployId }` (400 on a bad body, 404 unknown ownerId)
 * - GET    /v1/services?ownerId=&name=       `[{ service, cursor }]`
 * - GET    /v1/services/{serviceId}          the service (404 `{ id, message }` unknown or deleted)
 * - DELETE /v1/services/{serviceId}          204
 * - GET    /v1/services/{serviceId}/deploys  `[{ deploy, cursor }]`, newest first (`?limit=`)
 * - GET    /v1/services/{serviceId}/deploys/{deployId}   the deploy
 * - POST   /v1/services/{serviceId}/deploys  201 a new deploy (redeploy)
 * Served for the deployed app itself (no auth), at `service.serviceDetails.url`:
 * - GET    /svc/{serviceId}/health and /svc/{serviceId}/v1/health   200 once the latest deploy is `live`,
 *          503 before (or after a failed deploy), 404 once the service is deleted.
 *
 * Errors use Render's `{ id, message }` body; a bad key gets 401 `{ id: "unauthorized", ... }`.
 *
 * A deploy's status is a function of time: `created` for `queueMs`, then `build_in_progress` for
 * `buildMs`, then its outcome (`live` by default; `build_failed` / `update_failed` when scripted).
 * A deploy scripted with `hold: true` stays `build_in_progress` until `releaseDeploy()`.
 */

export type RenderDeployStatus =
  | "created"
  | "build_in_progress"
  | "update_in_progress"
  | "live"
  | "deactivated"
  | "build_failed"
  | "update_failed"
  | "canceled";

export type RenderDeployOutcome = "live" | "build_failed" | "update_failed" | "canceled";

export interface DeployScript {
  /** Final status (default "live"). */
  outcome?: RenderDeployOutcome;
  /** Time spent in `created` (default: the fake's `queueMs`). */
  queueMs?: number;
  /** Time spent in `build_in_progress` (default: the fake's `buildMs`). */
  buildMs?: number;
  /** Stay in `build_in_progress` until `releaseDeploy(serviceId, outcome?)`. */
  hold?: boolean;
}

export interface FakeRenderDeploy {
  id: string;
  serviceId: string;
  createdAtMs: number;
  queueMs: number;
  buildMs: number;
  outcome: RenderDeployOutcome;
  /** When set, the deploy is held in build_in_progress. */
  held: boolean;
  /** Set when a held deploy is released. */
  releasedAtMs: number | undefined;
  trigger: "api" | "new_commit" | "manual";
  image: string | undefined;
  commitId: string | undefined;
}

export interface FakeRenderService {
  id: string;
  name: string;
  ownerId: string;
  type: "web_service" | "private_service" | "background_worker";
  repo: string | undefined;
  branch: string | undefined;
  imagePath: string | undefined;
  envVars: Array<{ key: string; value: string }>;
  region: string;
  plan: string;
  runtime: string;
  healthCheckPath: string;
  createdAt: string;
  updatedAt: string;
  /** `http://127.0.0.1:<port>/svc/<id>`: health at `${url}/health`. */
  url: string;
  /** Overrides the deploy-derived health answer when set. */
  healthOverride: number | undefined;
  /** The raw POST /v1/services body. */
  createBody: Record<string, unknown>;
}

export interface FakeRenderOptions {
  apiKey?: string;
  /** Workspace ids the key may create services in (default: one, `ownerId`). */
  ownerId?: string;
  /** Default time in `created` (ms, default 20). */
  queueMs?: number;
  /** Default time in `build_in_progress` (ms, default 80). */
  buildMs?: number;
}

export interface FakeRenderState {
  services: Map<string, FakeRenderService>;
  deploys: FakeRenderDeploy[];
  /** Ids of services removed by a successful DELETE, in order. */
  deleted: string[];
  requests: RecordedRequest[];
}

export interface FakeRender extends BaseFake {
  apiKey: string;
  ownerId: string;
  /** Base for Kiln's `fetch` calls: `${url}/v1`. */
  apiBase: string;
  state: FakeRenderState;
  /** Script the next deploy(s) (created by POST /v1/services or a redeploy). */
  scriptNextDeploy(script: DeployScript & { times?: number }): void;
  /** Release a held deploy (the newest held one of the service) with this outcome (default "live"). */
  releaseDeploy(serviceId: string, outcome?: RenderDeployOutcome): void;
  /** Make the next `times` DELETE /v1/services/{id} fail with `status` (default 500). */
  failDeletes(times: number, status?: number): void;
  /** Force what the service's health endpoint answers (`undefined` to go back to deploy-derived). */
  setHealth(serviceId: string, status: number | undefined): void;
  /** Current status of a deploy (time-derived). */
  deployStatus(deploy: FakeRenderDeploy): RenderDeployStatus;
  /** Deploys of a service, newest first. */
  deploysOf(serviceId: string): FakeRenderDeploy[];
  service(serviceId: string): FakeRenderService | undefined;
}

const id = (prefix: string) => `${prefix}-${randomBytes(10).toString("hex")}`;

export async function startFakeRender(opts: FakeRenderOptions = {}): Promise<FakeRender> {
  const apiKey = opts.apiKey ?? "rnd_fake_key";
  const ownerId = opts.ownerId ?? "tea-fakeowner0000000000";
  const defaultQueueMs = opts.queueMs ?? 20;
  const defaultBuildMs = opts.buildMs ?? 80;

  const services = new Map<string, FakeRenderService>();
  const deploys: FakeRenderDeploy[] = [];
  const deleted: string[] = [];
  const deployScripts: Array<DeployScript & { remaining: number }> = [];
  let deleteFailures: { remaining: number; status: number } = { remaining: 0, status: 500 };
  let base = "";

  const status = (d: FakeRenderDeploy): RenderDeployStatus => {
    const now = Date.now();
    const age = now - d.createdAtMs;
    if (age < d.queueMs) return "created";
    if (d.held) return "build_in_progress";
    const buildEnd = d.releasedAtMs ?? d.createdAtMs + d.queueMs + d.buildMs;
    if (now < buildEnd) return "build_in_progress";
    if (d.outcome !== "live") return d.outcome;
    // A newer live deploy deactivates this one.
    const newerLive = deploys.some(
      (o) => o.serviceId === d.serviceId && o.createdAtMs > d.createdAtMs && o !== d && status(o) === "live",
    );
    return newerLive ? "deactivated" : "live";
  };

  const finishedAt = (d: FakeRenderDeploy): string | null => {
    const s = status(d);
    if (s === "created" || s === "build_in_progress" || s === "update_in_progress") return null;
    return new Date(d.releasedAtMs ?? d.createdAtMs + d.queueMs + d.buildMs).toISOString();
  };

  const deploysOf = (serviceId: string) =>
    deploys
      .filter((d) => d.serviceId === serviceId)
      .sort((a, b) => b.createdAtMs - a.createdAtMs || deploys.indexOf(b) - deploys.indexOf(a));

  const deployJson = (d: FakeRenderDeploy) => ({
    id: d.id,
    ...(d.commitId
      ? { commit: { id: d.commitId, message: "fake commit", createdAt: new Date(d.createdAtMs).toISOString() } }
      : {}),
    ...(d.image ? { image: { ref: d.image, sha: `sha256:${"0".repeat(64)}`, registryCredential: null } } : {}),
    status: status(d),
    trigger: d.trigger,
    createdAt: new Date(d.createdAtMs).toISOString(),
    updatedAt: new Date(Math.min(Date.now(), d.createdAtMs + d.queueMs + d.buildMs)).toISOString(),
    startedAt: new Date(d.createdAtMs + d.queueMs).toISOString(),
    finishedAt: finishedAt(d),
  });

  const serviceJson = (s: FakeRenderService) => ({
    id: s.id,
    autoDeploy: s.repo ? "yes" : "no",
    ...(s.branch ? { branch: s.branch } : {}),
    createdAt: s.createdAt,
    dashboardUrl: `https://dashboard.render.com/web/${s.id}`,
    ...(s.imagePath ? { imagePath: s.imagePath } : {}),
    name: s.name,
    notifyOnFail: "default",
    ownerId: s.ownerId,
    ...(s.repo ? { repo: s.repo } : {}),
    rootDir: "",
    slug: s.name.toLowerCase().replace(/[^a-z0-9-]+/g, "-"),
    suspended: "not_suspended",
    suspenders: [],
    type: s.type,
    updatedAt: s.updatedAt,
    serviceDetails: {
      env: s.runtime,
      runtime: s.runtime,
      envSpecificDetails: s.imagePath ? {} : { dockerContext: ".", dockerfilePath: "./Dockerfile" },
      healthCheckPath: s.healthCheckPath,
      numInstances: 1,
      openPorts: [{ port: 10000, protocol: "TCP" }],
      plan: s.plan,
      pullRequestPreviewsEnabled: "no",
      region: s.region,
      url: s.url,
      buildPlan: "starter",
      maintenanceMode: { enabled: false, uri: "" },
    },
  });

  const newDeploy = (s: FakeRenderService, trigger: FakeRenderDeploy["trigger"]): FakeRenderDeploy => {
    const script = deployScripts.find((x) => x.remaining > 0);
    if (script) script.remaining -= 1;
    const d: FakeRenderDeploy = {
      id: id("dep"),
      serviceId: s.id,
      createdAtMs: Date.now(),
      queueMs: script?.queueMs ?? defaultQueueMs,
      buildMs: script?.buildMs ?? defaultBuildMs,
      outcome: script?.outcome ?? "live",
      held: script?.hold ?? false,
      releasedAtMs: undefined,
      trigger,
      image: s.imagePath,
      commitId: s.repo ? randomBytes(20).toString("hex") : undefined,
    };
    deploys.push(d);
    return d;
  };

  const error = (res: ServerResponse, code: number, idText: string, message: string) =>
    sendJson(res, code, { id: idText, message });

  const createService = (req: FakeRequest, res: ServerResponse) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const type = body.type;
    if (type !== "web_service" && type !== "private_service" && type !== "background_worker") {
      return error(res, 400, "invalid_input", "type must be one of web_service, private_service, background_worker");
    }
    if (typeof body.name !== "string" || body.name.length === 0) return error(res, 400, "invalid_input", "name is required");
    if (typeof body.ownerId !== "string") return error(res, 400, "invalid_input", "ownerId is required");
    if (body.ownerId !== ownerId) return error(res, 404, "not_found", `owner ${body.ownerId} not found`);
    const image = body.image as { imagePath?: unknown; ownerId?: unknown } | undefined;
    const imagePath = typeof image?.imagePath === "string" ? image.imagePath : undefined;
    const repo = typeof body.repo === "string" ? body.repo : undefined;
    if (!imagePath && !repo) return error(res, 400, "invalid_input", "either repo or image.imagePath is required");
    const details = (body.serviceDetails ?? {}) as Record<string, unknown>;
    const now = isoNow();
    const serviceId = id("srv");
    const envVars = Array.isArray(body.envVars)
      ? (body.envVars as Array<{ key?: unknown; value?: unknown }>)
          .filter((e) => typeof e.key === "string")
          .map((e) => ({ key: e.key as string, value: typeof e.value === "string" ? e.value : "" }))
      : [];
    const s: FakeRenderService = {
      id: serviceId,
      name: body.name,
      ownerId,
      type,
      repo,
      branch: repo ? (typeof body.branch === "string" ? body.branch : "main") : undefined,
      imagePath,
      envVars,
      region: typeof details.region === "string" ? details.region : "oregon",
      plan: typeof details.plan === "string" ? details.plan : "starter",
      runtime: typeof details.runtime === "string" ? details.runtime : imagePath ? "image" : "docker",
      healthCheckPath: typeof details.healthCheckPath === "string" ? details.healthCheckPath : "",
      createdAt: now,
      updatedAt: now,
      url: `${base}/svc/${serviceId}`,
      healthOverride: undefined,
      createBody: body,
    };
    services.set(serviceId, s);
    const d = newDeploy(s, "api");
    sendJson(res, 201, { service: serviceJson(s), deployId: d.id });
  };

  const health = (res: ServerResponse, serviceId: string) => {
    const s = services.get(serviceId);
    if (!s) return sendJson(res, 404, { message: "Not Found" });
    if (s.healthOverride !== undefined) {
      return sendJson(res, s.healthOverride, s.healthOverride < 400 ? { status: "ok" } : { status: "unhealthy" });
    }
    const live = deploysOf(serviceId).some((d) => status(d) === "live");
    return live ? sendJson(res, 200, { status: "ok" }) : sendJson(res, 503, { message: "Service Unavailable" });
  };

  const handler = (req: FakeRequest, res: ServerResponse) => {
    const { method, path, query } = req;

    const svc = /^\/svc\/([^/]+)(\/.*)?$/.exec(path);
    if (svc && method === "GET") {
      const rest = svc[2] ?? "/";
      if (rest === "/health" || rest === "/v1/health") return health(res, svc[1]!);
      return sendJson(res, 404, { message: "Not Found" });
    }

    if (bearerToken(req.raw) !== apiKey) return error(res, 401, "unauthorized", "unauthorized");

    if (method === "GET" && path === "/v1/owners") {
      return sendJson(res, 200, [
        {
          owner: { id: ownerId, name: "Fake Workspace", email: "owner@example.com", type: "team", twoFactorAuthEnabled: false },
          cursor: "c-owner-0",
        },
      ]);
    }

    if (path === "/v1/services") {
      if (method === "POST") return createService(req, res);
      if (method === "GET") {
        let items = [...services.values()];
        const owners = query.getAll("ownerId");
        if (owners.length > 0) items = items.filter((s) => owners.includes(s.ownerId));
        const names = query.getAll("name");
        if (names.length > 0) items = items.filter((s) => names.includes(s.name));
        return sendJson(res, 200, items.map((s, i) => ({ service: serviceJson(s), cursor: `c-${i}` })));
      }
    }

    const m = /^\/v1\/services\/([^/]+)(\/.*)?$/.exec(path);
    if (m) {
      const serviceId = m[1]!;
      const sub = m[2] ?? "";
      const s = services.get(serviceId);
      if (method === "DELETE" && sub === "") {
        if (deleteFailures.remaining > 0) {
          deleteFailures.remaining -= 1;
          return error(res, deleteFailures.status, "internal_error", "scripted delete failure");
        }
        if (!s) return error(res, 404, "not_found", "service not found");
        services.delete(serviceId);
        deleted.push(serviceId);
        res.writeHead(204);
        res.end();
        return;
      }
      if (!s) return error(res, 404, "not_found", "service not found");
      if (method === "GET" && sub === "") return sendJson(res, 200, serviceJson(s));
      if (sub === "/deploys" && method === "GET") {
        const limit = Math.min(100, Math.max(1, Number(query.get("limit") ?? 20)));
        const list = deploysOf(serviceId).slice(0, limit);
        return sendJson(res, 200, list.map((d) => ({ deploy: deployJson(d), cursor: d.id })));
      }
      if (sub === "/deploys" && method === "POST") {
        return sendJson(res, 201, deployJson(newDeploy(s, "api")));
      }
      const dm = /^\/deploys\/([^/]+)$/.exec(sub);
      if (dm && method === "GET") {
        const d = deploys.find((x) => x.id === dm[1] && x.serviceId === serviceId);
        return d ? sendJson(res, 200, deployJson(d)) : error(res, 404, "not_found", "deploy not found");
      }
    }

    return error(res, 404, "not_found", `fake Render does not serve ${method} ${path}`);
  };

  const fake = await startBaseServer(handler);
  base = fake.url;

  return {
    ...fake,
    apiKey,
    ownerId,
    apiBase: `${fake.url}/v1`,
    state: { services, deploys, deleted, requests: fake.requests },
    scriptNextDeploy(script) {
      deployScripts.push({ ...script, remaining: script.times ?? 1 });
    },
    releaseDeploy(serviceId, outcome = "live") {
      const d = deploysOf(serviceId).find((x) => x.held);
      if (!d) throw new Error(`no held deploy for ${serviceId}`);
      d.held = false;
      d.outcome = outcome;
      d.releasedAtMs = Math.max(Date.now(), d.createdAtMs + d.queueMs);
    },
    failDeletes(times, code = 500) {
      deleteFailures = { remaining: times, status: code };
    },
    setHealth(serviceId, code) {
      const s = services.get(serviceId);
      if (!s) throw new Error(`no service ${serviceId}`);
      s.healthOverride = code;
    },
    deployStatus: status,
    deploysOf,
    service: (serviceId) => services.get(serviceId),
  } satisfies FakeRender;
}
