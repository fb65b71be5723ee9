/**
 * An actor is not a lock: RivetKit starts a second action while the first awaits. Each actor that
 * reads its state, awaits, then writes keeps one `ActorLock` in its `c.vars`, and runs those
 * sections through it, one at a time, in arrival order (see ACTORS.md, "Concurrency").
 *
 * Not re-entrant: a locked section must never wait on another section of the same actor's lock
 * (directly, or through a call that comes back to this actor), or it waits forever.
 */
export class ActorLock {
  private tail: Promise<void> = Promise.resolve();

  /** Runs `section` once every section queued before it has settled; resolves or rejects with it. */
  run<T>(section: () => Promise<T>): Promise<T> {
    const result = this.tail.then(section);
    this.tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }
}

/** `createVars` for actors whose only runtime state is their lock. */
export function lockVars(): { lock: ActorLock } {
  return { lock: new ActorLock() };
}
