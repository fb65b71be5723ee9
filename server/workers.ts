import { randomBytes } from "node:crypto";
import { and, desc, eq, sql } from "drizzle-orm";
import { internalParams } from "../actors/auth.js";
import { keys, personalOrgId } from "../shared/keys.js";
import { newWorkerTokens, withCurrentUrl } from "../actors/worker/state.js";
import { ForbiddenError, KilnError } from "../shared/errors.js";
import type { CreateWorkerBody, CreatedWorker, WorkerTokens, WorkerView } from "../shared/schemas/worker.js";
import type { AppDb } from "./db/index.js";
import { orgMembership, workerIndex } from "./db/schema.js";
import type { Organizations } from "./organizations.js";
import type { Paywall } from "./paywall.js";
import type { KilnClient } from "./rivet.js";

const WORKER_ID = /^w_[A-Za-z0-9]{16}$/;
/** Organization ids as Kiln mints them (`personal-<userId>`, GitHub and team ids). */
const ORG_ID = /^[A-Za-z0-9_-]{1,128}$/;

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
    if (!view) {
      await this.db.delete(workerIndex).where(eq(workerIndex.workerId, workerId));
      return;
    }
    await this.db
      .insert(workerIndex)
      .values({ workerId, orgId, createdBy, view })
      .onConflictDoUpdate({ target: workerIndex.workerId, set: { view } });
  }

  async list(userId: string, orgId: string | undefined, limit: number): Promise<WorkerView[]> {
    const org = orgId ?? personalOrgId(userId);
    if (!(await this.orgs.isMember(org, userId))) throw new ForbiddenError("You are not a member of this organization.");
    const rows = await this.db.select().from(workerIndex).where(eq(workerIndex.orgId, org)).orderBy(desc(workerIndex.createdAt)).limit(limit);
    return rows.map((r) => withCurrentUrl(r.view));
  }

  /** The worker's row, if it exists and the caller belongs to its org; otherwise worker_not_found. */
  private async locate(userId: string, workerId: string): Promise<{ orgId: string; createdBy: string; view: WorkerView }> {
    if (!WORKER_ID.test(workerId)) throw notFound();
    // One query for the row and the caller's membership of its org: this is the polling path.
    const row = (
      await this.db
        .select({ orgId: workerIndex.orgId, createdBy: workerIndex.createdBy, view: workerIndex.view })
        .from(workerIndex)
        .innerJoin(orgMembership, and(eq(orgMembership.orgId, workerIndex.orgId), eq(orgMembership.userId, userId)))
        .where(eq(workerIndex.workerId, workerId))
        .limit(1)
    )[0];
    if (!row) throw notFound();
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

  /**
   * Public health of a cloud worker's instance: true once provisioning finished and it answers.
   * Unknown workers and ids that cannot name one are simply not up (the route says nothing more).
   */
  async health(orgId: string, workerId: string): Promise<boolean> {
    if (!WORKER_ID.test(workerId) || !ORG_ID.test(orgId)) return false;
    const row = (await this.db.select().from(workerIndex).where(and(eq(workerIndex.workerId, workerId), eq(workerIndex.orgId, orgId))).limit(1))[0];
    if (!row) return false;
    return this.client().worker.get(keys.worker(orgId, workerId), { params: internalParams() }).health();
  }
}
