interface Entry<V> {
  value: V;
  group: string;
  until: number;
}

/**
 * Views the gateway serves on polling paths (a worker, a task as one user sees it), kept in memory
 * so a hit costs no query and no actor call. The actor that owns a view drops its group on every
 * change, in this process: the next read asks it again. A read that raced with a change is not
 * kept (the generation check). The TTL bounds only what an actor running in another process
 * (sharing the database, on the Rivet Engine) changes unseen.
 */
export class ViewCache<V> {
  private readonly entries = new Map<string, Entry<V>>();
  private readonly groups = new Map<string, Set<string>>();
  private generation = 0;

  constructor(private readonly opts: { ttlMs: number; maxEntries: number }) {}

  /** The cached value of `key` (in `group`, what one change drops), or `lookup`'s, kept when nothing changed meanwhile. */
  async resolve(group: string, key: string, lookup: () => Promise<V>): Promise<V> {
    const now = Date.now();
    const hit = this.entries.get(key);
    if (hit && hit.until > now) return hit.value;
    if (hit) this.drop(key);
    const generation = this.generation;
    const value = await lookup();
    if (generation === this.generation) this.store(group, key, value, now);
    return value;
  }

  /** The owner's new value, written through (after its write, so a read that follows sees it). */
  set(group: string, key: string, value: V): void {
    this.forget(group);
    this.store(group, key, value, Date.now());
  }

  /** Everything in `group` changed: read again. */
  forget(group: string): void {
    this.generation++;
    for (const key of this.groups.get(group) ?? []) this.drop(key);
  }

  private store(group: string, key: string, value: V, now: number): void {
    this.drop(key);
    while (this.entries.size >= this.opts.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.drop(oldest);
    }
    this.entries.set(key, { value, group, until: now + this.opts.ttlMs });
    const keys = this.groups.get(group) ?? new Set<string>();
    keys.add(key);
    this.groups.set(group, keys);
  }

  private drop(key: string): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    const keys = this.groups.get(entry.group);
    keys?.delete(key);
    if (keys?.size === 0) this.groups.delete(entry.group);
  }
}
