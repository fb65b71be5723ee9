import { UserError } from "rivetkit";
import { z } from "zod";
import { CreateWorkerBodySchema, WorkerViewSchema, type WorkerDeleted, type WorkerTokens, type WorkerView } from "../../shared/schemas/worker.js";
import { keys } from "../../shared/keys.js";
import { isRecordKey, own } from "../../shared/records.js";
import { ACTOR_ERRORS, internalParams, parseInput } from "../auth.js";
import type { Registry } from "../registry.js";
import { actorLog, actorServices } from "../services.js";
import { initialWorkerState, newWorker, workerView } from "../worker/state.js";
import type { Client } from "rivetkit/client";

/** The org's workers by id: the list's source, each the latest view its WorkerActor pushed (absent in older state). */
export interface OrgWorkerState {
  workers?: Record<string, WorkerView>;
}

/** What the worker operations of the OrganizationActor need from its context. */
export interface OrgWorkerContext {
  state: OrgWorkerState & { id: string | null };
  client: () => unknown;
  saveState(opts: { immediate: boolean }): Promise<void>;
  broadcast(name: "workerUpdated", view: WorkerView): void;
  broadcast(name: "workerDeleted", body: WorkerDeleted): void;
}

/** A push from a WorkerActor: its new view, or its deletion as of a revision. */
export type WorkerChange = { view: WorkerView } | { deletedId: string; revision: number };

const ListLimit = z.number().int().min(1).max(1_000).optional();
/** Views adopted from the gateway's index of earlier Kiln versions (their views carry no revision). */
const LegacyViews = z.array(WorkerViewSchema.extend({ revision: z.number().int().optional() })).max(10_000);

function clientOf(c: OrgWorkerContext): Client<Registry> {
  return c.client() as Client<Registry>;
}

function workersOf(state: OrgWorkerState): Record<string, WorkerView> {
  return (state.workers ??= {});
}

/**
 * Creates a worker: mints its id and tokens, indexes it for authorization, keeps its first view in
 * the org's list (saved before the answer), then brings the WorkerActor into existence with an
 * enqueued command, without waiting on it. The tokens are returned once and stored nowhere.
 */
export async function createWorker(c: OrgWorkerContext, orgId: string, userId: string, raw: unknown): Promise<{ view: WorkerView; tokens: WorkerTokens }> {
  const body = parseInput(CreateWorkerBodySchema, raw, "Invalid worker.");
  const services = actorServices();
  const { input, tokens } = newWorker(orgId, userId, body, services.workerProvisioner);
  const id = input.workerId;
  // Indexed first: a worker in the list is always reachable by id.
  await services.workers.index(id, orgId, userId);
  const view = workerView(initialWorkerState(input));
  workersOf(c.state)[id] = view;
  await c.saveState({ immediate: true });
  services.workers.changed(id);
  c.broadcast("workerUpdated", view);
  try {
    await clientOf(c)
      .worker.getOrCreate(keys.worker(orgId, id), { params: internalParams(), createWithInput: input })
      .send("commands", input.destination === "cloud" ? { type: "provision" } : { type: "created" }, { wait: false });
  } catch (err) {
    // No WorkerActor to own it: the worker is taken back, and the caller told.
    actorLog().warn({ err, workerId: id }, "could not create a WorkerActor");
    await forget(c, id, view.revision + 1);
    throw err;
  }
  return { view, tokens };
}

/** Applies a WorkerActor's push when it is newer than the view held; a push for a worker not in the list (deleted) is dropped. */
export async function applyWorkerChange(c: OrgWorkerContext, change: WorkerChange): Promise<void> {
  const id = "view" in change ? change.view.worker.id : change.deletedId;
  const revision = "view" in change ? change.view.revision : change.revision;
  const held = own(c.state.workers, id);
  const orgId = c.state.id ?? "";
  // A deletion pushed again (its first push failed after the list dropped the worker) still clears the index.
  if (!held && "deletedId" in change) return actorServices().workers.unindex(id, orgId);
  if (!held || held.revision >= revision) return;
  if ("deletedId" in change) return forget(c, id, revision);
  workersOf(c.state)[id] = change.view;
  actorServices().workers.changed(id);
  c.broadcast("workerUpdated", change.view);
  await c.saveState({ immediate: true });
}

async function forget(c: OrgWorkerContext, id: string, revision: number): Promise<void> {
  delete workersOf(c.state)[id];
  const services = actorServices();
  services.workers.changed(id);
  c.broadcast("workerDeleted", { id, revision });
  await c.saveState({ immediate: true });
  await services.workers.unindex(id, c.state.id ?? "");
}

export function getWorker(state: OrgWorkerState, id: string): WorkerView | null {
  return own(state.workers, String(id)) ?? null;
}

/** Newest first, at most `limit` (20 by default). */
export function listWorkers(state: OrgWorkerState, limit: unknown): WorkerView[] {
  const max = parseInput(ListLimit, limit ?? undefined, "Invalid worker list limit.") ?? 20;
  return Object.values(state.workers ?? {})
    .sort((a, b) => b.worker.createdAt.localeCompare(a.worker.createdAt) || b.worker.id.localeCompare(a.worker.id))
    .slice(0, max);
}

/** After a restart: workers left provisioning or deleting get their command again (idempotent in the WorkerActor). */
export async function resumeWorkers(c: OrgWorkerContext, orgId: string): Promise<number> {
  let resumed = 0;
  for (const view of Object.values(c.state.workers ?? {})) {
    const status = view.worker.status;
    if (status !== "provisioning" && status !== "deleting") continue;
    try {
      await clientOf(c)
        .worker.get(keys.worker(orgId, view.worker.id), { params: internalParams() })
        .send("commands", { type: status === "provisioning" ? "provision" : "deprovision" }, { wait: false });
      resumed += 1;
    } catch (err) {
      actorLog().warn({ err, workerId: view.worker.id }, "could not resume a worker");
    }
  }
  return resumed;
}

/** Workers an earlier Kiln listed in the gateway's index join the org's list (once; ones already held are kept). */
export async function adoptWorkers(c: OrgWorkerContext, orgId: string, raw: unknown): Promise<number> {
  const views = parseInput(LegacyViews, raw, "Invalid worker views.");
  let adopted = 0;
  for (const view of views) {
    if (view.worker.orgId !== orgId) throw new UserError("A worker of another organization.", { code: ACTOR_ERRORS.invalidRequest });
    if (!isRecordKey(view.worker.id) || own(c.state.workers, view.worker.id)) continue;
    workersOf(c.state)[view.worker.id] = { ...view, revision: view.revision ?? 0 };
    adopted += 1;
  }
  if (adopted) await c.saveState({ immediate: true });
  return adopted;
}
