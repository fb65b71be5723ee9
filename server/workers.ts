import { randomBytes } from "node:crypto";
import { desc, eq, sql } from "drizzle-orm";
import { internalParams } from "../actors/auth.js";
import { keys, personalOrgId } from "../shared/keys.js";
import { newWorkerTokens, withCurrentUrl } from "../actors/worker/state.js";
import { ForbiddenError, KilnError } from "../shared/errors.js";
import type { CreateWorkerBody, CreatedWorker, WorkerTokens, WorkerView } from "../shared/schemas/worker.js";
import type { AppDb } from "./db/index.js";
import { workerIndex } from "./db/schema.js";
import type { Organizations } from "./organizations.js";
import type { Paywall } from "./paywall.js";
import type { KilnClient } from "./rivet.js";
import type { ViewCache } from "./view-cache.js";

/** A worker's row of the index: its org and creator (for authorization) and its latest view. */
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
 * Cloud workers (Den) for the gateway: creation (tokens shown once), reads from the worker index,
 * and the calls that reach a WorkerActor. A worker of an org the caller is not in is "not found".
 */
export class Workers {
  constructor(
    private readonly db: AppDb,
    private readonly orgs: Organizations,
    private readonly client: () => KilnClient,
    private readonly paywall: Paywall | undefined,
    /** Where new cloud workers run (PROVISIONER_MODE). */
    private readonly provisioner: string,
    /** The index rows by worker id, written through by every push: the polling path reads no database. */
    private readonly rows: ViewCache<WorkerRow>,
  ) {}

  async create(user: { id: string; email: string }, body: CreateWorkerBody): Promise<CreatedWorker> {
    const userId = user.id;
    if (body.destination === "local" && !body.workspacePath) {
      throw new KilnError("workspace_path_required", "A local worker needs `workspacePath`: where it runs on your machine.");
    }
    const orgId = body.orgId ?? personalOrgId(userId);
    if (!(await this.orgs.isMember(orgId, userId))) throw new ForbiddenError("You are not a member of this organization.");
    // Cloud workers cost money: with the gate on, no worker is created without the benefit.
    if (body.destination === "cloud" && this.paywall) await this.paywall.requireEntitlement(user);
    const workerId = `w_${randomBytes(12).toString("base64url").replace(/[^A-Za-z0-9]/g, "x").slice(0, 16)}`;
    const { tokens, hashes } = newWorkerTokens();
    const handle = this.client().worker.getOrCreate(keys.worker(orgId, workerId), {
      params: internalParams(userId),
      createWithInput: {
        orgId,
        workerId,
        name: body.name,
        description: body.description ?? null,
        destination: body.destination,
        workspacePath: body.workspacePath ?? null,
        createdBy: userId,
        tokenHashes: hashes,
        provider: body.destination === "cloud" ? this.provisioner : "user-machine",
      },
    });
    const view = await handle.start();
    return {
      ...view,
      tokens,
      launch: body.destination === "cloud" ? { mode: "async", pollAfterMs: POLL_AFTER_MS[this.provisioner] ?? 1_000 } : { mode: "instant" },
    };
  }

  /** Mirrors a WorkerActor's view; called by the actor on every change. */
  async syncIndex(orgId: string, workerId: string, createdBy: string, view: WorkerView | null): Promise<void> {
    // Dropped before the write, so a read that started earlier is not kept.
    this.rows.forget(workerId);
    if (!view) {
      await this.db.delete(workerIndex).where(eq(workerIndex.workerId, workerId));
      this.rows.forget(workerId);
      return;
    }
    try {
      await this.db
        .insert(workerIndex)
        .values({ workerId, orgId, createdBy, view })
        .onConflictDoUpdate({ target: workerIndex.workerId, set: { view } });
    } finally {
      this.rows.forget(workerId);
    }
    this.rows.set(workerId, { orgId, createdBy, view }, [workerId]);
  }

  /** The worker's index row, through the cache; worker_not_found when there is none. */
  private async row(workerId: string): Promise<WorkerRow> {
    if (!WORKER_ID.test(workerId)) throw notFound();
    return this.rows.resolve(
      workerId,
      async () => {
      const row = (
        await this.db
          .select({ orgId: workerIndex.orgId, createdBy: workerIndex.createdBy, view: workerIndex.view })
          .from(workerIndex)
          .where(eq(workerIndex.workerId, workerId))
          .limit(1)
      )[0];
      if (!row) throw notFound();
      return row;
      },
      () => [workerId],
    );
  }

  async list(userId: string, orgId: string | undefined, limit: number): Promise<WorkerView[]> {
    const org = orgId ?? personalOrgId(userId);
    if (!(await this.orgs.isMember(org, userId))) throw new ForbiddenError("You are not a member of this organization.");
    const rows = await this.db.select().from(workerIndex).where(eq(workerIndex.orgId, org)).orderBy(desc(workerIndex.createdAt)).limit(limit);
    return rows.map((r) => withCurrentUrl(r.view));
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

  /** After a start: workers left provisioning or deleting by the previous run resume. */
  async resumeInterrupted(): Promise<number> {
    const rows = await this.db
      .select({ workerId: workerIndex.workerId, orgId: workerIndex.orgId })
      .from(workerIndex)
      .where(sql`${workerIndex.view}->'worker'->>'status' in ('provisioning', 'deleting')`);
    for (const r of rows) await this.client().worker.get(keys.worker(r.orgId, r.workerId), { params: internalParams() }).resume();
    return rows.length;
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
