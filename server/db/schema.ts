/**
 * The app database: identity only (better-auth's users, sessions, accounts, verifications)
 * plus the small index the gateway reads on every request to authorize cheaply.
 * The domain lives in actor state. Generate migrations with `npm run db:generate`.
 */
import { boolean, index, jsonb, pgTable, primaryKey, text, timestamp } from "drizzle-orm/pg-core";
import type { WorkerView } from "../../shared/schemas/worker.js";

export const user = pgTable("user", {
  id: text("id").primaryKey(),
  name: text("name").notNull(),
  email: text("email").notNull().unique(),
  emailVerified: boolean("email_verified").notNull().default(false),
  image: text("image"),
  createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
});

export const session = pgTable(
  "session",
  {
    id: text("id").primaryKey(),
    expiresAt: timestamp("expires_at", { withTimezone: true }).notNull(),
    token: text("token").notNull().unique(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
    ipAddress: text("ip_address"),
    userAgent: text("user_agent"),
    userId: text("user_id")
      .notNull()
      .references(() => user.id, { onDelete: "cascade" }),
  },
  (t) => [index("session_user_id_idx").on(t.userId)],
);

export const account = pgTable(
  "account",
  {
    id: text("id").primaryKey(),
    accountId: text("account_id").notNull(),
    providerId: text("provider_id").notNull(),
    userId: text("user_id")
      .notNull()
      .references(() => user.id, { onDelete: "cascade" }),
    accessToken: text("access_token"),
    refreshToken: text("refresh_token"),
    idToken: text("id_token"),
    accessTokenExpiresAt: timestamp("access_token_expires_at", { withTimezone: true }),
    refreshTokenExpiresAt: timestamp("refresh_token_expires_at", { withTimezone: true }),
    scope: text("scope"),
    password: text("password"),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index("account_user_id_idx").on(t.userId)],
);

export const verification = pgTable(
  "verification",
  {
    id: text("id").primaryKey(),
    identifier: text("identifier").notNull(),
    value: text("value").notNull(),
    expiresAt: timestamp("expires_at", { withTimezone: true }).notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index("verification_identifier_idx").on(t.identifier)],
);

/**
 * Read index of org membership for the gateway (`/v1/me`, route authorization).
 * Source of truth: each OrganizationActor's `members` state; rows here are written
 * by the organization service after the actor accepts the change.
 */
export const orgMembership = pgTable(
  "org_membership",
  {
    orgId: text("org_id").notNull(),
    userId: text("user_id")
      .notNull()
      .references(() => user.id, { onDelete: "cascade" }),
    role: text("role", { enum: ["owner", "admin", "member"] }).notNull(),
    orgKind: text("org_kind", { enum: ["personal", "team", "github"] }).notNull(),
    orgName: text("org_name").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.orgId, t.userId] }), index("org_membership_user_id_idx").on(t.userId)],
);

/**
 * Which organization a worker belongs to, and its creator, so `/v1/workers/:id` is routed and
 * authorized without asking every organization: an authorization index only. Written by the
 * worker's OrganizationActor when it creates the worker and removed when the worker is deleted;
 * the worker's view (and the org's list) live in that OrganizationActor.
 */
export const workerIndex = pgTable(
  "worker_index",
  {
    workerId: text("worker_id").primaryKey(),
    orgId: text("org_id").notNull(),
    createdBy: text("created_by").notNull(),
    /**
     * Only in rows written by Kiln before organizations owned their workers: the view the
     * WorkerActor last pushed. Adopted into the org at the next start, then cleared.
     */
    view: jsonb("view").$type<WorkerView>(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index("worker_index_org_idx").on(t.orgId, t.createdAt)],
);

/**
 * Read index of pending invitations, so an invitee finds theirs by email without asking every
 * organization. Source of truth: the OrganizationActor's `invitations`, pushed with its members.
 */
export const orgInvitation = pgTable(
  "org_invitation",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id").notNull(),
    email: text("email").notNull(),
    role: text("role", { enum: ["owner", "admin", "member"] }).notNull(),
    orgName: text("org_name").notNull(),
    invitedBy: text("invited_by").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull(),
  },
  (t) => [index("org_invitation_email_idx").on(t.email), index("org_invitation_org_idx").on(t.orgId)],
);

import { deviceIndex, personalAccessToken, watcherIndex } from "./device-schema.js";
export { deviceIndex, personalAccessToken, watcherIndex };

import { githubInstallation, githubMember } from "./github-schema.js";
export { githubInstallation, githubMember };

export const schema = { user, session, account, verification, orgMembership, workerIndex, personalAccessToken, deviceIndex, watcherIndex, orgInvitation, githubInstallation, githubMember };
