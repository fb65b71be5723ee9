import { integer, sqliteTable, text } from "drizzle-orm/sqlite-core";

/** The session's transcript, in order. The actor key scopes it to one session. */
export const events = sqliteTable("events", {
  index: integer("idx").primaryKey({ autoIncrement: true }),
  sender: text("sender").notNull(),
  kind: text("kind").notNull(),
  text: text("text"),
  payload: text("payload", { mode: "json" }),
  at: text("at").notNull(),
  /** The member who sent a user message (null for others, and for messages recorded before it was kept). */
  author: text("author"),
});

export const schema = { events };
