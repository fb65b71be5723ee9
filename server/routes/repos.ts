import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { KilnError } from "../../shared/errors.js";
import { errorResponses, jsonBody, jsonResponse, SESSION_SECURITY } from "../../shared/schemas/common.js";
import { AddRepoBodySchema, HistoryEventSchema, HistoryQuerySchema, RepoSchema } from "../../shared/schemas/task.js";
import { historyActor, orgActor } from "../actor-handles.js";
import type { KilnClient } from "../rivet.js";
import type { KilnEnv } from "../types.js";

const OrgParams = z.object({ orgId: z.string() });
const RepoParams = OrgParams.extend({ repoId: z.string().min(1).max(64) });

const addRepo = createRoute({
  method: "post",
  path: "/v1/orgs/{orgId}/repos",
  tags: ["repos"],
  summary: "Add a repository by remote URL; the remote is contacted first",
  security: SESSION_SECURITY,
  request: { params: OrgParams, body: { required: true, content: { "application/json": { schema: AddRepoBodySchema } } } },
  responses: {
    201: jsonResponse(z.object({ repo: RepoSchema }), "Added"),
    200: jsonResponse(z.object({ repo: RepoSchema }), "Already added: the same repo"),
    ...errorResponses(400, 401, 403, 422),
  },
});

const listRepos = createRoute({
  method: "get",
  path: "/v1/orgs/{orgId}/repos",
  tags: ["repos"],
  summary: "The organization's repositories",
  security: SESSION_SECURITY,
  request: { params: OrgParams },
  responses: { 200: jsonResponse(z.object({ repos: z.array(RepoSchema) }), "Repositories"), ...errorResponses(401, 403) },
});

const history = createRoute({
  method: "get",
  path: "/v1/orgs/{orgId}/repos/{repoId}/history",
  tags: ["repos"],
  summary: "The repository's task history, newest first",
  security: SESSION_SECURITY,
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
      if (!repos.some((r) => r.id === repoId)) throw new KilnError("repo_not_found", `No repository ${repoId} in this organization.`);
      const events = await historyActor(client(), orgId, repoId, userId).list(c.req.valid("query"));
      return c.json({ events }, 200);
    });
}
