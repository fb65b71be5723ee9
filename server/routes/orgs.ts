import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { errorResponses, jsonBody, jsonResponse, SESSION_SECURITY } from "../../shared/schemas/common.js";
import { OrgSettingsUpdateSchema, OrgSummarySchema } from "../../shared/schemas/org.js";
import { orgActor } from "../actor-handles.js";
import type { KilnClient } from "../rivet.js";
import type { KilnEnv } from "../types.js";
import { OrgParams } from "./params.js";

const base = { tags: ["organizations"], security: SESSION_SECURITY };

const getOrg = createRoute({
  ...base,
  method: "get",
  path: "/v1/orgs/{orgId}",
  summary: "The organization: profile, members and settings",
  request: { params: OrgParams },
  responses: { 200: jsonResponse(z.object({ organization: OrgSummarySchema }), "The organization"), ...errorResponses(401, 403) },
});

const updateSettings = createRoute({
  ...base,
  method: "patch",
  path: "/v1/orgs/{orgId}/settings",
  summary: "Change the organization's settings (owners and admins): where new task sandboxes run",
  description:
    "`daytona` needs Daytona configured (else 400 `provider_not_configured`). `local` and `local-git` run agents on Kiln's own machine, so they are refused with 403 `provider_not_allowed` unless the Kiln's default provider is one of them.",
  request: { params: OrgParams, body: jsonBody(OrgSettingsUpdateSchema) },
  responses: { 200: jsonResponse(z.object({ organization: OrgSummarySchema }), "Updated"), ...errorResponses(400, 401, 403) },
});

export function orgRoutes(client: () => KilnClient) {
  return new OpenAPIHono<KilnEnv>()
    .openapi(getOrg, async (c) => {
      const organization = await orgActor(client(), c.get("orgId"), c.get("user").id).summary();
      return c.json({ organization }, 200);
    })
    .openapi(updateSettings, async (c) => {
      const organization = await orgActor(client(), c.get("orgId"), c.get("user").id).updateSettings(c.req.valid("json"));
      return c.json({ organization }, 200);
    });
}
