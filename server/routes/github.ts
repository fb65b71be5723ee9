import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { internalParams } from "../../actors/auth.js";
import { ForbiddenError, KilnError } from "../../shared/errors.js";
import { keys } from "../../shared/keys.js";
import { errorResponses, jsonBody, jsonResponse, SESSION_SECURITY } from "../../shared/schemas/common.js";
import { CreatePullRequestBodySchema, GitHubStatusSchema, PullRequestRefSchema } from "../../shared/schemas/github.js";
import { orgActor } from "../actor-handles.js";
import type { KilnClient } from "../rivet.js";
import type { KilnEnv } from "../types.js";
import { OrgParams, TaskParams } from "./params.js";

const base = { tags: ["github"], security: SESSION_SECURITY };
const Status = jsonResponse(z.object({ github: GitHubStatusSchema }), "The organization's GitHub connection");

const getStatus = createRoute({
  ...base,
  method: "get",
  path: "/v1/orgs/{orgId}/github",
  summary: "The org's GitHub connection: status, installation, sync progress, pending members",
  request: { params: OrgParams },
  responses: { 200: Status, ...errorResponses(401, 403, 503) },
});

const sync = createRoute({
  ...base,
  method: "post",
  path: "/v1/orgs/{orgId}/github/sync",
  summary: "Start a full sync of repositories, members and open pull requests (owners and admins)",
  description: "202 with the status; 409 `conflict` while a sync is queued or running, or while the installation is suspended; 409 `github_not_installed` without an installation.",
  request: { params: OrgParams },
  responses: { 202: Status, ...errorResponses(401, 403, 409, 503) },
});

const reconnect = createRoute({
  ...base,
  method: "post",
  path: "/v1/orgs/{orgId}/github/reconnect",
  summary: "After fixing the installation on GitHub, leave `reconnect_required` and sync again (owners and admins)",
  request: { params: OrgParams },
  responses: { 202: Status, ...errorResponses(401, 403, 409, 503) },
});

const myGitHub = createRoute({
  ...base,
  method: "get",
  path: "/v1/me/github",
  summary: "Your GitHub identity from GitHub sign-in (never the token)",
  responses: {
    200: jsonResponse(
      z.object({ github: z.object({ githubId: z.number().int().nullable(), login: z.string().nullable(), orgs: z.array(z.string()), hasToken: z.boolean(), updatedAt: z.string().nullable() }) }),
      "Your GitHub identity; empty until you sign in with GitHub",
    ),
    ...errorResponses(401),
  },
});

const createPullRequest = createRoute({
  ...base,
  method: "post",
  path: "/v1/orgs/{orgId}/tasks/{taskId}/pull-request",
  summary: "Push the task's branch and open its pull request on GitHub (an open one for the branch is linked, not duplicated)",
  description: "201 with a new pull request, 200 when one was already open; 409 `conflict` when the task is not ready or not on a GitHub repository, or the connection needs attention.",
  request: { params: TaskParams, body: jsonBody(CreatePullRequestBodySchema, false) },
  responses: {
    201: jsonResponse(z.object({ pullRequest: PullRequestRefSchema }), "Opened"),
    200: jsonResponse(z.object({ pullRequest: PullRequestRefSchema }), "Already open: linked"),
    ...errorResponses(400, 401, 403, 404, 409, 503),
  },
});

/** The org's GitHub connection. The GitHubStateActor decides; these routes authorize and address it. */
export function githubRoutes(configured: boolean, client: () => KilnClient) {
  const state = (orgId: string) => client().githubState.getOrCreate(keys.githubState(orgId), { params: internalParams(), createWithInput: { orgId } });
  const requireConfigured = () => {
    if (!configured) throw new KilnError("github_not_configured", "The GitHub App is not configured on this Kiln.");
  };
  const requireManager = async (orgId: string, userId: string) => {
    const role = await orgActor(client(), orgId, userId).myRole();
    if (role !== "owner" && role !== "admin") throw new ForbiddenError("Only owners and admins can sync GitHub.");
  };
  return new OpenAPIHono<KilnEnv>()
    .openapi(myGitHub, async (c) => {
      const userId = c.get("user").id;
      const github = await client().userGitHub.getOrCreate(keys.userGitHub(userId), { params: internalParams(userId), createWithInput: { userId } }).identity();
      return c.json({ github }, 200);
    })
    .openapi(createPullRequest, async (c) => {
      requireConfigured();
      const orgId = c.get("orgId");
      const task = await orgActor(client(), orgId, c.get("user").id).locateTask(c.req.valid("param").taskId);
      const githubId = /^gh-(\d+)$/.exec(task.repoId)?.[1];
      if (!githubId) throw new KilnError("conflict", "This task's repository is not on GitHub through the GitHub App.");
      const body = c.req.header("content-type")?.includes("application/json") ? c.req.valid("json") : {};
      const result = await state(orgId).openPullRequest({ taskId: task.id, repoId: Number(githubId), ...body });
      return c.json({ pullRequest: result.pullRequest }, result.created ? 201 : 200);
    })
    .openapi(getStatus, async (c) => {
      requireConfigured();
      return c.json({ github: await state(c.get("orgId")).status() }, 200);
    })
    .openapi(sync, async (c) => {
      requireConfigured();
      await requireManager(c.get("orgId"), c.get("user").id);
      return c.json({ github: await state(c.get("orgId")).requestSync() }, 202);
    })
    .openapi(reconnect, async (c) => {
      requireConfigured();
      await requireManager(c.get("orgId"), c.get("user").id);
      return c.json({ github: await state(c.get("orgId")).requestSync({ reconnect: true }) }, 202);
    });
}
