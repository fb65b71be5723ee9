import { pollChangesNothing, type DeviceBoardEntry, type PollUpdate } from "../actors/device/state.js";

/**
 * The gateway's device board: for each device polling this process, what its DeviceActor last
 * published of itself (registration fingerprint, whether a run is offered). A poll that would
 * change nothing and has nothing to hand over is answered from here with no actor call, so an idle
 * device's actor sleeps. The DeviceActor owns every entry: it replaces it on each change that
 * matters to a poll (a poll it handled, an offer, a withdrawal, a relabel) before the action
 * returns, and drops it while it handles a poll and on deletion. The board starts empty, so the
 * first poll of each device after a start reaches its actor (offers saved before a restart are
 * delivered). It is only correct when the actors run in this process: with the Rivet Engine an
 * actor may run elsewhere, and the board is off.
 */
export class DeviceBoard {
  private readonly entries = new Map<string, DeviceBoardEntry>();

  constructor(readonly enabled: boolean) {}

  set(deviceId: string, entry: DeviceBoardEntry | null): void {
    if (entry && this.enabled) this.entries.set(deviceId, entry);
    else this.entries.delete(deviceId);
  }

  /** True when the device may be answered idle from memory: it is on the board, nothing is offered, and the poll changes nothing. */
  idle(deviceId: string, update: PollUpdate): boolean {
    const entry = this.entries.get(deviceId);
    return entry !== undefined && !entry.offered && pollChangesNothing(entry, update);
  }

  /** Whether the device is on the board (it has registered). */
  has(deviceId: string): boolean {
    return this.entries.has(deviceId);
  }

  get size(): number {
    return this.entries.size;
  }
}
