import { and, eq, inArray, isNotNull } from "drizzle-orm";
import { internalParams } from "../actors/auth.js";
import { keys, personalOrgId } from "../shared/keys.js";
import { withCurrentUrl } from "../actors/worker/state.js";
import { ForbiddenError, KilnError } from "../shared/errors.js";
import type { CreateWorkerBody, CreatedWorker, WorkerTokens, WorkerView } from "../shared/schemas/worker.js";
import type { AppDb } from "./db/index.js";
import { workerIndex } from "./db/schema.js";
import type { Organizations } from "./organizations.js";
import type { Paywall } from "./paywall.js";
import type { KilnClient } from "./rivet.js";
import type { ViewCache } from "./view-cache.js";

/** A worker as the gateway routes and authorizes it: its org and creator (the index), and its view (its OrganizationActor's). */
export interface WorkerRow {
  orgId: string;
  createdBy: string;
  view: WorkerView;
}

const WORKER_ID = /^w_[A-Za-z0-9]{16}$/;

/** How soon a client should first poll a new cloud worker: about how long each provisioner takes. */
const POLL_AFTER_MS: Record<string, number> = { local: 250, daytona: 2_000, render: 10_000 };

function notFound(): KilnError {
  return new KilnError("worker_not_found", "No such worker.");
}

/**
 * Cloud workers (Den) for the gateway. Each organization's OrganizationActor owns its workers: it
 * mints ids and tokens, keeps the list, and hears every change from the WorkerActors. The gateway
 * keeps only `worker_index` (which org a worker id belongs to, and its creator) and an in-memory
 * cache of views that the org drops on every change. A worker of an org the caller is not in is
 * "not found".
 */
export class Workers {
  constructor(
    private readonly db: AppDb,
    private readonly orgs: Organizations,
    private readonly client: () => KilnClient,
    private readonly paywall: Paywall | undefined,
    /** Where new cloud workers run (PROVISIONER_MODE). */
    private readonly provisioner: string,
    /** Worker rows by id, dropped by the owning org on every change: the polling path reads no database and calls no actor. */
    private readonly rows: ViewCache<WorkerRow>,
  ) {}

  private org(orgId: string, userId?: string) {
    return this.client().organization.get(keys.organization(orgId), { params: internalParams(userId) });
  }

  async create(user: { id: string; email: string }, body: CreateWorkerBody): Promise<CreatedWorker> {
    const userId = user.id;
    if (body.destination === "local" && !body.workspacePath) {
      throw new KilnError("workspace_path_required", "A local worker needs `workspacePath`: where it runs on your machine.");
    }
    const orgId = body.orgId ?? personalOrgId(userId);
    if (!(await this.orgs.isMember(orgId, userId))) throw new ForbiddenError("You are not a member of this organization.");
    // Cloud workers cost money: with the gate on, no worker is created without the benefit.
    if (body.destination === "cloud" && this.paywall) await this.paywall.requireEntitlement(user);
    const { orgId: _orgId, ...fields } = body;
    const { view, tokens } = await this.org(orgId, userId).createWorker(fields);
    return {
      ...withCurrentUrl(view),
      tokens,
      launch: body.destination === "cloud" ? { mode: "async", pollAfterMs: POLL_AFTER_MS[this.provisioner] ?? 1_000 } : { mode: "instant" },
    };
  }

  /** A new worker, indexed by its org before its id is given out. */
  async index(workerId: string, orgId: string, createdBy: string): Promise<void> {
    await this.db.insert(workerIndex).values({ workerId, orgId, createdBy }).onConflictDoNothing();
  }

  async unindex(workerId: string, orgId: string): Promise<void> {
    this.rows.forget(workerId);
    await this.db.delete(workerIndex).where(and(eq(workerIndex.workerId, workerId), eq(workerIndex.orgId, orgId)));
    this.rows.forget(workerId);
  }

  /** The org changed the worker's view: the next read asks the org again. */
  changed(workerId: string): void {
    this.rows.forget(workerId);
  }

  /** The worker's org, creator and view, through the cache; worker_not_found when there is none. */
  private async row(workerId: string): Promise<WorkerRow> {
    if (!WORKER_ID.test(workerId)) throw notFound();
    return this.rows.resolve(
      workerId,
      async () => {
        const entry = (
          await this.db
            .select({ orgId: workerIndex.orgId, createdBy: workerIndex.createdBy })
            .from(workerIndex)
            .where(eq(workerIndex.workerId, workerId))
            .limit(1)
        )[0];
        if (!entry) throw notFound();
        const view = await this.org(entry.orgId).getWorker(workerId);
        if (!view) throw notFound();
        return { ...entry, view };
      },
      () => [workerId],
    );
  }

  async list(userId: string, orgId: string | undefined, limit: number): Promise<WorkerView[]> {
    const org = orgId ?? personalOrgId(userId);
    if (!(await this.orgs.isMember(org, userId))) throw new ForbiddenError("You are not a member of this organization.");
    return (await this.org(org, userId).listWorkers(limit)).map(withCurrentUrl);
  }

  /** The worker's row, if it exists and the caller belongs to its org; otherwise worker_not_found. */
  private async locate(userId: string, workerId: string): Promise<WorkerRow> {
    // The polling path: the row and the membership both come from memory on a hit.
    const row = await this.row(workerId);
    if (!(await this.orgs.isMember(row.orgId, userId))) throw notFound();
    return row;
  }

  async get(userId: string, workerId: string): Promise<WorkerView> {
    return withCurrentUrl((await this.locate(userId, workerId)).view);
  }

  async rename(userId: string, workerId: string, name: string): Promise<WorkerView> {
    const row = await this.locate(userId, workerId);
    if (row.createdBy !== userId) throw new ForbiddenError("Only the worker's creator can rename it.");
    return this.client().worker.get(keys.worker(row.orgId, workerId), { params: internalParams(userId) }).rename(name);
  }

  async rotateTokens(userId: string, workerId: string): Promise<WorkerTokens> {
    const row = await this.locate(userId, workerId);
    if (row.createdBy !== userId) throw new ForbiddenError("Only the worker's creator can rotate its tokens.");
    return this.client().worker.get(keys.worker(row.orgId, workerId), { params: internalParams(userId) }).rotateTokens();
  }

  async remove(userId: string, workerId: string): Promise<void> {
    const row = await this.locate(userId, workerId);
    await this.client().worker.get(keys.worker(row.orgId, workerId), { params: internalParams(userId) }).remove();
  }

  /**
   * After an upgrade: an earlier Kiln kept each worker's view in `worker_index`. Each org adopts
   * its workers' views into its list, then the column is cleared, so this runs once per row.
   */
  async adoptIndexedViews(): Promise<number> {
    const rows = await this.db
      .select({ workerId: workerIndex.workerId, orgId: workerIndex.orgId, view: workerIndex.view })
      .from(workerIndex)
      .where(isNotNull(workerIndex.view));
    const byOrg = new Map<string, { ids: string[]; views: WorkerView[] }>();
    for (const r of rows) {
      if (!r.view) continue;
      const entry = byOrg.get(r.orgId) ?? { ids: [], views: [] };
      entry.ids.push(r.workerId);
      entry.views.push(r.view);
      byOrg.set(r.orgId, entry);
    }
    let adopted = 0;
    for (const [orgId, { ids, views }] of byOrg) {
      adopted += await this.org(orgId).adoptWorkers(views);
      await this.db.update(workerIndex).set({ view: null }).where(and(eq(workerIndex.orgId, orgId), inArray(workerIndex.workerId, ids)));
      for (const id of ids) this.rows.forget(id);
    }
    return adopted;
  }

  /** Public health of a cloud worker's instance: 200 once provisioning finished and it answers. */
  async health(orgId: string, workerId: string): Promise<boolean> {
    const row = await this.row(workerId).catch((err: unknown) => {
      if (err instanceof KilnError && err.code === "worker_not_found") return undefined;
      throw err;
    });
    if (row?.orgId !== orgId) return false;
    return this.client().worker.get(keys.worker(orgId, workerId), { params: internalParams() }).health();
  }
}
