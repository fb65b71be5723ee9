import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { errorResponses, jsonBody, jsonResponse, SESSION_SECURITY } from "../../shared/schemas/common.js";
import { AgentSchema, CreateAgentBodySchema, UpdateAgentBodySchema } from "../../shared/schemas/watcher.js";
import { orgActor } from "../actor-handles.js";
import type { KilnClient } from "../rivet.js";
import type { KilnEnv } from "../types.js";
import { pathId } from "../../shared/schemas/text.js";
import { OrgParams } from "./params.js";

const base = { tags: ["agents"], security: SESSION_SECURITY };
const AgentParams = OrgParams.extend({ id: pathId() });

const list = createRoute({
  ...base,
  method: "get",
  path: "/v1/orgs/{orgId}/agents",
  summary: "The organization's agents",
  request: { params: OrgParams },
  responses: { 200: jsonResponse(z.object({ agents: z.array(AgentSchema) }), "Agents"), ...errorResponses(401, 403) },
});
const create = createRoute({
  ...base,
  method: "post",
  path: "/v1/orgs/{orgId}/agents",
  summary: "Create an agent",
  request: { params: OrgParams, body: jsonBody(CreateAgentBodySchema) },
  responses: { 201: jsonResponse(AgentSchema, "The agent"), ...errorResponses(400, 401, 403, 413) },
});
const update = createRoute({
  ...base,
  method: "patch",
  path: "/v1/orgs/{orgId}/agents/{id}",
  summary: "Update an agent",
  request: { params: AgentParams, body: jsonBody(UpdateAgentBodySchema) },
  responses: { 200: jsonResponse(AgentSchema, "The agent"), ...errorResponses(400, 401, 403, 404, 413) },
});
const remove = createRoute({
  ...base,
  method: "delete",
  path: "/v1/orgs/{orgId}/agents/{id}",
  summary: "Delete an agent; its watchers stay, without an agent. A deleted default agent never comes back.",
  request: { params: AgentParams },
  responses: { 204: { description: "Deleted" }, ...errorResponses(401, 403, 404) },
});

export function agentRoutes(client: () => KilnClient) {
  const org = (c: { get(k: "orgId"): string; get(k: "user"): { id: string } }) => orgActor(client(), c.get("orgId"), c.get("user").id);
  return new OpenAPIHono<KilnEnv>()
    .openapi(list, async (c) => c.json({ agents: await org(c).listAgents() }, 200))
    .openapi(create, async (c) => c.json(await org(c).createAgent(c.req.valid("json")), 201))
    .openapi(update, async (c) => c.json(await org(c).updateAgent(c.req.valid("param").id, c.req.valid("json")), 200))
    .openapi(remove, async (c) => {
      await org(c).deleteAgent(c.req.valid("param").id);
      return c.body(null, 204);
    });
}
