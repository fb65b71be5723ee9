import { index, integer, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

/** Repositories of the org. `remote_url` is normalized, so adding the same remote twice finds this row. */
export const repos = sqliteTable(
  "repos",
  {
    id: text("id").primaryKey(),
    remoteUrl: text("remote_url").notNull(),
    name: text("name").notNull(),
    defaultBranch: text("default_branch"),
    createdBy: text("created_by").notNull(),
    createdAt: text("created_at").notNull(),
    /** `github` rows are a copy pushed by the org's GitHubStateActor (their source); `git` rows were added by hand. */
    source: text("source").notNull().default("git"),
    fullName: text("full_name"),
    private: integer("private", { mode: "boolean" }),
    /** Removed from the installation: hidden from the list, its tasks stay readable. */
    hidden: integer("hidden", { mode: "boolean" }).notNull().default(false),
  },
  (t) => [uniqueIndex("repos_remote_url_uq").on(t.remoteUrl)],
);

/** Task summaries: a read index whose source is each TaskActor, which pushes its summary here on every change. */
export const tasks = sqliteTable(
  "tasks",
  {
    id: text("id").primaryKey(),
    repoId: text("repo_id").notNull(),
    title: text("title").notNull(),
    branch: text("branch").notNull(),
    state: text("state").notNull(),
    phase: text("phase").notNull(),
    label: text("label").notNull(),
    message: text("message"),
    createdBy: text("created_by").notNull(),
    createdAt: text("created_at").notNull(),
    updatedAt: text("updated_at").notNull(),
    /** JSON PullRequestRef, as the TaskActor pushed it (GitHub repos). */
    pullRequest: text("pull_request"),
    /** The pushed summary's revision: a push whose revision is not above it is stale and ignored. 0 until the task's first push. */
    revision: integer("revision").notNull().default(0),
    /**
     * JSON TaskInput while the TaskActor is still to be created (the org's `spawn` workflow does it
     * after the 202); null once it exists. Restart recovery re-enqueues rows that still hold one.
     */
    spawnInput: text("spawn_input"),
  },
  (t) => [
    uniqueIndex("tasks_repo_branch_uq").on(t.repoId, t.branch),
    index("tasks_updated_at_idx").on(t.updatedAt),
    // The task list is ordered newest first.
    index("tasks_created_at_idx").on(t.createdAt),
    // Restart recovery looks up tasks still `starting`.
    index("tasks_state_idx").on(t.state),
  ],
);

/** Runtime issues reported by workflow `onError` hooks anywhere under this org: a bounded history. */
export const runtimeIssues = sqliteTable(
  "runtime_issues",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    actorType: text("actor_type").notNull(),
    actorId: text("actor_id").notNull(),
    scope: text("scope").notNull(),
    workflow: text("workflow").notNull(),
    step: text("step"),
    attempt: integer("attempt"),
    willRetry: integer("will_retry", { mode: "boolean" }).notNull(),
    message: text("message").notNull(),
    occurredAt: text("occurred_at").notNull(),
    resolvedAt: text("resolved_at"),
  },
  (t) => [index("runtime_issues_actor_idx").on(t.actorId)],
);

/**
 * Per-user unread marks, one row per task: the members who have a session on it with a turn they
 * have not read. The source is each TaskActor, which pushes its set whenever it changes; a push
 * whose revision is not above the row's is stale and ignored.
 */
export const taskUnread = sqliteTable("task_unread", {
  taskId: text("task_id").primaryKey(),
  /** JSON array of user ids. */
  users: text("users").notNull(),
  revision: integer("revision").notNull(),
});

export const schema = { repos, tasks, runtimeIssues, taskUnread };
