import { and, eq, inArray } from "drizzle-orm";
import type { OrgMember, OrgMemberRole } from "../../shared/schemas/org.js";
import type { TaskSummary } from "../../shared/schemas/task.js";
import { repos, tasks } from "./db.js";
import { rowToSummary, type OrgDb } from "./tasks.js";

/** A repository as the GitHubStateActor pushes it into the org's repo index. */
export interface GitHubRepoRow {
  githubId: number;
  fullName: string;
  cloneUrl: string;
  defaultBranch: string;
  private: boolean;
}

/** GitHub repositories keep one id across renames: GitHub's own. */
export function githubRepoId(githubId: number): string {
  return `gh-${githubId}`;
}

export async function upsertGitHubRepos(db: OrgDb, rows: GitHubRepoRow[], hide: number[]): Promise<void> {
  const now = new Date().toISOString();
  for (const r of rows) {
    const values = {
      remoteUrl: r.cloneUrl,
      name: r.fullName.split("/").pop() ?? r.fullName,
      defaultBranch: r.defaultBranch,
      source: "github",
      fullName: r.fullName,
      private: r.private,
      hidden: false,
    };
    await db
      .insert(repos)
      .values({ id: githubRepoId(r.githubId), createdBy: "github", createdAt: now, ...values })
      .onConflictDoUpdate({ target: repos.id, set: values });
  }
  if (hide.length) await db.update(repos).set({ hidden: true }).where(inArray(repos.id, hide.map(githubRepoId)));
}

export async function taskOnBranch(db: OrgDb, repoId: string, branch: string): Promise<TaskSummary | null> {
  const row = (await db.select().from(tasks).where(and(eq(tasks.repoId, repoId), eq(tasks.branch, branch))).limit(1))[0];
  return row ? rowToSummary(row) : null;
}

/** GitHub is the source of a GitHub org's members: the list replaces Kiln's. Returns who was removed. */
export function replaceMembers(current: Record<string, OrgMember>, next: { userId: string; name: string; email: string; role: OrgMemberRole }[]): string[] {
  const now = new Date().toISOString();
  const keep = new Set(next.map((m) => m.userId));
  const removed = Object.keys(current).filter((id) => !keep.has(id));
  for (const id of removed) delete current[id];
  for (const m of next) current[m.userId] = { ...m, joinedAt: current[m.userId]?.joinedAt ?? now };
  return removed;
}

/** The tasks on any of these branches of these repositories: one query for a sync's batch of pull requests. */
export async function tasksOnBranches(db: OrgDb, pairs: { repoId: string; branch: string }[]): Promise<{ id: string; repoId: string; branch: string }[]> {
  if (!pairs.length) return [];
  const wanted = new Set(pairs.map((p) => `${p.repoId}\u0000${p.branch}`));
  const rows = await db
    .select({ id: tasks.id, repoId: tasks.repoId, branch: tasks.branch })
    .from(tasks)
    .where(and(inArray(tasks.repoId, [...new Set(pairs.map((p) => p.repoId))]), inArray(tasks.branch, [...new Set(pairs.map((p) => p.branch))])));
  return rows.filter((r) => wanted.has(`${r.repoId}\u0000${r.branch}`));
}
