import { randomBytes } from "node:crypto";
import { and, eq, notInArray } from "drizzle-orm";
import { internalParams } from "../actors/auth.js";
import { keys } from "../shared/keys.js";
import type { OrgIndexSnapshot } from "../actors/services.js";
import { INVITATION_TTL_MS, invitationExpiresAt, type Invitation } from "../shared/schemas/members.js";
import type { OrgMember, OrgMembership, OrgSummary } from "../shared/schemas/org.js";
import type { OrganizationInput } from "../actors/organization/index.js";
import type { AppDb } from "./db/index.js";
import { orgInvitation, orgMembership } from "./db/schema.js";
import type { ViewCache } from "./view-cache.js";
import type { KilnClient } from "./rivet.js";

export interface UserIdentity {
  id: string;
  name: string;
  email: string;
}

/**
 * Organization operations the gateway performs. The OrganizationActor decides; this module
 * only addresses it and keeps the gateway's membership index (org_membership) in step.
 */
export class Organizations {
  constructor(
    private readonly db: AppDb,
    private readonly client: () => KilnClient,
    /** Each user's organizations by user id, in the groups `user:<id>` and `org:<id>` of each org. */
    private readonly cache: ViewCache<readonly OrgMembership[]>,
  ) {}

  /** Creates the user's personal organization if it does not exist yet, through the app shell. Idempotent. */
  async ensurePersonal(user: UserIdentity): Promise<OrgSummary> {
    return this.client().appShell.getOrCreate(keys.appShell(), { params: internalParams() }).userOnboarded(user);
  }

  /** Creates a team organization with the user as its owner. */
  async createTeam(user: UserIdentity, name: string): Promise<OrgSummary> {
    const input: OrganizationInput = {
      id: `team-${randomBytes(9).toString("base64url").replace(/[^A-Za-z0-9]/g, "x")}`,
      kind: "team",
      name,
      owner: { userId: user.id, name: user.name, email: user.email },
    };
    return this.client()
      .organization.getOrCreate(keys.organization(input.id), { params: internalParams(), createWithInput: input })
      .ensure(input);
  }

  /** Pending invitations for an email, from the index. */
  async invitationsFor(email: string): Promise<Invitation[]> {
    const rows = await this.db.select().from(orgInvitation).where(eq(orgInvitation.email, email.toLowerCase())).orderBy(orgInvitation.createdAt);
    // Only invitations that can still be accepted; an expired one stays with its org until revoked or replaced.
    const live = rows.filter((r) => r.createdAt.getTime() + INVITATION_TTL_MS > Date.now());
    return live.map((r) => ({ id: r.id, orgId: r.orgId, orgName: r.orgName, email: r.email, role: r.role, invitedBy: r.invitedBy, createdAt: r.createdAt.toISOString(), expiresAt: invitationExpiresAt(r.createdAt.toISOString()) }));
  }

  /**
   * The invitee answers: the index says which org holds the invitation, and that actor decides
   * (it checks the email again). Unknown ids and other people's invitations look the same.
   */
  async answerInvitation(user: UserIdentity, invitationId: string, accept: boolean): Promise<OrgSummary | null> {
    const [row] = await this.db.select({ orgId: orgInvitation.orgId, email: orgInvitation.email }).from(orgInvitation).where(eq(orgInvitation.id, invitationId)).limit(1);
    if (!row || row.email !== user.email.toLowerCase()) return null;
    return this.client()
      .organization.get(keys.organization(row.orgId), { params: internalParams() })
      .answerInvitation(invitationId, { userId: user.id, name: user.name, email: user.email }, accept);
  }

  /**
   * The organizations a user belongs to, from the index through the in-process cache; never a
   * call per organization. The array is shared: callers must not change it.
   */
  async listForUser(userId: string): Promise<readonly OrgMembership[]> {
    return this.cache.resolve(
      userId,
      async () => {
      const rows = await this.db
        .select()
        .from(orgMembership)
        .where(eq(orgMembership.userId, userId))
        .orderBy(orgMembership.createdAt);
      return rows.map((r) => ({ id: r.orgId, kind: r.orgKind, name: r.orgName, role: r.role }));
      },
      (orgs) => [`user:${userId}`, ...orgs.map((o) => `org:${o.id}`)],
    );
  }

  /** Whether the user belongs to the org, when the cache knows the user's memberships; undefined when `isMember` must ask. */
  isMemberCached(orgId: string, userId: string): boolean | undefined {
    return this.cache.peek(userId)?.some((o) => o.id === orgId);
  }

  async isMember(orgId: string, userId: string): Promise<boolean> {
    return (await this.listForUser(userId)).some((o) => o.id === orgId);
  }

  /** Every organization with at least one member: the ones whose actors may have work to resume. */
  async allOrgIds(): Promise<string[]> {
    const rows = await this.db.selectDistinct({ orgId: orgMembership.orgId }).from(orgMembership);
    return rows.map((r) => r.orgId);
  }

  /** Adds a member through the actor, which then refreshes the index. */
  async upsertMember(orgId: string, member: Omit<OrgMember, "joinedAt">): Promise<OrgSummary> {
    return this.client().organization.get(keys.organization(orgId), { params: internalParams() }).upsertMember(member);
  }

  async removeMember(orgId: string, userId: string): Promise<OrgSummary> {
    return this.client().organization.get(keys.organization(orgId), { params: internalParams() }).removeMember(userId);
  }

  /** Mirrors one organization's members into the index: called by the actor on every change. */
  async syncIndex(snapshot: OrgIndexSnapshot): Promise<void> {
    const userIds = snapshot.members.map((m) => m.userId);
    // Before the write, so no lookup that started earlier is cached; after it, so none that read the old rows is.
    this.forgetOrg(snapshot.orgId, userIds);
    try {
      await this.write(snapshot, userIds);
    } finally {
      this.forgetOrg(snapshot.orgId, userIds);
    }
  }

  /** An org's members changed: everyone cached as in it, and its members now, are read again. */
  private forgetOrg(orgId: string, userIds: readonly string[]): void {
    this.cache.forget(`org:${orgId}`);
    for (const userId of userIds) this.forgetUser(userId);
  }

  /** A user changed or was deleted. */
  forgetUser(userId: string): void {
    this.cache.forget(`user:${userId}`);
  }

  private async write(snapshot: OrgIndexSnapshot, userIds: string[]): Promise<void> {
    await this.db.transaction(async (tx) => {
      const stale = userIds.length
        ? and(eq(orgMembership.orgId, snapshot.orgId), notInArray(orgMembership.userId, userIds))
        : eq(orgMembership.orgId, snapshot.orgId);
      await tx.delete(orgMembership).where(stale);
      for (const m of snapshot.members) {
        await tx
          .insert(orgMembership)
          .values({ orgId: snapshot.orgId, userId: m.userId, role: m.role, orgKind: snapshot.kind, orgName: snapshot.name })
          .onConflictDoUpdate({
            target: [orgMembership.orgId, orgMembership.userId],
            set: { role: m.role, orgKind: snapshot.kind, orgName: snapshot.name },
          });
      }
      await tx.delete(orgInvitation).where(eq(orgInvitation.orgId, snapshot.orgId));
      for (const inv of snapshot.invitations) {
        await tx.insert(orgInvitation).values({ ...inv, orgId: snapshot.orgId, orgName: snapshot.name, createdAt: new Date(inv.createdAt) });
      }
    });
  }
}
