import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { errorResponses, jsonBody, jsonResponse, SESSION_SECURITY } from "../../shared/schemas/common.js";
import { ClearRuntimeIssuesBodySchema, RuntimeIssueSchema } from "../../shared/schemas/task.js";
import { orgActor } from "../actor-handles.js";
import type { KilnClient } from "../rivet.js";
import type { KilnEnv } from "../types.js";
import { OrgParams } from "./params.js";

const base = { tags: ["runtime-issues"], security: SESSION_SECURITY };
const Issues = jsonResponse(z.object({ issues: z.array(RuntimeIssueSchema) }), "Runtime issues, newest first");

const list = createRoute({
  ...base,
  method: "get",
  path: "/v1/orgs/{orgId}/runtime-issues",
  summary: "Failures reported by the organization's workflows",
  request: { params: OrgParams },
  responses: { 200: Issues, ...errorResponses(401, 403) },
});

const clear = createRoute({
  ...base,
  method: "post",
  path: "/v1/orgs/{orgId}/runtime-issues/clear",
  summary: "Clear all runtime issues, or one actor's",
  request: { params: OrgParams, body: jsonBody(ClearRuntimeIssuesBodySchema, false) },
  responses: { 200: Issues, ...errorResponses(400, 401, 403) },
});

export function runtimeIssueRoutes(client: () => KilnClient) {
  return new OpenAPIHono<KilnEnv>()
    .openapi(list, async (c) => {
      const issues = await orgActor(client(), c.get("orgId"), c.get("user").id).listRuntimeIssues();
      return c.json({ issues }, 200);
    })
    .openapi(clear, async (c) => {
      const body = c.req.header("content-type")?.includes("application/json") ? c.req.valid("json") : {};
      const issues = await orgActor(client(), c.get("orgId"), c.get("user").id).clearRuntimeIssues(body.actorId);
      return c.json({ issues }, 200);
    });
}
