/**
 * The next revision of a piece of actor state, carried by every event that carries that state:
 * above the last one, so a client drops an older event that arrives late. It follows the clock
 * (milliseconds), so it keeps growing after a restart lost the last save of the state it counts.
 */
export function nextRevision(previous: number | undefined): number {
  return Math.max((previous ?? 0) + 1, Date.now());
}
