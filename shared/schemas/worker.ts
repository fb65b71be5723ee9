import { z } from "zod";
import { text } from "./text.js";

export const WorkerDestinationSchema = z.enum(["cloud", "local"]);
export const WorkerStatusSchema = z.enum(["provisioning", "healthy", "failed", "deleting"]);
export type WorkerStatus = z.infer<typeof WorkerStatusSchema>;

export const CreateWorkerBodySchema = z
  .object({
    name: text(120).trim().min(1),
    description: text(2000).trim().optional(),
    destination: WorkerDestinationSchema,
    orgId: text(128).min(1).optional().meta({ description: "Defaults to your personal organization" }),
    workspacePath: text(4096).trim().min(1).optional().meta({ description: "Required for local workers: where the worker runs on your machine" }),
  })
  .meta({ id: "CreateWorkerBody" });
export type CreateWorkerBody = z.infer<typeof CreateWorkerBodySchema>;

export const RenameWorkerBodySchema = z.object({ name: text(120).trim().min(1) }).meta({ id: "RenameWorkerBody" });

export const WorkerInstanceSchema = z
  .object({
    provider: z.string(),
    url: z.string().nullable().meta({ description: "Poll `url + /health`: 200 once the worker is up" }),
    status: z.string(),
    region: z.string().optional(),
  })
  .meta({ id: "WorkerInstance" });
export type WorkerInstance = z.infer<typeof WorkerInstanceSchema>;

export const WorkerSchema = z
  .object({
    id: z.string(),
    orgId: z.string(),
    name: z.string(),
    description: z.string().nullable(),
    destination: WorkerDestinationSchema,
    workspacePath: z.string().nullable(),
    status: WorkerStatusSchema,
    failure: z.object({ code: z.literal("provisioning_failed"), message: z.string() }).nullable(),
    teardown: z.object({ attempts: z.number(), lastError: z.string().nullable() }).nullable(),
    createdBy: z.string(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .meta({ id: "Worker" });
export type Worker = z.infer<typeof WorkerSchema>;

/** Shown once, at creation or rotation; Kiln keeps only their hashes. */
export const WorkerTokensSchema = z
  .object({ owner: z.string(), host: z.string(), client: z.string() })
  .meta({ id: "WorkerTokens" });
export type WorkerTokens = z.infer<typeof WorkerTokensSchema>;

export const WorkerViewSchema = z
  .object({
    worker: WorkerSchema,
    instance: WorkerInstanceSchema.nullable(),
    revision: z
      .number()
      .int()
      .meta({ description: "Grows with every change of the worker; a live event whose revision is not above the last one applied is stale" }),
  })
  .meta({ id: "WorkerView" });
export type WorkerView = z.infer<typeof WorkerViewSchema>;

export const CreatedWorkerSchema = WorkerViewSchema.extend({
  tokens: WorkerTokensSchema,
  launch: z.object({ mode: z.enum(["async", "instant"]), pollAfterMs: z.number().optional() }),
}).meta({ id: "CreatedWorker" });
export type CreatedWorker = z.infer<typeof CreatedWorkerSchema>;

/** The `workerDeleted` event: the worker is gone, as of `revision` (above every view of it). */
export interface WorkerDeleted {
  id: string;
  revision: number;
}

export const ListWorkersQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(50).default(20),
  orgId: text(128).optional().meta({ description: "Defaults to your personal organization" }),
});
