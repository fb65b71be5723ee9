import { index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";

/** The repository's append-only event log. The actor key scopes it to one repo. */
export const events = sqliteTable(
  "events",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    taskId: text("task_id").notNull(),
    kind: text("kind").notNull(),
    message: text("message").notNull(),
    actorUserId: text("actor_user_id"),
    at: text("at").notNull(),
  },
  (t) => [index("events_task_idx").on(t.taskId, t.id)],
);

export const schema = { events };
