import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { errorResponses, SESSION_SECURITY } from "../../shared/schemas/common.js";
import { ClearRuntimeIssuesBodySchema, RuntimeIssueSchema } from "../../shared/schemas/task.js";
import { orgActor } from "../actor-handles.js";
import type { KilnClient } from "../rivet.js";
import type { KilnEnv } from "../types.js";

const OrgParams = z.object({ orgId: z.string() });
const Issues = { description: "Runtime issues, newest first", content: { "application/json": { schema: z.object({ issues: z.array(RuntimeIssueSchema) }) } } };

const list = createRoute({
  method: "get",
  path: "/v1/orgs/{orgId}/runtime-issues",
  tags: ["runtime-issues"],
  summary: "Failures reported by the organization's workflows",
  security: SESSION_SECURITY,
  request: { params: OrgParams },
  responses: { 200: Issues, ...errorResponses(401, 403) },
});

const clear = createRoute({
  method: "post",
  path: "/v1/orgs/{orgId}/runtime-issues/clear",
  tags: ["runtime-issues"],
  summary: "Clear all runtime issues, or one actor's",
  security: SESSION_SECURITY,
  request: { params: OrgParams, body: { required: false, content: { "application/json": { schema: ClearRuntimeIssuesBodySchema } } } },
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
