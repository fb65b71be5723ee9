import type { OrgMembership } from "../shared/schemas/org.js";

interface Entry {
  orgs: readonly OrgMembership[];
  until: number;
}

/**
 * Each user's organizations, read through from the `org_membership` index, so `/v1/me` and every
 * org-scoped authorization answer from memory.
 *
 * The one writer of that index is the OrganizationActor's push (`syncOrgIndex`), and every push
 * through this process drops the entries of the org's members, before and after the write: a
 * member removed here is refused on the next request. A lookup that raced with a push is not
 * cached (the generation check). The TTL bounds only what a push through another process, sharing
 * the database, leaves stale here: the same bound as the session cache's.
 */
export class MembershipCache {
  private readonly entries = new Map<string, Entry>();
  /** The users with a cached entry naming each org, for dropping an org's members. */
  private readonly byOrg = new Map<string, Set<string>>();
  private generation = 0;

  constructor(private readonly opts: { ttlMs: number; maxEntries: number }) {}

  async resolve(userId: string, lookup: () => Promise<readonly OrgMembership[]>): Promise<readonly OrgMembership[]> {
    const now = Date.now();
    const hit = this.entries.get(userId);
    if (hit && hit.until > now) return hit.orgs;
    if (hit) this.drop(userId);
    const generation = this.generation;
    const orgs = await lookup();
    if (generation === this.generation) this.store(userId, orgs, now);
    return orgs;
  }

  /** An org's members changed: `userIds` (its members now) and everyone cached as in it are read again. */
  forgetOrg(orgId: string, userIds: readonly string[]): void {
    this.generation++;
    for (const userId of [...(this.byOrg.get(orgId) ?? []), ...userIds]) this.drop(userId);
  }

  /** A user changed or was deleted. */
  forgetUser(userId: string): void {
    this.generation++;
    this.drop(userId);
  }

  private store(userId: string, orgs: readonly OrgMembership[], now: number): void {
    this.drop(userId);
    while (this.entries.size >= this.opts.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.drop(oldest);
    }
    this.entries.set(userId, { orgs, until: now + this.opts.ttlMs });
    for (const org of orgs) {
      const users = this.byOrg.get(org.id) ?? new Set<string>();
      users.add(userId);
      this.byOrg.set(org.id, users);
    }
  }

  private drop(userId: string): void {
    const entry = this.entries.get(userId);
    if (!entry) return;
    this.entries.delete(userId);
    for (const org of entry.orgs) {
      const users = this.byOrg.get(org.id);
      users?.delete(userId);
      if (users?.size === 0) this.byOrg.delete(org.id);
    }
  }
}
