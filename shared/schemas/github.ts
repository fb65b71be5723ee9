import { z } from "zod";
import { text } from "./text.js";

/** A task's pull request as the task view and the org summary carry it, updated live from webhooks. */
export const PullRequestRefSchema = z
  .object({
    number: z.number().int(),
    url: z.string(),
    state: z.enum(["open", "closed", "merged"]),
    draft: z.boolean(),
    reviewDecision: z.enum(["approved", "changes_requested", "review_required"]).nullable(),
    checks: z.object({
      state: z.enum(["none", "pending", "success", "failure"]),
      total: z.number().int(),
      failed: z.number().int(),
    }),
  })
  .meta({ id: "PullRequestRef" });
export type PullRequestRef = z.infer<typeof PullRequestRefSchema>;

export const GitHubConnectionStatusSchema = z.enum(["disconnected", "connected", "syncing", "reconnect_required", "suspended"]);
export type GitHubConnectionStatus = z.infer<typeof GitHubConnectionStatusSchema>;

export const GitHubSyncSchema = z.object({
  generation: z.number().int(),
  running: z.boolean(),
  phase: z.enum(["repositories", "members", "pull_requests", "sweep"]).nullable(),
  repositories: z.number().int(),
  members: z.number().int(),
  pullRequests: z.number().int(),
  startedAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
  error: z.string().nullable(),
});
export type GitHubSync = z.infer<typeof GitHubSyncSchema>;

export const GitHubDeliveryCountsSchema = z
  .object({
    processed: z.number().int(),
    failed: z.number().int(),
    ignored: z.number().int(),
    ignoredByEvent: z
      .record(z.string(), z.number().int())
      .meta({ description: "Ignored deliveries by `event.action` (an event or action Kiln does not handle, or one about something it does not track); past 32 kinds, `other`" }),
  })
  .meta({ id: "GitHubDeliveryCounts", description: "This org's webhook deliveries by outcome. Deliveries for an installation Kiln does not know belong to no org: they are answered 202 `{ignored: true}` and logged." });

/** The GitHub connection as the org's summary (and its `orgUpdated` event) carries it: status and sync progress, pushed up by GitHubStateActor. */
export const GitHubOrgSummarySchema = z
  .object({
    status: GitHubConnectionStatusSchema,
    sync: GitHubSyncSchema,
    deliveries: GitHubDeliveryCountsSchema,
  })
  .meta({ id: "GitHubOrgSummary" });
export type GitHubOrgSummary = z.infer<typeof GitHubOrgSummarySchema>;

/** What an org's members see of its GitHub connection. */
export const GitHubStatusSchema = z
  .object({
    status: GitHubConnectionStatusSchema,
    message: z.string().nullable(),
    installation: z
      .object({ id: z.number().int(), account: z.object({ id: z.number().int(), login: z.string(), type: z.string() }) })
      .nullable(),
    sync: GitHubSyncSchema,
    deliveries: GitHubDeliveryCountsSchema,
    pendingMembers: z.array(z.object({ login: z.string(), role: z.enum(["admin", "member"]) })).meta({ description: "GitHub members who have not signed in to Kiln yet" }),
  })
  .meta({ id: "GitHubStatus" });
export type GitHubStatus = z.infer<typeof GitHubStatusSchema>;

export const CreatePullRequestBodySchema = z
  .object({
    title: text(256).trim().min(1).optional(),
    body: text(65_536).optional(),
    draft: z.boolean().optional(),
  })
  .strict()
  .meta({ id: "CreatePullRequestBody" });
export type CreatePullRequestBody = z.infer<typeof CreatePullRequestBodySchema>;
