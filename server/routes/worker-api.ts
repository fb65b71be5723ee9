import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context, MiddlewareHandler, Next } from "hono";
import { ForbiddenError, KilnError, UnauthorizedError } from "../../shared/errors.js";
import { keys } from "../../shared/keys.js";
import { errorResponses, jsonBody, jsonResponse } from "../../shared/schemas/common.js";
import { PollBodySchema } from "../../shared/schemas/device.js";
import { ClaimedRunSchema, CompleteBodySchema, HeartbeatBodySchema, RunStatusSchema } from "../../shared/schemas/watcher.js";
import { internalParams } from "../../actors/auth.js";
import { NEXT_POLL_SECONDS } from "../../actors/device/state.js";
import { watcherIdOfRun } from "../../actors/watcher/state.js";
import type { Devices } from "../devices.js";
import type { KilnClient } from "../rivet.js";
import type { TokenBinding } from "../tokens.js";
import type { PersonalTokens } from "../tokens.js";
import type { KilnEnv } from "../types.js";
import { pathId } from "../../shared/schemas/text.js";

type WorkerEnv = { Variables: KilnEnv["Variables"] & { binding: TokenBinding } };

// The device token is sent as a Bearer token, like a session token.
const DEVICE_SECURITY = [{ bearer: [] }];
const base = { tags: ["device workers"], security: DEVICE_SECURITY };

/** `/api/workers/*` takes only a live personal access token with the `device_worker:run` scope. */
export function requireDeviceToken(tokens: PersonalTokens): MiddlewareHandler<WorkerEnv> {
  const admit = (c: Context<WorkerEnv>, next: Next, binding: TokenBinding | null) => {
    if (!binding) throw new UnauthorizedError("Send a device token (`kiln_pat_…`) as Authorization: Bearer; this one is unknown, revoked or expired.");
    if (!binding.scopes.includes("device_worker:run")) throw new KilnError("insufficient_scope", "This token lacks the `device_worker:run` scope.");
    c.set("binding", binding);
    c.set("user", binding.user);
    return next();
  };
  // Not an async function: a token known in memory (every idle poll's) is checked without a
  // promise; each one costs Node's promise hooks here, since better-auth uses AsyncLocalStorage.
  return (c, next) => {
    const bearer = /^Bearer\s+(\S+)$/i.exec(c.req.header("authorization") ?? "")?.[1];
    if (!bearer) return admit(c, next, null);
    const cached = tokens.resolveCached(bearer);
    if (cached !== undefined) return admit(c, next, cached);
    return tokens.resolve(bearer).then((binding) => admit(c, next, binding));
  };
}

/** The device a bound token speaks for; the body's `worker_id` must be that device. */
function boundDevice(binding: TokenBinding, workerId?: string): { deviceId: string; orgId: string } {
  if (!binding.deviceId || !binding.orgId) throw new KilnError("device_not_bound", "This token is not bound to a device; mint one with POST /v1/devices/mint-token.");
  if (workerId !== undefined && workerId !== binding.deviceId) throw new KilnError("worker_id_mismatch", "worker_id is not the device this token is bound to.");
  return { deviceId: binding.deviceId, orgId: binding.orgId };
}

const IdleSchema = z.object({ next_poll_seconds: z.number() }).meta({ id: "IdlePoll" });
const IDLE_BODY = { next_poll_seconds: NEXT_POLL_SECONDS };

const poll = createRoute({
  ...base,
  method: "post",
  path: "/api/workers/poll",
  summary: "Register (first poll) and ask for work: a claimed watcher run, or when to poll again",
  request: { body: jsonBody(PollBodySchema) },
  responses: { 200: jsonResponse(z.union([ClaimedRunSchema, IdleSchema]), "A claimed run, or idle"), ...errorResponses(400, 401, 403, 413) },
});
const heartbeat = createRoute({
  ...base,
  method: "post",
  path: "/api/workers/heartbeat",
  summary: "Extend a claimed run's lease; `continue: false` once the run was cancelled",
  request: { body: jsonBody(HeartbeatBodySchema) },
  responses: {
    200: jsonResponse(z.object({ continue: z.boolean(), lease_expires_at: z.string().nullable() }), "Go on, or stop"),
    ...errorResponses(400, 401, 403, 404, 409, 413),
  },
});
const complete = createRoute({
  ...base,
  method: "post",
  path: "/api/workers/me/runs/{runId}/complete-watcher",
  summary: "Report a run's result; a second report changes nothing (`idempotent: true`)",
  request: { params: z.object({ runId: pathId() }), body: jsonBody(CompleteBodySchema) },
  responses: {
    200: jsonResponse(z.object({ ok: z.literal(true), status: z.enum(["completed", "failed"]), idempotent: z.literal(true).optional() }), "Recorded"),
    ...errorResponses(400, 401, 403, 404, 409, 413),
  },
});
const trigger = createRoute({
  ...base,
  method: "post",
  path: "/api/workers/me/watchers/{watcherId}/trigger",
  summary: "Run a watcher now on this device; a run already pending, claimed or running is returned instead",
  request: { params: z.object({ watcherId: pathId() }) },
  responses: {
    200: jsonResponse(z.object({ run_id: z.string(), status: RunStatusSchema, already_queued: z.boolean(), queued_at: z.string() }), "The run"),
    ...errorResponses(401, 403, 404, 409),
  },
});

export function workerApiRoutes(tokens: PersonalTokens, devices: Devices, client: () => KilnClient) {
  /** The WatcherActor of a run or watcher in the device's org; another org's or an unknown one is `notFound`. */
  const watcherIn = async (orgId: string, watcherId: string | null, notFound: KilnError) => {
    const owner = watcherId ? await devices.watcherOrg(watcherId) : null;
    if (!watcherId || owner === null) throw notFound;
    return { owner, handle: client().watcher.get(keys.watcher(owner, watcherId), { params: internalParams() }), sameOrg: owner === orgId };
  };
  const runNotFound = () => new KilnError("run_not_found", "No such run.");

  const app = new OpenAPIHono<WorkerEnv>();
  app.use("/api/workers/*", requireDeviceToken(tokens));
  return app
    // Not async: the idle answer is made without a promise (see requireDeviceToken).
    .openapi(poll, (c) => {
      const body = c.req.valid("json");
      const binding = c.get("binding");
      const { deviceId, orgId } = boundDevice(binding, body.worker_id);
      if (body.platform && body.platform !== binding.platform) throw new KilnError("platform_mismatch", `This device is registered as ${binding.platform ?? "another platform"}.`);
      const update = { appVersion: body.app_version, capabilities: body.capabilities, label: body.label, timezone: body.timezone };
      devices.polled(deviceId);
      // Nothing offered and nothing to record: answered from memory, the DeviceActor is not called (and may sleep).
      if (devices.board.idle(deviceId, update)) return c.json(IDLE_BODY, 200);
      return (async () => {
        const result = await devices.deviceHandle(orgId, deviceId).poll(update);
        return c.json(result.kind === "run" ? result.run : { next_poll_seconds: result.next_poll_seconds }, 200);
      })();
    })
    .openapi(heartbeat, async (c) => {
      const body = c.req.valid("json");
      const { deviceId, orgId } = boundDevice(c.get("binding"), body.worker_id);
      const w = await watcherIn(orgId, watcherIdOfRun(body.run_id), runNotFound());
      if (!w.sameOrg) throw runNotFound();
      return c.json(await w.handle.heartbeat(body.run_id, deviceId), 200);
    })
    .openapi(complete, async (c) => {
      const body = c.req.valid("json");
      const runId = c.req.valid("param").runId;
      const { deviceId, orgId } = boundDevice(c.get("binding"), body.worker_id);
      const w = await watcherIn(orgId, watcherIdOfRun(runId), runNotFound());
      if (!w.sameOrg) throw runNotFound();
      return c.json(await w.handle.complete(runId, deviceId, body), 200);
    })
    .openapi(trigger, async (c) => {
      const binding = c.get("binding");
      const { deviceId, orgId } = boundDevice(binding);
      const watcherId = c.req.valid("param").watcherId;
      const w = await watcherIn(orgId, watcherId, new KilnError("watcher_not_found", "No such watcher."));
      if (!w.sameOrg) throw new ForbiddenError("This watcher belongs to an organization this token is not for.");
      const registered = devices.board.has(deviceId) || (await devices.deviceHandle(orgId, deviceId).view()).registeredAt !== null;
      if (!registered) throw new KilnError("device_not_registered", "This device has never polled: poll first (POST /api/workers/poll).");
      return c.json(await w.handle.trigger(deviceId, binding.user.id), 200);
    });
}
