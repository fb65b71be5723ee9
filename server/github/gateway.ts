import { and, eq, inArray } from "drizzle-orm";
import type { KilnGitHubUser } from "../../actors/github-state/services.js";
import { personalOrgId } from "../../shared/keys.js";
import type { AppDb } from "../db/index.js";
import { account, githubInstallation, githubMember, user } from "../db/schema.js";

/** GitHub's side of the app database: installation routing, GitHub identities, and the member index. */
export class GitHubIndex {
  constructor(private readonly db: AppDb) {}

  async orgFor(installationId: number): Promise<string | null> {
    const [row] = await this.db.select({ orgId: githubInstallation.orgId }).from(githubInstallation).where(eq(githubInstallation.installationId, installationId)).limit(1);
    return row?.orgId ?? null;
  }

  /**
   * Routes a new installation once: a personal account that a Kiln user signed in with goes to
   * that user's personal org, anything else to `gh-<accountId>`. The first route written wins.
   */
  async routeInstallation(installationId: number, accountId: number, accountType: string): Promise<string> {
    const existing = await this.orgFor(installationId);
    if (existing) return existing;
    let orgId = `gh-${accountId}`;
    if (accountType === "User") {
      const [owner] = await this.kilnUsersForGitHub([accountId]);
      if (owner) orgId = personalOrgId(owner.userId);
    }
    await this.db.insert(githubInstallation).values({ installationId, orgId, accountId }).onConflictDoNothing();
    return (await this.orgFor(installationId)) ?? orgId;
  }

  /**
   * Installations on this personal GitHub account that wait in their `gh-<id>` org for the
   * account's Kiln user (installed before that user signed in with GitHub).
   */
  async personalInstallationsWaitingFor(githubUserId: number): Promise<{ installationId: number; orgId: string }[]> {
    return this.db
      .select({ installationId: githubInstallation.installationId, orgId: githubInstallation.orgId })
      .from(githubInstallation)
      .where(and(eq(githubInstallation.accountId, githubUserId), eq(githubInstallation.orgId, `gh-${githubUserId}`)));
  }

  async reroute(installationId: number, orgId: string): Promise<void> {
    await this.db.update(githubInstallation).set({ orgId }).where(eq(githubInstallation.installationId, installationId));
  }

  async allInstallationOrgs(): Promise<string[]> {
    const rows = await this.db.selectDistinct({ orgId: githubInstallation.orgId }).from(githubInstallation);
    return rows.map((r) => r.orgId);
  }

  async kilnUsersForGitHub(githubIds: number[]): Promise<KilnGitHubUser[]> {
    if (!githubIds.length) return [];
    const rows = await this.db
      .select({ accountId: account.accountId, userId: user.id, name: user.name, email: user.email })
      .from(account)
      .innerJoin(user, eq(account.userId, user.id))
      .where(and(eq(account.providerId, "github"), inArray(account.accountId, githubIds.map(String))));
    return rows.map((r) => ({ githubId: Number(r.accountId), userId: r.userId, name: r.name, email: r.email }));
  }

  async indexGitHubMembers(orgId: string, githubIds: number[]): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.delete(githubMember).where(eq(githubMember.orgId, orgId));
      if (githubIds.length) await tx.insert(githubMember).values(githubIds.map((githubUserId) => ({ orgId, githubUserId }))).onConflictDoNothing();
    });
  }

  /** The orgs whose GitHub member list has this GitHub user. */
  async orgsWaitingFor(githubUserId: number): Promise<string[]> {
    const rows = await this.db.select({ orgId: githubMember.orgId }).from(githubMember).where(eq(githubMember.githubUserId, githubUserId));
    return rows.map((r) => r.orgId);
  }
}
