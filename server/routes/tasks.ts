import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { TypedResponse } from "hono";
import { errorResponses, jsonBody, jsonResponse, SESSION_SECURITY } from "../../shared/schemas/common.js";
import {
  CreateTaskBodySchema,
  DraftBodySchema,
  ListTasksQuerySchema,
  RenameBranchBodySchema,
  RenameTaskBodySchema,
  TaskPageSchema,
  type TaskPage,
  type TaskView,
  TaskSummarySchema,
  TaskViewSchema,
  WorkbenchSchema,
} from "../../shared/schemas/task.js";
import { orgActor, taskActor, workbenchSessionId } from "../actor-handles.js";
import type { KilnClient } from "../rivet.js";
import type { ViewCache } from "../view-cache.js";
import type { KilnEnv } from "../types.js";
import { OrgParams, SessionParams, TaskParams } from "./params.js";

const base = { tags: ["tasks"], security: SESSION_SECURITY };

const createTask = createRoute({
  ...base,
  method: "post",
  path: "/v1/orgs/{orgId}/tasks",
  summary: "Create a task (one branch); provisioning continues after the 202",
  request: { params: OrgParams, body: jsonBody(CreateTaskBodySchema) },
  responses: { 202: jsonResponse(z.object({ task: TaskSummarySchema }), "Accepted; watch `lifecycle`"), ...errorResponses(400, 401, 403, 404) },
});
const listTasks = createRoute({
  ...base,
  method: "get",
  path: "/v1/orgs/{orgId}/tasks",
  summary: "Task summaries, from the organization's index",
  request: { params: OrgParams, query: ListTasksQuerySchema },
  responses: { 200: jsonResponse(TaskPageSchema, "One page of tasks, newest first"), ...errorResponses(400, 401, 403) },
});
const getTask = createRoute({
  ...base,
  method: "get",
  path: "/v1/orgs/{orgId}/tasks/{taskId}",
  summary: "A task and your own workbench state on it",
  request: { params: TaskParams },
  responses: { 200: jsonResponse(TaskViewSchema, "The task"), ...errorResponses(401, 403, 404) },
});
const renameTask = createRoute({
  ...base,
  method: "patch",
  path: "/v1/orgs/{orgId}/tasks/{taskId}",
  summary: "Rename the task",
  request: { params: TaskParams, body: jsonBody(RenameTaskBodySchema) },
  responses: { 200: jsonResponse(TaskViewSchema, "Renamed"), ...errorResponses(400, 401, 403, 404) },
});
const renameBranch = createRoute({
  ...base,
  method: "post",
  path: "/v1/orgs/{orgId}/tasks/{taskId}/branch",
  summary: "Rename the task's branch (a git operation in its working copy)",
  request: { params: TaskParams, body: jsonBody(RenameBranchBodySchema) },
  responses: { 200: jsonResponse(TaskViewSchema, "Renamed"), ...errorResponses(400, 401, 403, 404, 409) },
});
const archiveTask = createRoute({
  ...base,
  method: "post",
  path: "/v1/orgs/{orgId}/tasks/{taskId}/archive",
  summary: "Archive the task; its sandbox is stopped",
  request: { params: TaskParams },
  responses: { 202: jsonResponse(TaskViewSchema, "Archiving"), ...errorResponses(401, 403, 404, 409) },
});
const killTask = createRoute({
  ...base,
  method: "delete",
  path: "/v1/orgs/{orgId}/tasks/{taskId}",
  summary: "Kill the task: its sandbox is destroyed",
  request: { params: TaskParams },
  responses: { 202: jsonResponse(TaskViewSchema, "Killing"), ...errorResponses(401, 403, 404) },
});
const saveDraft = createRoute({
  ...base,
  method: "put",
  path: "/v1/orgs/{orgId}/tasks/{taskId}/sessions/{sessionId}/draft",
  summary: "Save your draft prompt for a session",
  request: { params: SessionParams, body: jsonBody(DraftBodySchema) },
  responses: { 200: jsonResponse(z.object({ workbench: WorkbenchSchema }), "Your workbench state"), ...errorResponses(400, 401, 403, 404) },
});
const markRead = createRoute({
  ...base,
  method: "post",
  path: "/v1/orgs/{orgId}/tasks/{taskId}/sessions/{sessionId}/read",
  summary: "Mark a session read, for you",
  request: { params: SessionParams },
  responses: { 200: jsonResponse(z.object({ workbench: WorkbenchSchema }), "Your workbench state"), ...errorResponses(400, 401, 403, 404) },
});
const markUnread = createRoute({
  ...base,
  method: "post",
  path: "/v1/orgs/{orgId}/tasks/{taskId}/sessions/{sessionId}/unread",
  summary: "Mark a session unread, for you",
  request: { params: SessionParams },
  responses: { 200: jsonResponse(z.object({ workbench: WorkbenchSchema }), "Your workbench state"), ...errorResponses(400, 401, 403, 404) },
});

/** What one task change drops of the view cache: every user's view of it. */
export function taskViewGroup(orgId: string, taskId: string): string {
  return `${orgId}/${taskId}`;
}

export function taskRoutes(client: () => KilnClient, views: ViewCache<TaskView>) {
  return new OpenAPIHono<KilnEnv>()
    .openapi(createTask, async (c) => {
      const task = await orgActor(client(), c.get("orgId"), c.get("user").id).createTask(c.req.valid("json"));
      return c.json({ task }, 202);
    })
    .openapi(listTasks, async (c) => {
      // Serialized once per change in the OrganizationActor's list view: sent as it comes.
      const page = await orgActor(client(), c.get("orgId"), c.get("user").id).listTasksJson(c.req.valid("query"));
      return c.body(page, 200, { "content-type": "application/json" }) as unknown as TypedResponse<TaskPage, 200, "json">;
    })
    .openapi(getTask, async (c) => {
      // A polling path: the view comes from memory until the TaskActor changes (it drops it then).
      const orgId = c.get("orgId");
      const userId = c.get("user").id;
      const { taskId } = c.req.valid("param");
      const group = taskViewGroup(orgId, taskId);
      const view = await views.resolve(`${group}/${userId}`, async () => (await taskActor(client(), orgId, userId, taskId)).view(), () => [group]);
      return c.json(view, 200);
    })
    .openapi(renameTask, async (c) => {
      const t = await taskActor(client(), c.get("orgId"), c.get("user").id, c.req.valid("param").taskId);
      return c.json(await t.rename(c.req.valid("json").title), 200);
    })
    .openapi(renameBranch, async (c) => {
      const t = await taskActor(client(), c.get("orgId"), c.get("user").id, c.req.valid("param").taskId);
      return c.json(await t.renameBranch(c.req.valid("json").name), 200);
    })
    .openapi(archiveTask, async (c) => {
      const t = await taskActor(client(), c.get("orgId"), c.get("user").id, c.req.valid("param").taskId);
      return c.json(await t.archive(), 202);
    })
    .openapi(killTask, async (c) => {
      const t = await taskActor(client(), c.get("orgId"), c.get("user").id, c.req.valid("param").taskId);
      return c.json(await t.kill(), 202);
    })
    .openapi(saveDraft, async (c) => {
      const { taskId, sessionId } = c.req.valid("param");
      const t = await taskActor(client(), c.get("orgId"), c.get("user").id, taskId);
      return c.json({ workbench: await t.setDraft(workbenchSessionId(sessionId), c.req.valid("json").text) }, 200);
    })
    .openapi(markRead, async (c) => {
      const { taskId, sessionId } = c.req.valid("param");
      const t = await taskActor(client(), c.get("orgId"), c.get("user").id, taskId);
      return c.json({ workbench: await t.markRead(workbenchSessionId(sessionId)) }, 200);
    })
    .openapi(markUnread, async (c) => {
      const { taskId, sessionId } = c.req.valid("param");
      const t = await taskActor(client(), c.get("orgId"), c.get("user").id, taskId);
      return c.json({ workbench: await t.markUnread(workbenchSessionId(sessionId)) }, 200);
    });
}
