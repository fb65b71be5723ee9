interface Entry<V> {
  value: V;
  groups: readonly string[];
  until: number;
}

/**
 * Read-through views the gateway serves on hot paths (a user's memberships, a worker's row, a
 * task as one user sees it), so a hit costs no query and no actor call. Each entry belongs to
 * groups, and the owner of a fact drops its group on every change, in this process: the next read
 * asks the source again. A read that raced with a change is not kept (the generation check). The
 * TTL bounds only what is changed unseen from another process sharing the database (on the Rivet
 * Engine, an actor running elsewhere).
 */
export class ViewCache<V> {
  private readonly entries = new Map<string, Entry<V>>();
  private readonly groups = new Map<string, Set<string>>();
  private generation = 0;

  constructor(private readonly opts: { ttlMs: number; maxEntries: number }) {}

  /** The cached value of `key`, or `lookup`'s, kept (in `groupsOf` it) when nothing changed meanwhile. */
  async resolve(key: string, lookup: () => Promise<V>, groupsOf: (value: V) => readonly string[]): Promise<V> {
    const now = Date.now();
    const hit = this.entries.get(key);
    if (hit && hit.until > now) return hit.value;
    if (hit) this.drop(key);
    const generation = this.generation;
    const value = await lookup();
    if (generation === this.generation) this.store(key, value, groupsOf(value), now);
    return value;
  }

  /** The cached value of `key` when there is a live one, without a lookup (and without a promise, for the hottest paths). */
  peek(key: string): V | undefined {
    const hit = this.entries.get(key);
    return hit && hit.until > Date.now() ? hit.value : undefined;
  }

  /** The owner's new value, written through (after its write, so a read that follows sees it). */
  set(key: string, value: V, groups: readonly string[]): void {
    for (const group of groups) this.forget(group);
    this.store(key, value, groups, Date.now());
  }

  /** Everything in `group` changed: read again. */
  forget(group: string): void {
    this.generation++;
    for (const key of this.groups.get(group) ?? []) this.drop(key);
  }

  private store(key: string, value: V, groups: readonly string[], now: number): void {
    this.drop(key);
    while (this.entries.size >= this.opts.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.drop(oldest);
    }
    this.entries.set(key, { value, groups, until: now + this.opts.ttlMs });
    for (const group of groups) {
      const keys = this.groups.get(group) ?? new Set<string>();
      keys.add(key);
      this.groups.set(group, keys);
    }
  }

  private drop(key: string): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    for (const group of entry.groups) {
      const keys = this.groups.get(group);
      keys?.delete(key);
      if (keys?.size === 0) this.groups.delete(group);
    }
  }
}
