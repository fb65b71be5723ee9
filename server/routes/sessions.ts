import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { errorResponses, SESSION_SECURITY } from "../../shared/schemas/common.js";
import {
  OpenSessionBodySchema,
  SendMessageBodySchema,
  SessionEventSchema,
  SessionEventsQuerySchema,
  SessionSummarySchema,
} from "../../shared/schemas/session.js";
import { SessionIdSchema } from "../../shared/schemas/task.js";
import { sessionActor, taskActor } from "../actor-handles.js";
import type { KilnClient } from "../rivet.js";
import type { KilnEnv } from "../types.js";

const TaskParams = z.object({ orgId: z.string(), taskId: z.string().min(1).max(64) });
const SessionParams = TaskParams.extend({ sessionId: SessionIdSchema });
const Session = { description: "The session", content: { "application/json": { schema: z.object({ session: SessionSummarySchema }) } } };
const base = { tags: ["sessions"], security: SESSION_SECURITY };

const open = createRoute({
  ...base,
  method: "post",
  path: "/v1/orgs/{orgId}/tasks/{taskId}/sessions",
  summary: "Open an agent session in the task's sandbox (closes the active one); it provisions after the 202",
  request: { params: TaskParams, body: { required: false, content: { "application/json": { schema: OpenSessionBodySchema } } } },
  responses: { 202: { ...Session, description: "Accepted; watch `status`" }, ...errorResponses(400, 401, 403, 404, 409) },
});
const get = createRoute({
  ...base,
  method: "get",
  path: "/v1/orgs/{orgId}/tasks/{taskId}/sessions/{sessionId}",
  summary: "A session's status",
  request: { params: SessionParams },
  responses: { 200: Session, ...errorResponses(401, 403, 404) },
});
const send = createRoute({
  ...base,
  method: "post",
  path: "/v1/orgs/{orgId}/tasks/{taskId}/sessions/{sessionId}/messages",
  summary: "Send a message: the agent's turn runs after the 202 and streams to subscribers",
  request: { params: SessionParams, body: { required: true, content: { "application/json": { schema: SendMessageBodySchema } } } },
  responses: { 202: { ...Session, description: "The turn is running" }, ...errorResponses(400, 401, 403, 404, 409) },
});
const stop = createRoute({
  ...base,
  method: "post",
  path: "/v1/orgs/{orgId}/tasks/{taskId}/sessions/{sessionId}/stop",
  summary: "Interrupt the running turn",
  request: { params: SessionParams },
  responses: { 200: Session, ...errorResponses(401, 403, 404) },
});
const events = createRoute({
  ...base,
  method: "get",
  path: "/v1/orgs/{orgId}/tasks/{taskId}/sessions/{sessionId}/events",
  summary: "Page the transcript: events after `after`, oldest first",
  request: { params: SessionParams, query: SessionEventsQuerySchema },
  responses: {
    200: {
      description: "Events; `next` is the `after` for the next page, or null",
      content: { "application/json": { schema: z.object({ events: z.array(SessionEventSchema), next: z.number().nullable() }) } },
    },
    ...errorResponses(400, 401, 403, 404),
  },
});
const close = createRoute({
  ...base,
  method: "delete",
  path: "/v1/orgs/{orgId}/tasks/{taskId}/sessions/{sessionId}",
  summary: "Close the session",
  request: { params: SessionParams },
  responses: { 200: Session, ...errorResponses(401, 403, 404) },
});

export function sessionRoutes(client: () => KilnClient) {
  const handle = (c: { get(k: "orgId"): string; get(k: "user"): { id: string } }, p: { taskId: string; sessionId: string }) =>
    sessionActor(client(), c.get("orgId"), c.get("user").id, p.taskId, p.sessionId);
  return new OpenAPIHono<KilnEnv>()
    .openapi(open, async (c) => {
      const t = await taskActor(client(), c.get("orgId"), c.get("user").id, c.req.valid("param").taskId);
      const body = c.req.header("content-type")?.includes("application/json") ? c.req.valid("json") : {};
      return c.json({ session: await t.openSession(body) }, 202);
    })
    .openapi(get, async (c) => c.json({ session: await (await handle(c, c.req.valid("param"))).view() }, 200))
    .openapi(send, async (c) => {
      const s = await handle(c, c.req.valid("param"));
      return c.json({ session: await s.sendMessage(c.req.valid("json").text) }, 202);
    })
    .openapi(stop, async (c) => c.json({ session: await (await handle(c, c.req.valid("param"))).stop() }, 200))
    .openapi(events, async (c) => c.json(await (await handle(c, c.req.valid("param"))).events(c.req.valid("query")), 200))
    .openapi(close, async (c) => c.json({ session: await (await handle(c, c.req.valid("param"))).close() }, 200));
}
