import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { KilnError } from "../../shared/errors.js";
import { errorResponses, jsonBody, jsonResponse, SESSION_SECURITY } from "../../shared/schemas/common.js";
import {
  CreatedWorkerSchema,
  CreateWorkerBodySchema,
  ListWorkersQuerySchema,
  RenameWorkerBodySchema,
  WorkerTokensSchema,
  WorkerViewSchema,
} from "../../shared/schemas/worker.js";
import type { KilnEnv } from "../types.js";
import type { Workers } from "../workers.js";
import { WorkerHealthParams, WorkerParams as Params } from "./params.js";

const base = { tags: ["workers"], security: SESSION_SECURITY };

const create = createRoute({
  ...base,
  method: "post",
  path: "/v1/workers",
  summary: "Create a worker: cloud (provisions after the 202) or local (on your machine, 201)",
  request: { body: jsonBody(CreateWorkerBodySchema) },
  responses: {
    202: jsonResponse(CreatedWorkerSchema, "Cloud worker accepted; poll it, or `instance.url + /health`. Tokens are shown only now."),
    201: jsonResponse(CreatedWorkerSchema, "Local worker created. Tokens are shown only now."),
    ...errorResponses(400, 401, 403, 503),
    402: { description: "Payment required: `polar.checkoutUrl` is where to subscribe" },
  },
});
const list = createRoute({
  ...base,
  method: "get",
  path: "/v1/workers",
  summary: "The organization's workers (your personal one by default), each with its latest instance",
  request: { query: ListWorkersQuerySchema },
  responses: { 200: jsonResponse(z.object({ workers: z.array(WorkerViewSchema) }), "Workers"), ...errorResponses(400, 401, 403) },
});
const get = createRoute({
  ...base,
  method: "get",
  path: "/v1/workers/{id}",
  summary: "A worker and its instance",
  request: { params: Params },
  responses: { 200: jsonResponse(WorkerViewSchema, "The worker"), ...errorResponses(401, 404) },
});
const rename = createRoute({
  ...base,
  method: "patch",
  path: "/v1/workers/{id}",
  summary: "Rename a worker (its creator only)",
  request: { params: Params, body: jsonBody(RenameWorkerBodySchema) },
  responses: { 200: jsonResponse(WorkerViewSchema, "Renamed"), ...errorResponses(400, 401, 403, 404) },
});
const remove = createRoute({
  ...base,
  method: "delete",
  path: "/v1/workers/{id}",
  summary: "Delete a worker; its instance is deleted for real, with retries",
  request: { params: Params },
  responses: { 204: { description: "Deleting" }, ...errorResponses(401, 404) },
});
const rotate = createRoute({
  ...base,
  method: "post",
  path: "/v1/workers/{id}/tokens",
  summary: "Rotate the worker's tokens (its creator only); the new ones are shown once",
  request: { params: Params },
  responses: { 200: jsonResponse(z.object({ tokens: WorkerTokensSchema }), "New tokens"), ...errorResponses(401, 403, 404) },
});

export function workerRoutes(workers: Workers) {
  return new OpenAPIHono<KilnEnv>()
    .openapi(create, async (c) => {
      const input = c.req.valid("json");
      const created = await workers.create(c.get("user"), input);
      return input.destination === "cloud" ? c.json(created, 202) : c.json(created, 201);
    })
    .openapi(list, async (c) => {
      const q = c.req.valid("query");
      return c.json({ workers: await workers.list(c.get("user").id, q.orgId, q.limit) }, 200);
    })
    .openapi(get, async (c) => c.json(await workers.get(c.get("user").id, c.req.valid("param").id), 200))
    .openapi(rename, async (c) => c.json(await workers.rename(c.get("user").id, c.req.valid("param").id, c.req.valid("json").name), 200))
    .openapi(remove, async (c) => {
      await workers.remove(c.get("user").id, c.req.valid("param").id);
      return c.body(null, 204);
    })
    .openapi(rotate, async (c) => c.json({ tokens: await workers.rotateTokens(c.get("user").id, c.req.valid("param").id) }, 200));
}

/** Public: anyone holding the instance URL may ask whether it is up. */
const healthBase = { tags: ["workers"] };
const health = createRoute({
  ...healthBase,
  method: "get",
  path: "/w/{orgId}/{workerId}/health",
  summary: "`instance.url + /health` of a cloud worker: public, answers only whether it is up",
  request: { params: WorkerHealthParams },
  responses: {
    200: jsonResponse(z.object({ ok: z.literal(true) }), "The worker is up"),
    ...errorResponses(400, 503),
  },
});

/** `instance.url + /health` for cloud workers: public, answers only up or not. */
export function workerHealthRoutes(workers: Workers) {
  return new OpenAPIHono<KilnEnv>().openapi(health, async (c) => {
    const { orgId, workerId } = c.req.valid("param");
    if (!(await workers.health(orgId, workerId))) throw new KilnError("service_unavailable", "The worker is not up.");
    return c.json({ ok: true as const }, 200);
  });
}
