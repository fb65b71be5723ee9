import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { errorResponses, jsonBody, jsonResponse, SESSION_SECURITY } from "../../shared/schemas/common.js";
import {
  OpenSessionBodySchema,
  SendMessageBodySchema,
  SessionEventSchema,
  SessionEventsQuerySchema,
  SessionSummarySchema,
} from "../../shared/schemas/session.js";
import type { Context } from "hono";
import { taskActor, withSession } from "../actor-handles.js";
import type { KilnClient } from "../rivet.js";
import type { KilnEnv } from "../types.js";
import { SessionParams, TaskParams } from "./params.js";

type SessionHandle = Parameters<Parameters<typeof withSession>[2]>[0];

const Session = z.object({ session: SessionSummarySchema });
const base = { tags: ["sessions"], security: SESSION_SECURITY };

const open = createRoute({
  ...base,
  method: "post",
  path: "/v1/orgs/{orgId}/tasks/{taskId}/sessions",
  summary: "Open an agent session in the task's sandbox (closes the active one); it provisions after the 202",
  request: { params: TaskParams, body: jsonBody(OpenSessionBodySchema, false) },
  responses: { 202: jsonResponse(Session, "Accepted; watch `status`"), ...errorResponses(400, 401, 403, 404, 409) },
});
const get = createRoute({
  ...base,
  method: "get",
  path: "/v1/orgs/{orgId}/tasks/{taskId}/sessions/{sessionId}",
  summary: "A session's status",
  request: { params: SessionParams },
  responses: { 200: jsonResponse(Session, "The session"), ...errorResponses(401, 403, 404) },
});
const send = createRoute({
  ...base,
  method: "post",
  path: "/v1/orgs/{orgId}/tasks/{taskId}/sessions/{sessionId}/messages",
  summary: "Send a message: the agent's turn runs after the 202 and streams to subscribers",
  request: { params: SessionParams, body: jsonBody(SendMessageBodySchema) },
  responses: { 202: jsonResponse(Session, "The turn is running"), ...errorResponses(400, 401, 403, 404, 409) },
});
const stop = createRoute({
  ...base,
  method: "post",
  path: "/v1/orgs/{orgId}/tasks/{taskId}/sessions/{sessionId}/stop",
  summary: "Interrupt the running turn",
  request: { params: SessionParams },
  responses: { 200: jsonResponse(Session, "The session"), ...errorResponses(401, 403, 404) },
});
const events = createRoute({
  ...base,
  method: "get",
  path: "/v1/orgs/{orgId}/tasks/{taskId}/sessions/{sessionId}/events",
  summary: "Page the transcript: events after `after`, oldest first",
  request: { params: SessionParams, query: SessionEventsQuerySchema },
  responses: {
    200: jsonResponse(z.object({ events: z.array(SessionEventSchema), next: z.number().nullable() }), "Events; `next` is the `after` for the next page, or null"),
    ...errorResponses(400, 401, 403, 404),
  },
});
const close = createRoute({
  ...base,
  method: "delete",
  path: "/v1/orgs/{orgId}/tasks/{taskId}/sessions/{sessionId}",
  summary: "Close the session",
  request: { params: SessionParams },
  responses: { 200: jsonResponse(Session, "The session"), ...errorResponses(401, 403, 404) },
});

export function sessionRoutes(client: () => KilnClient) {
  const on = <T>(c: Context<KilnEnv>, p: { taskId: string; sessionId: string }, act: (s: SessionHandle) => Promise<T>) =>
    withSession(client(), { orgId: c.get("orgId"), userId: c.get("user").id, ...p }, act);
  return new OpenAPIHono<KilnEnv>()
    .openapi(open, async (c) => {
      const t = await taskActor(client(), c.get("orgId"), c.get("user").id, c.req.valid("param").taskId);
      const body = c.req.header("content-type")?.includes("application/json") ? c.req.valid("json") : {};
      return c.json({ session: await t.openSession(body) }, 202);
    })
    .openapi(get, async (c) => c.json({ session: await on(c, c.req.valid("param"), (s) => s.view()) }, 200))
    .openapi(send, async (c) => {
      const text = c.req.valid("json").text;
      return c.json({ session: await on(c, c.req.valid("param"), (s) => s.sendMessage(text)) }, 202);
    })
    .openapi(stop, async (c) => c.json({ session: await on(c, c.req.valid("param"), (s) => s.stop()) }, 200))
    .openapi(events, async (c) => {
      const query = c.req.valid("query");
      return c.json(await on(c, c.req.valid("param"), (s) => s.events(query)), 200);
    })
    .openapi(close, async (c) => c.json({ session: await on(c, c.req.valid("param"), (s) => s.close()) }, 200));
}
