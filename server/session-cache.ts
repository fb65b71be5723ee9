/** What a request needs of a verified session. */
export interface ResolvedSession {
  user: { id: string; email: string; name: string };
  session: { id: string; token: string; userId: string; expiresAt: Date };
}

interface Entry {
  value: ResolvedSession;
  until: number;
}

export interface SessionCacheOptions {
  /** How long a verified credential is trusted without asking the database again. */
  ttlMs: number;
  /** Beyond this many tokens the oldest are dropped; a dropped token is simply looked up again. */
  maxEntries: number;
}

/**
 * A read-through cache of verified credentials (bearer tokens, session cookies), so that
 * polling clients (the Mac app, workers' status) do not pay a session lookup per request.
 *
 * Revocation stays immediate within this Kiln: better-auth's session and user hooks call
 * `forgetToken`/`forgetUser` on every delete or update, and a lookup that raced with one of
 * them is not cached (the generation check). The TTL only bounds what another process writing
 * to the same database directly could change unseen.
 */
export class SessionCache {
  private readonly entries = new Map<string, Entry>();
  /** The session token behind each credential, and the credentials of each user, for invalidation. */
  private readonly byToken = new Map<string, Set<string>>();
  private readonly byUser = new Map<string, Set<string>>();
  private generation = 0;

  constructor(private readonly opts: SessionCacheOptions) {}

  get size(): number {
    return this.entries.size;
  }

  /** The cached session for `credential`, or the result of `lookup`, cached when nothing changed meanwhile. */
  async resolve(credential: string, lookup: () => Promise<ResolvedSession | null>): Promise<ResolvedSession | null> {
    const hit = this.entries.get(credential);
    const now = Date.now();
    if (hit && hit.until > now) return hit.value;
    if (hit) this.drop(credential);
    const generation = this.generation;
    const value = await lookup();
    if (value && generation === this.generation) this.store(credential, value, now);
    return value;
  }

  /** A session changed or ended: its credentials must be verified again. */
  forgetToken(token: string): void {
    this.generation++;
    for (const credential of this.byToken.get(token) ?? []) this.drop(credential);
  }

  /** A user changed or was deleted: every session of theirs must be verified again. */
  forgetUser(userId: string): void {
    this.generation++;
    for (const credential of this.byUser.get(userId) ?? []) this.drop(credential);
  }

  private store(credential: string, value: ResolvedSession, now: number): void {
    const until = Math.min(now + this.opts.ttlMs, value.session.expiresAt.getTime());
    if (until <= now) return;
    this.drop(credential);
    // Map iteration is insertion order, so the first key is the oldest.
    while (this.entries.size >= this.opts.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.drop(oldest);
    }
    this.entries.set(credential, { value, until });
    link(this.byToken, value.session.token, credential);
    link(this.byUser, value.user.id, credential);
  }

  private drop(credential: string): void {
    const entry = this.entries.get(credential);
    if (!entry) return;
    this.entries.delete(credential);
    unlink(this.byToken, entry.value.session.token, credential);
    unlink(this.byUser, entry.value.user.id, credential);
  }
}

function link(index: Map<string, Set<string>>, key: string, credential: string): void {
  const set = index.get(key) ?? new Set<string>();
  set.add(credential);
  index.set(key, set);
}

function unlink(index: Map<string, Set<string>>, key: string, credential: string): void {
  const set = index.get(key);
  if (!set) return;
  set.delete(credential);
  if (set.size === 0) index.delete(key);
}
