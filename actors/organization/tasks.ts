import { randomBytes } from "node:crypto";
import { and, desc, eq, like, lt, or } from "drizzle-orm";
import type { SqliteRemoteDatabase } from "drizzle-orm/sqlite-proxy";
import { UserError } from "rivetkit";
import { deriveTitle, sanitizeBranchName, uniqueBranchName } from "../../shared/branch.js";
import {
  CreateTaskBodySchema,
  type Repo,
  type TaskPhase,
  type TaskState as TaskLifecycleState,
  type TaskPage,
  type TaskSummary,
} from "../../shared/schemas/task.js";
import type { PullRequestRef } from "../../shared/schemas/github.js";
import { ACTOR_ERRORS, parseInput } from "../auth.js";
import type { TaskInput } from "../task/state.js";
import { PHASE_LABELS } from "../task/state.js";
import { repos, tasks, type schema } from "./db.js";

export type OrgDb = SqliteRemoteDatabase<typeof schema>;

type TaskRow = typeof tasks.$inferSelect;

export function rowToSummary(r: TaskRow): TaskSummary {
  return {
    id: r.id,
    repoId: r.repoId,
    title: r.title,
    branch: r.branch,
    lifecycle: { phase: r.phase as TaskPhase, state: r.state as TaskLifecycleState, label: r.label, message: r.message },
    createdBy: r.createdBy,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
    pullRequest: r.pullRequest ? (JSON.parse(r.pullRequest) as PullRequestRef) : null,
    revision: r.revision,
  };
}

function rowToRepo({ hidden: _hidden, source, ...r }: typeof repos.$inferSelect): Repo {
  return { ...r, source: source === "github" ? "github" : "git" };
}

export async function listRepos(db: OrgDb): Promise<Repo[]> {
  return (await db.select().from(repos).where(eq(repos.hidden, false)).orderBy(repos.createdAt)).map(rowToRepo);
}

/** Hidden repos are still found: their tasks stay readable. */
export async function findRepo(db: OrgDb, repoId: string): Promise<Repo | undefined> {
  const row = (await db.select().from(repos).where(eq(repos.id, repoId)).limit(1))[0];
  return row ? rowToRepo(row) : undefined;
}

/** A page holds 1 to 1,000 tasks, 200 by default. */
export function pageLimit(limit: number | undefined): number {
  return Math.min(Math.max(Math.trunc(limit ?? 200), 1), 1_000);
}

/** The cursor is the last row's (createdAt, id), so pages never skip or repeat a task. */
export function encodeCursor(createdAt: string, id: string): string {
  return Buffer.from(JSON.stringify([createdAt, id])).toString("base64url");
}

export function decodeCursor(cursor: string): { createdAt: string; id: string } {
  try {
    const [createdAt, id] = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) as unknown[];
    if (typeof createdAt === "string" && typeof id === "string") return { createdAt, id };
  } catch {
    // Falls through to the error below.
  }
  throw new UserError("This cursor is not one Kiln gave out; start from the first page.", { code: ACTOR_ERRORS.invalidRequest });
}

export async function findTask(db: OrgDb, taskId: string): Promise<TaskRow | undefined> {
  return (await db.select().from(tasks).where(eq(tasks.id, taskId)).limit(1))[0];
}

/** Branch names in use in a repo that could collide with `base` or its numbered variants. */
async function takenBranches(db: OrgDb, repoId: string, base: string): Promise<Set<string>> {
  const rows = await db
    .select({ branch: tasks.branch })
    .from(tasks)
    .where(and(eq(tasks.repoId, repoId), or(eq(tasks.branch, base), like(tasks.branch, `${base}-%`))));
  return new Set(rows.map((r) => r.branch));
}

/**
 * Writes a new task's row (state `starting`, phase `queued`) and returns what the TaskActor is
 * created with. Title and branch are derived from the prompt when omitted; the branch is made
 * valid and, when taken in the repo, suffixed.
 */
export async function insertTask(db: OrgDb, orgId: string, userId: string, rawBody: unknown, sandboxProvider: string): Promise<{ input: TaskInput; summary: TaskSummary }> {
  const body = parseInput(CreateTaskBodySchema, rawBody, "Invalid task.");
  const repo = await findRepo(db, body.repoId);
  if (!repo) throw new UserError(`No repository ${body.repoId} in this organization.`, { code: ACTOR_ERRORS.repoNotFound });
  const title = body.title ?? deriveTitle(body.prompt);
  const base = sanitizeBranchName(body.branch ?? title);
  const branch = uniqueBranchName(base, await takenBranches(db, repo.id, base));
  const now = new Date().toISOString();
  const taskId = `t_${randomBytes(9).toString("base64url").replace(/[^A-Za-z0-9]/g, "x")}`;
  const row: TaskRow = {
    pullRequest: null,
    id: taskId,
    repoId: repo.id,
    title,
    branch,
    state: "starting",
    phase: "queued",
    label: PHASE_LABELS.queued,
    message: null,
    createdBy: userId,
    createdAt: now,
    updatedAt: now,
    revision: 0,
    spawnInput: null,
  };
  // The TaskActor takes its createdAt from here: the 202, the list, the task view and its events show one time.
  const input: TaskInput = { orgId, repoId: repo.id, taskId, remoteUrl: repo.remoteUrl, title, branch, prompt: body.prompt, createdBy: userId, sandboxProvider, createdAt: now };
  // The row carries what the TaskActor is created with until it exists: the durable half of the 202.
  row.spawnInput = JSON.stringify(input);
  await db.insert(tasks).values(row);
  return { input, summary: rowToSummary(row) };
}

/** What a task still to be spawned is created with; undefined once its TaskActor exists (or no such task). */
export async function spawnInputOf(db: OrgDb, taskId: string): Promise<TaskInput | undefined> {
  const row = (await db.select({ spawnInput: tasks.spawnInput }).from(tasks).where(eq(tasks.id, taskId)).limit(1))[0];
  return row?.spawnInput ? (JSON.parse(row.spawnInput) as TaskInput) : undefined;
}

/** The TaskActor exists (or the task failed before it could): nothing is left to spawn. */
export async function clearSpawnInput(db: OrgDb, taskId: string): Promise<void> {
  await db.update(tasks).set({ spawnInput: null }).where(eq(tasks.id, taskId));
}

/**
 * Applies a summary pushed by a TaskActor, in one conditional statement: a push whose revision is
 * not above the row's (stale, or arriving after a newer one) changes nothing. True when applied.
 */
export async function applyTaskSummary(db: OrgDb, s: TaskSummary): Promise<boolean> {
  const applied = await db
    .update(tasks)
    .set({
      title: s.title,
      branch: s.branch,
      state: s.lifecycle.state,
      phase: s.lifecycle.phase,
      label: s.lifecycle.label,
      message: s.lifecycle.message,
      updatedAt: s.updatedAt,
      pullRequest: s.pullRequest ? JSON.stringify(s.pullRequest) : null,
      revision: s.revision,
    })
    .where(and(eq(tasks.id, s.id), lt(tasks.revision, s.revision)))
    .returning({ id: tasks.id });
  return applied.length > 0;
}

/** Claims `name` for a task in its repo's branch index, or refuses with conflict. */
export async function reserveBranch(db: OrgDb, repoId: string, taskId: string, name: string): Promise<void> {
  const holder = (await db.select({ id: tasks.id }).from(tasks).where(and(eq(tasks.repoId, repoId), eq(tasks.branch, name))).limit(1))[0];
  if (holder && holder.id !== taskId) throw new UserError(`Branch ${name} is already used by another task.`, { code: ACTOR_ERRORS.conflict });
  await db.update(tasks).set({ branch: name }).where(eq(tasks.id, taskId));
}

export async function tasksToResume(db: OrgDb): Promise<TaskRow[]> {
  return db.select().from(tasks).where(eq(tasks.state, "starting"));
}
