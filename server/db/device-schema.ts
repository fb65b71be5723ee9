/**
 * App-database tables of the device API: personal access tokens (identity: hashed, never the
 * secret) and the two small indexes the gateway reads to authorize device routes cheaply.
 */
import { index, jsonb, pgTable, text, timestamp } from "drizzle-orm/pg-core";
import { user } from "./schema.js";

/**
 * Personal access tokens. Only the SHA-256 of the secret is kept; `prefix` is the first characters
 * of the token, shown in lists so a user can tell tokens apart. A device token is bound to one
 * device (`device_id`, `platform`, `org_id`).
 */
export const personalAccessToken = pgTable(
  "personal_access_token",
  {
    id: text("id").primaryKey(),
    userId: text("user_id")
      .notNull()
      .references(() => user.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    prefix: text("prefix").notNull(),
    tokenHash: text("token_hash").notNull().unique(),
    scopes: jsonb("scopes").$type<string[]>().notNull(),
    orgId: text("org_id"),
    deviceId: text("device_id"),
    platform: text("platform"),
    expiresAt: timestamp("expires_at", { withTimezone: true }),
    revokedAt: timestamp("revoked_at", { withTimezone: true }),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index("pat_user_idx").on(t.userId, t.createdAt), index("pat_device_idx").on(t.deviceId)],
);

export interface DeviceIndexView {
  label: string | null;
  appVersion: string | null;
  capabilities: Record<string, boolean>;
  registeredAt: string | null;
}

/**
 * Which user and organization a device belongs to, for `/v1/devices`. Source of truth: the
 * DeviceActor, which pushes its registration here when it changes and `last_seen_at` at most once
 * a minute (an idle poll writes nothing).
 */
export const deviceIndex = pgTable(
  "device_index",
  {
    deviceId: text("device_id").primaryKey(),
    orgId: text("org_id").notNull(),
    userId: text("user_id")
      .notNull()
      .references(() => user.id, { onDelete: "cascade" }),
    platform: text("platform").notNull(),
    view: jsonb("view").$type<DeviceIndexView>().notNull(),
    lastSeenAt: timestamp("last_seen_at", { withTimezone: true }),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index("device_index_user_idx").on(t.userId, t.createdAt), index("device_index_org_idx").on(t.orgId)],
);

/**
 * Which organization a watcher belongs to, so a device's trigger can tell "another org's" (403)
 * from "no such watcher" (404) without asking every organization. Written by the OrganizationActor
 * when it creates a watcher; an authorization index only.
 */
export const watcherIndex = pgTable("watcher_index", {
  watcherId: text("watcher_id").primaryKey(),
  orgId: text("org_id").notNull(),
  createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
});
