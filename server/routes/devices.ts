import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { errorResponses, jsonBody, jsonResponse, SESSION_SECURITY } from "../../shared/schemas/common.js";
import { DeviceSchema, MintDeviceTokenBodySchema, MintedDeviceTokenSchema, RelabelDeviceBodySchema } from "../../shared/schemas/device.js";
import type { Devices } from "../devices.js";
import type { KilnEnv } from "../types.js";
import { requireSessionCredential } from "./tokens.js";
import { pathId } from "../../shared/schemas/text.js";

const base = { tags: ["devices"], security: SESSION_SECURITY };
const Params = z.object({ id: pathId() });

const mint = createRoute({
  ...base,
  method: "post",
  path: "/v1/devices/mint-token",
  summary: "Pre-register a device (platform locked) and get a token bound to it, shown once",
  request: { body: jsonBody(MintDeviceTokenBodySchema) },
  responses: { 201: jsonResponse(MintedDeviceTokenSchema, "The device's id and token"), ...errorResponses(400, 401, 403, 413) },
});
const list = createRoute({
  ...base,
  method: "get",
  path: "/v1/devices",
  summary: "Your devices; `online` means seen within 20 minutes",
  responses: { 200: jsonResponse(z.object({ devices: z.array(DeviceSchema) }), "Devices"), ...errorResponses(401, 403) },
});
const relabel = createRoute({
  ...base,
  method: "patch",
  path: "/v1/devices/{id}",
  summary: "Relabel a device",
  request: { params: Params, body: jsonBody(RelabelDeviceBodySchema) },
  responses: { 200: jsonResponse(DeviceSchema, "The device"), ...errorResponses(400, 401, 403, 404, 413) },
});
const remove = createRoute({
  ...base,
  method: "delete",
  path: "/v1/devices/{id}",
  summary: "Delete a device: its watchers stay (unpinned), its pending and running runs are cancelled, its tokens revoked",
  request: { params: Params },
  responses: { 204: { description: "Deleted" }, ...errorResponses(401, 403, 404) },
});

export function deviceRoutes(devices: Devices) {
  return new OpenAPIHono<KilnEnv>()
    .openapi(mint, async (c) => {
      requireSessionCredential(c);
      return c.json(await devices.mint(c.get("user").id, c.req.valid("json")), 201);
    })
    .openapi(list, async (c) => c.json({ devices: await devices.list(c.get("user").id) }, 200))
    .openapi(relabel, async (c) => c.json(await devices.relabel(c.get("user").id, c.req.valid("param").id, c.req.valid("json").label), 200))
    .openapi(remove, async (c) => {
      await devices.remove(c.get("user").id, c.req.valid("param").id);
      return c.body(null, 204);
    });
}
