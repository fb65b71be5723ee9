import type { TaskPage, TaskSummary } from "../../shared/schemas/task.js";
import { decodeCursor, encodeCursor, pageLimit, rowToSummary, type OrgDb } from "./tasks.js";
import { tasks } from "./db.js";

interface Entry {
  summary: TaskSummary;
  /** The summary as JSON, made once per change: a page is these joined, never re-serialized. */
  json: string;
}

/** Newest first: createdAt, then id, both descending (the list's order and its cursor's). */
function before(a: TaskSummary, b: { createdAt: string; id: string }): boolean {
  return a.createdAt > b.createdAt || (a.createdAt === b.createdAt && a.id > b.id);
}

/**
 * The task list's read view, in the OrganizationActor's vars: every summary in list order, each
 * with its JSON. It is loaded from the `tasks` table on the first read after the actor wakes and
 * then follows every write the actor makes to that table, so pages cost no SQL and no per-row
 * serialization. The table stays the truth; this is dropped with the actor when it sleeps.
 */
export class TaskListView {
  private entries: Entry[] | undefined;
  private readonly byId = new Map<string, Entry>();
  private loading: Promise<Entry[]> | undefined;
  /** Writes made while a load reads the table, applied on top of what it read. */
  private pending: (() => void)[] = [];

  /** One page, as `listTaskSummaries` would return it, each task with the caller's own `unread`. */
  async page(db: OrgDb, opts: { repoId?: string; limit?: number; cursor?: string }, unread: (taskId: string) => boolean): Promise<TaskPage> {
    const { entries, next } = await this.slice(db, opts);
    return { tasks: entries.map((e) => ({ ...e.summary, unread: unread(e.summary.id) })), nextCursor: next };
  }

  /** The same page, already serialized as the REST body (`TaskPage` JSON). */
  async pageJson(db: OrgDb, opts: { repoId?: string; limit?: number; cursor?: string }, unread: (taskId: string) => boolean): Promise<string> {
    const { entries, next } = await this.slice(db, opts);
    // The caller's `unread` goes inside each summary's cached JSON object, which ends with its `}`.
    const items = entries.map((e) => `${e.json.slice(0, -1)},"unread":${unread(e.summary.id)}}`);
    return `{"tasks":[${items.join(",")}],"nextCursor":${JSON.stringify(next)}}`;
  }

  /** One task's summary, from memory (the list view loads once per wake). */
  async find(db: OrgDb, id: string): Promise<TaskSummary | undefined> {
    await this.load(db);
    return this.byId.get(id)?.summary;
  }

  /** A row was inserted or a summary applied: the view takes it unless it holds a newer one. */
  upsert(summary: TaskSummary): void {
    if (!this.entries) {
      if (this.loading) this.pending.push(() => this.upsert(summary));
      return;
    }
    const existing = this.byId.get(summary.id);
    if (existing && existing.summary.revision > summary.revision) return;
    if (existing) this.entries.splice(this.indexOf(existing.summary), 1);
    const entry: Entry = { summary, json: JSON.stringify(summary) };
    this.entries.splice(this.insertionPoint(summary), 0, entry);
    this.byId.set(summary.id, entry);
  }

  remove(id: string): void {
    if (!this.entries) {
      if (this.loading) this.pending.push(() => this.remove(id));
      return;
    }
    const existing = this.byId.get(id);
    if (!existing) return;
    this.entries.splice(this.indexOf(existing.summary), 1);
    this.byId.delete(id);
  }

  private async slice(db: OrgDb, opts: { repoId?: string; limit?: number; cursor?: string }): Promise<{ entries: Entry[]; next: string | null }> {
    const all = await this.load(db);
    const limit = pageLimit(opts.limit);
    const after = opts.cursor ? decodeCursor(opts.cursor) : undefined;
    let i = after ? this.insertionPoint(after) : 0;
    // The cursor names the last row of the previous page: start after it.
    if (after && all[i]?.summary.id === after.id) i++;
    const out: Entry[] = [];
    let more = false;
    for (; i < all.length; i++) {
      const e = all[i] as Entry;
      if (opts.repoId && e.summary.repoId !== opts.repoId) continue;
      if (out.length === limit) {
        more = true;
        break;
      }
      out.push(e);
    }
    const last = out.at(-1);
    return { entries: out, next: more && last ? encodeCursor(last.summary.createdAt, last.summary.id) : null };
  }

  private async load(db: OrgDb): Promise<Entry[]> {
    if (this.entries) return this.entries;
    this.loading ??= (async () => {
      try {
        const rows = await db.select().from(tasks);
        const entries = rows.map(rowToSummary).map((summary) => ({ summary, json: JSON.stringify(summary) }));
        entries.sort((a, b) => (before(a.summary, b.summary) ? -1 : 1));
        this.byId.clear();
        for (const e of entries) this.byId.set(e.summary.id, e);
        this.entries = entries;
        // A write that landed before the read is in the rows already; applying it again is a no-op.
        for (const apply of this.pending.splice(0)) apply();
        return entries;
      } finally {
        this.loading = undefined;
        this.pending = [];
      }
    })();
    return this.loading;
  }

  /** Where `key` goes in list order: the first entry not before it. */
  private insertionPoint(key: { createdAt: string; id: string }): number {
    const all = this.entries ?? [];
    let lo = 0;
    let hi = all.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (before((all[mid] as Entry).summary, key)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private indexOf(summary: TaskSummary): number {
    const i = this.insertionPoint(summary);
    return this.entries?.[i]?.summary.id === summary.id ? i : (this.entries?.findIndex((e) => e.summary.id === summary.id) ?? -1);
  }
}
