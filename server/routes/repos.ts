import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { KilnError } from "../../shared/errors.js";
import { errorResponses, jsonBody, jsonResponse, SESSION_SECURITY } from "../../shared/schemas/common.js";
import { AddRepoBodySchema, HistoryEventSchema, HistoryQuerySchema, RepoSchema } from "../../shared/schemas/task.js";
import { historyActor, orgActor } from "../actor-handles.js";
import type { KilnClient } from "../rivet.js";
import type { KilnEnv } from "../types.js";
import { OrgParams, RepoParams } from "./params.js";

const base = { tags: ["repos"], security: SESSION_SECURITY };

const addRepo = createRoute({
  ...base,
  method: "post",
  path: "/v1/orgs/{orgId}/repos",
  summary: "Add a repository by remote URL; the remote is contacted first",
  request: { params: OrgParams, body: jsonBody(AddRepoBodySchema) },
  responses: {
    201: jsonResponse(z.object({ repo: RepoSchema }), "Added"),
    200: jsonResponse(z.object({ repo: RepoSchema }), "Already added: the same repo"),
    ...errorResponses(400, 401, 403, 422),
  },
});

const listRepos = createRoute({
  ...base,
  method: "get",
  path: "/v1/orgs/{orgId}/repos",
  summary: "The organization's repositories",
  request: { params: OrgParams },
  responses: { 200: jsonResponse(z.object({ repos: z.array(RepoSchema) }), "Repositories"), ...errorResponses(401, 403) },
});

const history = createRoute({
  ...base,
  method: "get",
  path: "/v1/orgs/{orgId}/repos/{repoId}/history",
  summary: "The repository's task history, newest first",
  request: { params: RepoParams, query: HistoryQuerySchema },
  responses: { 200: jsonResponse(z.object({ events: z.array(HistoryEventSchema) }), "History"), ...errorResponses(400, 401, 403, 404) },
});

export function repoRoutes(client: () => KilnClient) {
  return new OpenAPIHono<KilnEnv>()
    .openapi(addRepo, async (c) => {
      const { repo, created } = await orgActor(client(), c.get("orgId"), c.get("user").id).addRepo(c.req.valid("json").remoteUrl);
      return created ? c.json({ repo }, 201) : c.json({ repo }, 200);
    })
    .openapi(listRepos, async (c) => {
      const repos = await orgActor(client(), c.get("orgId"), c.get("user").id).listRepos();
      return c.json({ repos }, 200);
    })
    .openapi(history, async (c) => {
      const orgId = c.get("orgId");
      const userId = c.get("user").id;
      const { repoId } = c.req.valid("param");
      const repos = await orgActor(client(), orgId, userId).listRepos();
      if (!repos.some((r) => r.id === repoId)) throw new KilnError("repo_not_found", "No such repository in this organization.");
      const events = await historyActor(client(), orgId, repoId, userId).list(c.req.valid("query"));
      return c.json({ events }, 200);
    });
}
