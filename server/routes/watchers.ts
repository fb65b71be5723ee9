import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { InvalidRequestError, KilnError } from "../../shared/errors.js";
import { keys } from "../../shared/keys.js";
import { errorResponses, jsonBody, jsonResponse, SESSION_SECURITY } from "../../shared/schemas/common.js";
import { CreateWatcherBodySchema, RunPageQuerySchema, UpdateWatcherBodySchema, WatcherRunSchema, WatcherSummarySchema, WatcherViewSchema } from "../../shared/schemas/watcher.js";
import { internalParams } from "../../actors/auth.js";
import { orgActor } from "../actor-handles.js";
import type { Devices } from "../devices.js";
import type { KilnClient } from "../rivet.js";
import type { KilnEnv } from "../types.js";
import { pathId } from "../../shared/schemas/text.js";
import { OrgParams } from "./params.js";

const base = { tags: ["watchers"], security: SESSION_SECURITY };
const WatcherParams = OrgParams.extend({ id: pathId() });
const Watcher = jsonResponse(WatcherViewSchema, "The watcher");

const list = createRoute({
  ...base,
  method: "get",
  path: "/v1/orgs/{orgId}/watchers",
  summary: "The organization's watchers, archived ones included",
  request: { params: OrgParams },
  responses: { 200: jsonResponse(z.object({ watchers: z.array(WatcherSummarySchema) }), "Watchers"), ...errorResponses(401, 403) },
});
const create = createRoute({
  ...base,
  method: "post",
  path: "/v1/orgs/{orgId}/watchers",
  summary: "Create a watcher: a cron schedule in an IANA timezone, an agent and a prompt, optionally pinned to a device",
  request: { params: OrgParams, body: jsonBody(CreateWatcherBodySchema) },
  responses: { 201: Watcher, ...errorResponses(400, 401, 403, 404, 409, 413) },
});
const get = createRoute({
  ...base,
  method: "get",
  path: "/v1/orgs/{orgId}/watchers/{id}",
  summary: "A watcher with its current prompt",
  request: { params: WatcherParams },
  responses: { 200: Watcher, ...errorResponses(401, 403, 404) },
});
const update = createRoute({
  ...base,
  method: "patch",
  path: "/v1/orgs/{orgId}/watchers/{id}",
  summary: "Update a watcher; a new prompt is a new version (runs keep theirs)",
  request: { params: WatcherParams, body: jsonBody(UpdateWatcherBodySchema) },
  responses: { 200: Watcher, ...errorResponses(400, 401, 403, 404, 409, 413) },
});
const archive = createRoute({
  ...base,
  method: "delete",
  path: "/v1/orgs/{orgId}/watchers/{id}",
  summary: "Archive a watcher: its schedule stops and an active run is cancelled",
  request: { params: WatcherParams },
  responses: { 200: Watcher, ...errorResponses(401, 403, 404) },
});
const runs = createRoute({
  ...base,
  method: "get",
  path: "/v1/orgs/{orgId}/watchers/{id}/runs",
  summary: "A page of the watcher's runs, newest first, with status, timing and output",
  request: { params: WatcherParams, query: RunPageQuerySchema },
  responses: {
    200: jsonResponse(z.object({ runs: z.array(WatcherRunSchema), nextBefore: z.string().nullable() }), "Runs"),
    ...errorResponses(400, 401, 403, 404),
  },
});

export function watcherRoutes(client: () => KilnClient, devices: Devices) {
  /** The watcher, addressed only when the index says it is this org's; anything else is 404. */
  const watcher = async (orgId: string, userId: string, watcherId: string) => {
    if ((await devices.watcherOrg(watcherId)) !== orgId) throw new KilnError("watcher_not_found", "No such watcher.");
    return client().watcher.get(keys.watcher(orgId, watcherId), { params: internalParams(userId) });
  };
  const checkDevice = async (orgId: string, deviceId: string | null | undefined) => {
    if (deviceId && !(await devices.inOrg(orgId, deviceId))) {
      throw new InvalidRequestError("deviceWorkerId is not a device of this organization.", [{ path: ["deviceWorkerId"], message: "unknown device" }]);
    }
  };
  return new OpenAPIHono<KilnEnv>()
    .openapi(list, async (c) => c.json({ watchers: await orgActor(client(), c.get("orgId"), c.get("user").id).listWatchers() }, 200))
    .openapi(create, async (c) => {
      const body = c.req.valid("json");
      await checkDevice(c.get("orgId"), body.deviceWorkerId);
      return c.json(await orgActor(client(), c.get("orgId"), c.get("user").id).createWatcher(body), 201);
    })
    .openapi(get, async (c) => c.json(await (await watcher(c.get("orgId"), c.get("user").id, c.req.valid("param").id)).view(), 200))
    .openapi(update, async (c) => {
      const body = c.req.valid("json");
      await checkDevice(c.get("orgId"), body.deviceWorkerId);
      return c.json(await (await watcher(c.get("orgId"), c.get("user").id, c.req.valid("param").id)).update(body), 200);
    })
    .openapi(archive, async (c) => c.json(await (await watcher(c.get("orgId"), c.get("user").id, c.req.valid("param").id)).archive(), 200))
    .openapi(runs, async (c) => c.json(await (await watcher(c.get("orgId"), c.get("user").id, c.req.valid("param").id)).listRuns(c.req.valid("query")), 200));
}
