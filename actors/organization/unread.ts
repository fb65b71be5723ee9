import { sql } from "drizzle-orm";
import type { TaskUnread } from "../../shared/schemas/task.js";
import type { Caller } from "../auth.js";
import { taskUnread } from "./db.js";
import type { OrgDb } from "./tasks.js";

/** What a TaskActor pushes: the members with something unread on it, under a growing revision. */
export interface TaskUnreadPush {
  taskId: string;
  users: string[];
  revision: number;
}

/** One member's mark on one task changed. */
export interface UnreadChange {
  userId: string;
  change: TaskUnread;
}

interface Marks {
  users: Set<string>;
  revision: number;
}

/**
 * Each member's unread tasks, in the OrganizationActor's vars: loaded from `task_unread` on the
 * first use after a wake, then kept by every push the actor applies, so the task list answers
 * `unread` from memory. The table stays the truth.
 */
export class UnreadView {
  private byTask: Map<string, Marks> | undefined;
  private readonly byUser = new Map<string, Set<string>>();
  private loading: Promise<void> | undefined;

  /** Loads the marks once; the list calls it before a page, a push before applying. */
  async load(db: OrgDb): Promise<void> {
    if (this.byTask) return;
    this.loading ??= (async () => {
      try {
        const rows = await db.select().from(taskUnread);
        const byTask = new Map<string, Marks>();
        this.byUser.clear();
        for (const row of rows) {
          const users = new Set(parseUsers(row.users));
          byTask.set(row.taskId, { users, revision: row.revision });
          for (const u of users) this.userSet(u).add(row.taskId);
        }
        this.byTask = byTask;
      } finally {
        this.loading = undefined;
      }
    })();
    await this.loading;
  }

  /** Whether `userId` has anything unread on `taskId` (false for Kiln itself, or before a load). */
  isUnread(userId: string | null, taskId: string): boolean {
    return userId !== null && (this.byUser.get(userId)?.has(taskId) ?? false);
  }

  /**
   * Applies a push when it is newer than what the org holds, in SQLite first (one conditional
   * upsert, so a late push never overwrites a newer one) and then in memory. Answers each member
   * whose mark changed, or nothing for a stale push.
   */
  async apply(db: OrgDb, push: TaskUnreadPush): Promise<UnreadChange[]> {
    await this.load(db);
    const users = [...new Set(push.users.filter((u) => typeof u === "string"))].sort();
    const applied = await db
      .insert(taskUnread)
      .values({ taskId: push.taskId, users: JSON.stringify(users), revision: push.revision })
      .onConflictDoUpdate({
        target: taskUnread.taskId,
        set: { users: sql`excluded.users`, revision: sql`excluded.revision` },
        setWhere: sql`excluded.revision > ${taskUnread.revision}`,
      })
      .returning({ taskId: taskUnread.taskId });
    if (applied.length === 0) return [];
    const byTask = this.byTask ?? new Map<string, Marks>();
    const prev = byTask.get(push.taskId);
    // Two applied pushes finish in either order; memory keeps the newer.
    if (prev && prev.revision >= push.revision) return [];
    const next = new Set(users);
    byTask.set(push.taskId, { users: next, revision: push.revision });
    const changes: UnreadChange[] = [];
    for (const u of next) {
      if (prev?.users.has(u)) continue;
      this.userSet(u).add(push.taskId);
      changes.push({ userId: u, change: { taskId: push.taskId, unread: true, revision: push.revision } });
    }
    for (const u of prev?.users ?? []) {
      if (next.has(u)) continue;
      this.byUser.get(u)?.delete(push.taskId);
      changes.push({ userId: u, change: { taskId: push.taskId, unread: false, revision: push.revision } });
    }
    return changes;
  }

  private userSet(userId: string): Set<string> {
    let set = this.byUser.get(userId);
    if (!set) this.byUser.set(userId, (set = new Set()));
    return set;
  }
}

function parseUsers(raw: string): string[] {
  try {
    const v = JSON.parse(raw) as unknown;
    return Array.isArray(v) ? v.filter((u): u is string => typeof u === "string") : [];
  } catch {
    return [];
  }
}

/**
 * Sends each changed mark to its own member's connections only: another member's marks are
 * never sent to anyone else.
 */
export function sendUnreadChanges(
  conns: Iterable<{ state: unknown; send(name: "taskUnreadUpdated", change: TaskUnread): void }>,
  changes: UnreadChange[],
): void {
  if (changes.length === 0) return;
  for (const conn of conns) {
    const userId = (conn.state as Caller | undefined)?.userId;
    if (!userId) continue;
    for (const c of changes) if (c.userId === userId) conn.send("taskUnreadUpdated", c.change);
  }
}
