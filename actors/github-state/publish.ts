import { and, eq, inArray } from "drizzle-orm";
import type { SqliteRemoteDatabase } from "drizzle-orm/sqlite-proxy";
import type { Client } from "rivetkit";
import type { GitHubStatus, PullRequestRef } from "../../shared/schemas/github.js";
import { keys } from "../../shared/keys.js";
import type { BranchHead } from "../../shared/schemas/task.js";
import { internalParams } from "../auth.js";
import { githubRepoId, type GitHubRepoRow } from "../organization/github.js";
import type { Registry } from "../registry.js";
import { nextRevision } from "../revision.js";
import { actorLog, actorServices } from "../services.js";
import { checks, members, pulls, type schema } from "./db.js";
import { statusView, type GitHubState } from "./state.js";

export type GitHubDb = SqliteRemoteDatabase<typeof schema>;

/** What both actions and workflow steps of the GitHubStateActor can do. */
export interface GitHubContext {
  state: GitHubState;
  db: GitHubDb;
  client(): Client<Registry>;
  broadcast(name: "githubUpdated", status: GitHubStatus): void;
}

export function githubServices() {
  const github = actorServices().github;
  if (!github) throw new Error("The GitHub App is not configured on this Kiln.");
  return github;
}

function org(c: GitHubContext) {
  return c.client().organization.get(keys.organization(c.state.orgId ?? ""), { params: internalParams() });
}

/** The status as members see it, with GitHub members who have not signed in to Kiln yet. */
export async function currentStatus(c: GitHubContext): Promise<GitHubStatus> {
  const rows = await c.db.select().from(members);
  const known = rows.length && actorServices().github ? await githubServices().kilnUsersForGitHub(rows.map((r) => r.githubId)) : [];
  const joined = new Set(known.map((k) => k.githubId));
  const pending = rows.filter((r) => !joined.has(r.githubId)).map((r) => ({ login: r.login, role: r.role === "admin" ? ("admin" as const) : ("member" as const) }));
  return statusView(c.state, pending);
}

/**
 * Tells this actor's subscribers, then pushes the summary up to the OrganizationActor, whose
 * subscribers see it in `orgUpdated` (ordered by revision there). The push is best-effort: a
 * failure is logged, and the next change pushes the whole summary again.
 */
export async function broadcastStatus(c: GitHubContext): Promise<void> {
  const status = await currentStatus(c);
  c.broadcast("githubUpdated", status);
  if (!c.state.orgId) return;
  const revision = (c.state.pushRevision = nextRevision(c.state.pushRevision));
  try {
    await org(c).recordGitHubStatus({ summary: { status: status.status, sync: status.sync, deliveries: status.deliveries }, revision });
  } catch (err) {
    actorLog().warn({ err, orgId: c.state.orgId }, "could not push the GitHub status to the organization");
  }
}

/**
 * Pushes the GitHub members who use Kiln into the OrganizationActor (the source of membership),
 * and indexes every GitHub member so a pending one joins on their first GitHub sign-in.
 */
export async function publishMembers(c: GitHubContext): Promise<void> {
  const orgId = c.state.orgId;
  if (!orgId) return;
  const rows = await c.db.select().from(members);
  const services = githubServices();
  await services.indexGitHubMembers(orgId, rows.map((r) => r.githubId));
  const users = await services.kilnUsersForGitHub(rows.map((r) => r.githubId));
  const roleOf = new Map(rows.map((r) => [r.githubId, r.role]));
  const inst = c.state.installation;
  await org(c).applyGitHubOrg({
    ...(inst ? { name: inst.displayName || inst.accountLogin, profile: { login: inst.accountLogin, avatarUrl: inst.avatarUrl ?? null } } : {}),
    members: users.map((u) => ({ userId: u.userId, name: u.name, email: u.email, role: roleOf.get(u.githubId) === "admin" ? ("admin" as const) : ("member" as const) })),
  });
}

/** The org's tasks on these (GitHub repository id, branch) pairs, by `<githubRepoId>:<branch>`. */
export async function tasksOnBranches(c: GitHubContext, pairs: { repoId: number; branch: string }[]): Promise<Map<string, { id: string; repoId: string }>> {
  const found = pairs.length ? await org(c).tasksOnBranches(pairs.map((p) => ({ repoId: githubRepoId(p.repoId), branch: p.branch }))) : [];
  return new Map(found.map((t) => [`${t.repoId}:${t.branch}`, { id: t.id, repoId: t.repoId }]));
}

export async function publishRepos(c: GitHubContext, upsert: GitHubRepoRow[], hide: number[]): Promise<void> {
  if (!c.state.orgId || (!upsert.length && !hide.length)) return;
  await org(c).recordGitHubRepos({ upsert, hide });
}

/** CI state of a head commit: check runs when there are any, else check suites, plus commit statuses. */
export async function checksFor(db: GitHubDb, sha: string): Promise<PullRequestRef["checks"]> {
  const rows = await db.select().from(checks).where(eq(checks.sha, sha));
  const runs = rows.filter((r) => r.name.startsWith("run:"));
  const suites = rows.filter((r) => r.name.startsWith("suite:"));
  const counted = [...(runs.length ? runs : suites), ...rows.filter((r) => r.name.startsWith("status:"))];
  const failed = counted.filter((r) => r.state === "failure").length;
  const state = counted.length === 0 ? "none" : failed ? "failure" : counted.some((r) => r.state === "pending") ? "pending" : "success";
  return { state, total: counted.length, failed };
}

/**
 * Pushes a pull request's state to the task on its branch, linking them the first time. `onBranch`:
 * the caller already asked the org which task is on the branch (a sync's batch), null for none.
 */
export async function publishPull(c: GitHubContext, repoId: number, number: number, onBranch?: { id: string; repoId: string } | null): Promise<void> {
  const orgId = c.state.orgId;
  const row = (await c.db.select().from(pulls).where(and(eq(pulls.repoId, repoId), eq(pulls.number, number))).limit(1))[0];
  if (!orgId || !row) return;
  let taskId = row.taskId;
  let taskRepo = githubRepoId(repoId);
  if (!taskId) {
    const task = onBranch === undefined ? await org(c).taskOnBranch(taskRepo, row.headRef) : onBranch;
    if (!task) return;
    taskId = task.id;
    taskRepo = task.repoId;
    await c.db.update(pulls).set({ taskId }).where(and(eq(pulls.repoId, repoId), eq(pulls.number, number)));
  }
  const ref: PullRequestRef = {
    number: row.number,
    url: row.url,
    state: row.state === "merged" ? "merged" : row.state === "closed" ? "closed" : "open",
    draft: row.draft,
    reviewDecision: (row.reviewDecision as PullRequestRef["reviewDecision"]) ?? null,
    checks: await checksFor(c.db, row.headSha),
  };
  await c.client().task.get(keys.task(orgId, taskRepo, taskId), { params: internalParams() }).recordPullRequest(ref);
}

/** A push moved `branch` of GitHub repository `repoId`: the task on it, if any, records the new head. Answers whether there was one. */
export async function publishBranchHead(c: GitHubContext, repoId: number, branch: string, head: BranchHead): Promise<boolean> {
  const orgId = c.state.orgId;
  const task = orgId ? await org(c).taskOnBranch(githubRepoId(repoId), branch) : null;
  if (!orgId || !task) return false;
  await c.client().task.get(keys.task(orgId, task.repoId, task.id), { params: internalParams() }).recordBranchHead(head);
  return true;
}

/** Every pull request whose head is `sha`: their CI state changed. */
export async function publishPullsAt(c: GitHubContext, sha: string): Promise<void> {
  for (const p of await c.db.select({ repoId: pulls.repoId, number: pulls.number }).from(pulls).where(eq(pulls.headSha, sha))) {
    await publishPull(c, p.repoId, p.number);
  }
}

export async function pullsForRepos(db: GitHubDb, repoIds: number[]) {
  return repoIds.length ? db.select().from(pulls).where(inArray(pulls.repoId, repoIds)) : [];
}
