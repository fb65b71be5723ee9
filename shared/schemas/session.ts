import { z } from "zod";
import { text } from "./text.js";

export const SESSION_STATUSES = ["pending_provision", "pending_session_create", "ready", "running", "error", "closed"] as const;
export const SessionStatusSchema = z.enum(SESSION_STATUSES);
export type SessionStatus = z.infer<typeof SessionStatusSchema>;

export const SessionSummarySchema = z
  .object({
    id: z.string(),
    taskId: z.string(),
    name: z.string(),
    agent: z.string(),
    model: z.string().nullable(),
    status: SessionStatusSchema,
    message: z.string().nullable().meta({ description: "On error, what went wrong" }),
    turn: z
      .object({ startedBy: z.string(), startedAt: z.string() })
      .nullable()
      .meta({ description: "The running turn, if any" }),
    lastStopReason: z.string().nullable(),
    eventCount: z.number(),
    createdBy: z.string(),
    createdAt: z.string(),
    updatedAt: z.string(),
    revision: z
      .number()
      .int()
      .meta({ description: "Grows with every change; a live event whose revision is not above the last one applied is stale" }),
  })
  .meta({ id: "SessionSummary" });
export type SessionSummary = z.infer<typeof SessionSummarySchema>;

export const SessionEventSchema = z
  .object({
    index: z.number().meta({ description: "Position in the transcript, from 1" }),
    sender: z.enum(["user", "client", "agent", "kiln"]),
    kind: z.string().meta({ description: "user_message, agent_message_chunk, tool_call, tool_call_update, turn_ended, …" }),
    text: z.string().nullable(),
    payload: z.unknown().meta({ description: "The raw ACP message from sandbox-agent, when there is one" }),
    at: z.string(),
    author: z
      .string()
      .nullable()
      .optional()
      .meta({ description: "The user id of the member who sent a user message (the org's members list has their name); null for other events and for messages recorded before authors were kept" }),
  })
  .meta({ id: "SessionEvent" });
export type SessionEvent = z.infer<typeof SessionEventSchema>;

export const OpenSessionBodySchema = z
  .object({
    agent: text(40).trim().min(1).regex(/^[a-z0-9_-]+$/, "is an agent id such as mock, claude or codex").optional(),
    model: text(120).trim().min(1).optional(),
    name: text(120).trim().min(1).optional(),
  })
  .meta({ id: "OpenSessionBody" });
export type OpenSessionBody = z.infer<typeof OpenSessionBodySchema>;

export const SendMessageBodySchema = z.object({ text: text(100_000).trim().min(1) }).meta({ id: "SendMessageBody" });

export const SessionEventsQuerySchema = z.object({
  after: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(1000).default(200),
});
