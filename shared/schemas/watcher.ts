import { z } from "zod";
import { IdSchema } from "./device.js";
import { text } from "./text.js";

export const AgentKindSchema = z.enum(["claude", "codex", "opencode", "amp", "pi", "cursor", "mock"]);

export const AgentSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    kind: AgentKindSchema,
    instructions: z.string(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .meta({ id: "Agent" });
export type Agent = z.infer<typeof AgentSchema>;

export const CreateAgentBodySchema = z
  .object({
    name: text(120).pipe(z.string().trim().min(1)),
    kind: AgentKindSchema,
    instructions: text(20_000).default(""),
  })
  .meta({ id: "CreateAgentBody" });
export const UpdateAgentBodySchema = CreateAgentBodySchema.partial().meta({ id: "UpdateAgentBody" });

export const WatcherStatusSchema = z.enum(["active", "archived"]);
export const RunStatusSchema = z.enum(["pending", "claimed", "running", "completed", "failed", "timeout", "cancelled"]);
export type RunStatus = z.infer<typeof RunStatusSchema>;
export const DispatchSourceSchema = z.enum(["scheduled", "manual"]);

const slug = text(80).pipe(z.string().regex(/^[a-z0-9]+(?:-[a-z0-9]+)*$/, "lowercase letters, digits and single dashes"));

export const CreateWatcherBodySchema = z
  .object({
    name: text(120).pipe(z.string().trim().min(1)),
    slug: slug.optional(),
    schedule: text(120).meta({ description: "Cron (5 fields, or 6 with seconds first)", example: "0 9 * * *" }),
    timezone: text(64).default("UTC").meta({ description: "IANA timezone the schedule is read in", example: "Europe/Berlin" }),
    agentId: IdSchema,
    prompt: text(20_000).pipe(z.string().min(1)),
    deviceWorkerId: IdSchema.nullable().optional().meta({ description: "The device whose runs these are" }),
    leaseSeconds: z.number().int().min(1).max(86_400).default(600).meta({ description: "How long a claimed run lives without a heartbeat" }),
  })
  .meta({ id: "CreateWatcherBody" });
export type CreateWatcherBody = z.infer<typeof CreateWatcherBodySchema>;

export const UpdateWatcherBodySchema = z
  .object({
    name: text(120).pipe(z.string().trim().min(1)),
    slug,
    schedule: text(120),
    timezone: text(64),
    agentId: IdSchema,
    prompt: text(20_000).pipe(z.string().min(1)),
    deviceWorkerId: IdSchema.nullable(),
    leaseSeconds: z.number().int().min(1).max(86_400),
  })
  .partial()
  .meta({ id: "UpdateWatcherBody" });
export type UpdateWatcherBody = z.infer<typeof UpdateWatcherBodySchema>;

export const WatcherSummarySchema = z
  .object({
    id: z.string(),
    name: z.string(),
    slug: z.string(),
    schedule: z.string(),
    timezone: z.string(),
    agentId: z.string().nullable(),
    deviceWorkerId: z.string().nullable(),
    status: WatcherStatusSchema,
    promptVersion: z.number(),
    nextRunAt: z.string().nullable(),
    lastFiredAt: z.string().nullable(),
    lastSkip: z
      .object({ at: z.string(), reason: z.string() })
      .nullable()
      .meta({ description: "The latest scheduled slot that made no run (no device to run on, no agent, a run still active), and why" }),
    leaseSeconds: z.number(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .meta({ id: "WatcherSummary" });
export type WatcherSummary = z.infer<typeof WatcherSummarySchema>;

export const WatcherViewSchema = WatcherSummarySchema.extend({ prompt: z.string() }).meta({ id: "Watcher" });
export type WatcherView = z.infer<typeof WatcherViewSchema>;

export const WatcherRunSchema = z
  .object({
    id: z.string(),
    status: RunStatusSchema,
    dispatchSource: DispatchSourceSchema,
    attempt: z.number(),
    deviceWorkerId: z.string(),
    promptVersion: z.number(),
    firedAt: z.string(),
    windowStart: z.string(),
    windowEnd: z.string(),
    queuedAt: z.string(),
    claimedAt: z.string().nullable(),
    leaseExpiresAt: z.string().nullable(),
    completedAt: z.string().nullable(),
    output: z.string().nullable(),
    error: z.string().nullable(),
    durationMs: z.number().nullable(),
    exitCode: z.number().nullable(),
  })
  .meta({ id: "WatcherRun" });
export type WatcherRun = z.infer<typeof WatcherRunSchema>;

export const RunPageQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  before: text(64).optional().meta({ description: "A run id: the page starts after it (older runs)" }),
});

/** What a device receives when it claims a run. It carries no credentials. */
export const ClaimedRunSchema = z
  .object({
    run_id: z.string(),
    run_type: z.literal("watcher"),
    organization_id: z.string(),
    lease_expires_at: z.string(),
    payload: z.object({
      watcher: z.object({
        id: z.string(),
        name: z.string(),
        slug: z.string(),
        agent: z.object({ id: z.string(), name: z.string(), kind: z.string(), instructions: z.string() }),
        prompt: z.string(),
      }),
      event: z.object({ fired_at: z.string(), window_start: z.string(), window_end: z.string(), dispatch_source: DispatchSourceSchema }),
      context: z.object({ device: z.object({ worker_id: z.string() }), user: z.object({ user_id: z.string() }) }),
    }),
  })
  .meta({ id: "ClaimedRun" });
export type ClaimedRun = z.infer<typeof ClaimedRunSchema>;

export const HeartbeatBodySchema = z.object({ run_id: text(128), worker_id: IdSchema }).meta({ id: "HeartbeatBody" });
export const CompleteBodySchema = z
  .object({
    worker_id: IdSchema,
    output: text(200_000).optional(),
    error: text(20_000).optional(),
    duration_ms: z.number().int().min(0).max(7 * 86_400_000).optional(),
    exit_code: z.number().int().min(-1_000_000).max(1_000_000).optional(),
  })
  .meta({ id: "CompleteWatcherBody" });
export type CompleteBody = z.infer<typeof CompleteBodySchema>;
