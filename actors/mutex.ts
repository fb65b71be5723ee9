/**
 * One lock per actor instance, kept in `c.vars`: RivetKit starts a second action while the first
 * awaits, so an action that reads state, awaits, then writes runs inside `run` and sees the
 * previous one's writes. Rule: an action holding its actor's lock may call another actor's
 * action only if that action never waits for a lock held by a caller up the chain (ACTORS.md).
 */
export class Mutex {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.tail.then(fn);
    this.tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }
}
