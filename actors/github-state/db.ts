import { index, integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";

/**
 * Every webhook delivery this org received, by GitHub's delivery id: the dedupe record (written
 * before the 202) and the payload the workflow processes. `status`: queued → processed | ignored | failed.
 */
export const deliveries = sqliteTable(
  "deliveries",
  {
    id: text("id").primaryKey(),
    event: text("event").notNull(),
    action: text("action"),
    status: text("status").notNull(),
    payload: text("payload").notNull(),
    error: text("error"),
    receivedAt: integer("received_at").notNull(),
    processedAt: integer("processed_at"),
  },
  (t) => [index("deliveries_status_idx").on(t.status, t.receivedAt)],
);

/** The installation's repositories. `generation` is the last full sync that saw the row; `removed` hides it. */
export const repos = sqliteTable("repos", {
  id: integer("id").primaryKey(),
  fullName: text("full_name").notNull(),
  defaultBranch: text("default_branch").notNull(),
  private: integer("private", { mode: "boolean" }).notNull(),
  archived: integer("archived", { mode: "boolean" }).notNull().default(false),
  removed: integer("removed", { mode: "boolean" }).notNull().default(false),
  generation: integer("generation").notNull(),
});

/** The GitHub organization's members (admins and members), whether or not they use Kiln. */
export const members = sqliteTable("members", {
  githubId: integer("github_id").primaryKey(),
  login: text("login").notNull(),
  role: text("role").notNull(),
  generation: integer("generation").notNull(),
});

/** Pull requests with their review state; CI state is per head commit, in `checks`. */
export const pulls = sqliteTable(
  "pulls",
  {
    repoId: integer("repo_id").notNull(),
    number: integer("number").notNull(),
    url: text("url").notNull(),
    title: text("title").notNull(),
    state: text("state").notNull(),
    draft: integer("draft", { mode: "boolean" }).notNull(),
    headRef: text("head_ref").notNull(),
    headSha: text("head_sha").notNull(),
    reviewDecision: text("review_decision"),
    taskId: text("task_id"),
    generation: integer("generation").notNull(),
  },
  (t) => [primaryKey({ columns: [t.repoId, t.number] }), index("pulls_head_idx").on(t.repoId, t.headRef)],
);

/** One CI signal per head commit: a check run or a commit status context. `state`: pending | success | failure. */
export const checks = sqliteTable(
  "checks",
  {
    sha: text("sha").notNull(),
    name: text("name").notNull(),
    state: text("state").notNull(),
  },
  (t) => [primaryKey({ columns: [t.sha, t.name] })],
);

export const schema = { deliveries, repos, members, pulls, checks };
