import { bigint, index, pgTable, primaryKey, text, timestamp } from "drizzle-orm/pg-core";

/**
 * Which organization a GitHub App installation's webhooks go to. Written by the webhook route when
 * an installation first appears (the route decides: a personal account of a Kiln user goes to
 * their personal org, anything else to `gh-<accountId>`); the installation itself lives in that
 * org's GitHubStateActor. Restart recovery wakes every GitHubStateActor listed here.
 */
export const githubInstallation = pgTable("github_installation", {
  installationId: bigint("installation_id", { mode: "number" }).primaryKey(),
  orgId: text("org_id").notNull(),
  accountId: bigint("account_id", { mode: "number" }).notNull(),
  createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
});

/**
 * An org's GitHub members by GitHub user id, including those who never signed in to Kiln, so a
 * first GitHub sign-in finds the orgs that wait for that user. Source: each GitHubStateActor.
 */
export const githubMember = pgTable(
  "github_member",
  {
    orgId: text("org_id").notNull(),
    githubUserId: bigint("github_user_id", { mode: "number" }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.orgId, t.githubUserId] }), index("github_member_user_idx").on(t.githubUserId)],
);
