import { and, desc, eq, isNull, lt } from "drizzle-orm";
import type { RuntimeIssue, RuntimeIssueReport } from "../../shared/schemas/task.js";
import { runtimeIssues } from "./db.js";
import type { OrgDb } from "./tasks.js";

/** How many issues an org keeps. Older ones are dropped: a bounded history, not last-write-wins. */
export const RUNTIME_ISSUE_LIMIT = 200;

export async function listRuntimeIssues(db: OrgDb): Promise<RuntimeIssue[]> {
  return db.select().from(runtimeIssues).orderBy(desc(runtimeIssues.id)).limit(RUNTIME_ISSUE_LIMIT);
}

export async function insertRuntimeIssue(db: OrgDb, report: RuntimeIssueReport): Promise<void> {
  const [row] = await db.insert(runtimeIssues).values({ ...report, resolvedAt: null }).returning({ id: runtimeIssues.id });
  if (row && row.id > RUNTIME_ISSUE_LIMIT) await db.delete(runtimeIssues).where(lt(runtimeIssues.id, row.id - RUNTIME_ISSUE_LIMIT + 1));
}

/** Marks an actor's open issues resolved, because it has since succeeded. Returns whether any changed. */
export async function resolveIssuesOf(db: OrgDb, actorId: string): Promise<boolean> {
  const changed = await db
    .update(runtimeIssues)
    .set({ resolvedAt: new Date().toISOString() })
    .where(and(eq(runtimeIssues.actorId, actorId), isNull(runtimeIssues.resolvedAt)))
    .returning({ id: runtimeIssues.id });
  return changed.length > 0;
}

export async function clearRuntimeIssues(db: OrgDb, actorId?: string): Promise<void> {
  await db.delete(runtimeIssues).where(actorId ? eq(runtimeIssues.actorId, actorId) : undefined);
}
