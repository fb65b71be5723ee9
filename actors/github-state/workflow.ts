import { and, eq, inArray, lt } from "drizzle-orm";
import { Loop, type WorkflowLoopContextOf } from "rivetkit/workflow";
import { reportHandledFailure } from "../runtime-issues.js";
import { isInstallationRefusal } from "./app.js";
import { deliveries } from "./db.js";
import { applyEvent, type DeliveryOutcome } from "./handlers.js";
import type { githubState } from "./index.js";
import { broadcastStatus } from "./publish.js";
import { failSync, startSync, sweepAndFinish, syncMembers, syncPullsBatch, syncReposPage } from "./sync.js";
import type { GitHubWork } from "./state.js";

type WorkLoop = WorkflowLoopContextOf<typeof githubState>;

/** Retries for one delivery or one sync step before it is recorded as failed. */
const RETRIES = 2;
const BACKOFF_MS = 250;
const CATCH = ["exhausted", "timeout", "critical"] as const;

/** A GitHub refusal is not retried: it is the installation's state, not a transient failure. */
class Refused extends Error {}

async function guarded<T>(run: () => Promise<T>): Promise<T | Refused> {
  try {
    return await run();
  } catch (err) {
    if (isInstallationRefusal(err)) return new Refused((err as Error).message);
    throw err;
  }
}

function source(loop: WorkLoop) {
  return { orgId: loop.state.orgId, actorType: "githubState", actorId: loop.actorId, scope: "github" };
}

/**
 * One delivery: applied in one step (retried), or recorded as failed with its delivery id. It
 * never stops the loop, so the deliveries behind it are processed.
 */
async function processDelivery(loop: WorkLoop, id: string): Promise<void> {
  const result = await loop.tryStep<DeliveryOutcome | "skip" | "refused">({
    name: "apply-delivery",
    maxRetries: RETRIES,
    retryBackoffBase: BACKOFF_MS,
    timeout: 120_000,
    catch: [...CATCH],
    run: async () => {
      const row = (await loop.db.select().from(deliveries).where(eq(deliveries.id, id)).limit(1))[0];
      if (!row || row.status !== "queued") return "skip";
      const outcome = await guarded(() => applyEvent(loop, row.event, JSON.parse(row.payload)));
      if (outcome instanceof Refused) {
        failSync(loop, { message: outcome.message, status: 401 });
        await markDelivery(loop, id, "failed", outcome.message);
        await broadcastStatus(loop);
        return "refused";
      }
      await markDelivery(loop, id, outcome === "ignored" ? "ignored" : "processed", null, row.action ? `${row.event}.${row.action}` : row.event);
      return outcome;
    },
  });
  if (!result.ok) {
    const message = result.failure.error.message;
    await loop.step("record-delivery-failure", async () => {
      await markDelivery(loop, id, "failed", message);
      await reportHandledFailure(loop.client(), source(loop), { workflow: "github", step: "apply-delivery", message: `Delivery ${id} failed: ${message}` });
    });
    return;
  }
  if (result.value === "refused") {
    await loop.step("report-refusal", () => reportRefusal(loop));
    return;
  }
  if (result.value === "sync") await runSync(loop);
}

/** Processed deliveries' ids are kept this long for dedupe (GitHub redelivers up to 3 days back), then pruned. */
export const DELIVERY_RETENTION_MS = 7 * 24 * 3600_000;
const PRUNE_EVERY_MS = 3600_000;
/** Distinct ignored event names counted one by one; the rest are summed under "other". */
const IGNORED_KINDS = 32;

/**
 * A delivery's outcome. Once processed or ignored it keeps its id and status (the dedupe record)
 * but not its payload: RivetKit 2.2.1's file-system driver sums the size of all of an actor's
 * storage on every write, so payloads kept forever would slow every write the actor makes. A
 * failed one keeps its payload (the runtime issue names it) until it is pruned with the rest.
 */
async function markDelivery(loop: WorkLoop, id: string, status: "processed" | "ignored" | "failed", error: string | null, kind?: string): Promise<void> {
  const now = Date.now();
  await loop.db
    .update(deliveries)
    .set({ status, error, processedAt: now, ...(status === "failed" ? {} : { payload: "" }) })
    .where(eq(deliveries.id, id));
  const counts = loop.state.counts;
  counts[status] += 1;
  if (status === "ignored" && kind) {
    const byKind = (counts.ignoredByEvent ??= {});
    const key = Object.hasOwn(byKind, kind) || Object.keys(byKind).length < IGNORED_KINDS ? kind : "other";
    byKind[key] = (byKind[key] ?? 0) + 1;
  }
  if (now - (loop.state.prunedAt ?? 0) >= PRUNE_EVERY_MS) {
    loop.state.prunedAt = now;
    await loop.db.delete(deliveries).where(and(inArray(deliveries.status, ["processed", "ignored", "failed"]), lt(deliveries.receivedAt, now - DELIVERY_RETENTION_MS)));
  }
}

async function reportRefusal(loop: WorkLoop): Promise<void> {
  await reportHandledFailure(loop.client(), source(loop), { workflow: "github", step: "installation", message: loop.state.message ?? "GitHub refused the installation." });
}

/**
 * A full sync in batched steps: repositories by page, members, open pull requests a few
 * repositories per step, then a sweep of what this generation did not see.
 */
async function runSync(loop: WorkLoop): Promise<void> {
  const generation = await loop.step("sync-start", () => startSync(loop));
  if (generation === null) return;
  const reposDone = await loop.loop<{ page: number }, boolean>({
    name: "sync-repos",
    state: { page: 1 },
    run: async (it, st) => {
      const r = await syncStep(it, "sync-repos-page", () => syncReposPage(it, generation, st.page));
      if (!r.ok) return Loop.break(false);
      return r.value ? Loop.continue({ page: st.page + 1 }) : Loop.break(true);
    },
  });
  if (!reposDone) return;
  if (!(await syncStep(loop, "sync-members", () => syncMembers(loop, generation))).ok) return;
  const pullsDone = await loop.loop<{ offset: number }, boolean>({
    name: "sync-pulls",
    state: { offset: 0 },
    run: async (it, st) => {
      const r = await syncStep(it, "sync-pulls-batch", () => syncPullsBatch(it, generation, st.offset));
      if (!r.ok) return Loop.break(false);
      return r.value === null ? Loop.break(true) : Loop.continue({ offset: r.value });
    },
  });
  if (!pullsDone) return;
  await syncStep(loop, "sync-sweep", () => sweepAndFinish(loop, generation));
}

/** One sync step, retried; a failure (or GitHub's refusal) ends the sync with a recorded reason. */
async function syncStep<T>(ctx: WorkLoop, name: string, run: () => Promise<T>): Promise<{ ok: true; value: T } | { ok: false }> {
  const r = await ctx.tryStep<T | "refused">({
    name,
    maxRetries: RETRIES,
    retryBackoffBase: BACKOFF_MS,
    timeout: 300_000,
    catch: [...CATCH],
    run: async () => {
      const v = await guarded(run);
      return v instanceof Refused ? "refused" : v;
    },
  });
  const failure = !r.ok ? { message: r.failure.error.message, refused: false } : r.value === "refused" ? { message: "refused", refused: true } : null;
  if (!failure) return { ok: true, value: (r as { value: T }).value };
  await ctx.step("sync-failed", async () => {
    const text = failSync(ctx, { message: failure.message, ...(failure.refused ? { status: 401 } : {}) });
    await broadcastStatus(ctx);
    await reportHandledFailure(ctx.client(), source(ctx), { workflow: "github-sync", step: name, message: text });
  });
  return { ok: false };
}

export async function runGitHubWork(loop: WorkLoop, work: GitHubWork): Promise<void> {
  if (work.kind === "delivery") await processDelivery(loop, work.id);
  else await runSync(loop);
}
