import { capabilityAllowed, type Device, type DevicePlatform } from "../../shared/schemas/device.js";

/** Given by the gateway when it mints a device token; clients never create DeviceActors. */
export interface DeviceInput {
  orgId: string;
  deviceId: string;
  userId: string;
  platform: DevicePlatform;
  label: string | null;
}

export interface RunRef {
  runId: string;
  watcherId: string;
}

export interface DeviceState extends Omit<DeviceInput, "orgId"> {
  /** Null when reached without Kiln's creation input: such an actor refuses everyone. */
  orgId: string | null;
  appVersion: string | null;
  capabilities: Record<string, boolean>;
  timezone: string | null;
  /** The first poll; null until the device has polled. */
  registeredAt: string | null;
  /** Whether the organization has heard of the registration (its default watcher); retried on later polls until it has. */
  announced: boolean;
  deleted: boolean;
  /** No longer used: `last_seen_at` is the gateway's (it sees the polls). Still in state saved before. */
  lastSeenWrittenAt?: number;
  /** Runs offered to this device and not yet claimed, oldest first. */
  offers: RunRef[];
  /** Runs this device claimed and has not finished. */
  claimed: RunRef[];
  createdAt: string;
}

/** What an idle poll tells the device: poll again in this many seconds. */
export const NEXT_POLL_SECONDS = 10;

/**
 * What the gateway's device board keeps of a device, so a poll that would change nothing and has
 * nothing to hand over is answered from memory (`server/device-board.ts`). Derived from the
 * DeviceActor's state alone, and replaced by the actor on every change that matters to a poll.
 */
export interface DeviceBoardEntry {
  platform: DevicePlatform;
  appVersion: string | null;
  capabilities: Record<string, boolean>;
  label: string | null;
  timezone: string | null;
  /** A run is offered and not yet claimed: the next poll must go to the actor. */
  offered: boolean;
}

/** The board entry of a device, or null while every poll must reach the actor (not registered or announced yet, deleted). */
export function boardEntry(s: DeviceState): DeviceBoardEntry | null {
  if (!s.orgId || s.deleted || s.registeredAt === null || !s.announced) return null;
  // A copy: `s.capabilities` is RivetKit's change-tracking proxy of the state, and the board
  // outlives the actor. Holding the proxy kept every slept DeviceActor's whole instance alive
  // (about 20 KB of heap and 150 KB of RSS a device).
  return { platform: s.platform, appVersion: s.appVersion, capabilities: { ...s.capabilities }, label: s.label, timezone: s.timezone, offered: s.offers.length > 0 };
}

/** Whether a poll reporting `update` would leave the device as `entry` has it. */
export function pollChangesNothing(entry: DeviceBoardEntry, update: PollUpdate): boolean {
  if (update.appVersion !== undefined && update.appVersion !== entry.appVersion) return false;
  if (update.label !== undefined && update.label !== entry.label) return false;
  if (update.timezone !== undefined && update.timezone !== entry.timezone) return false;
  return update.capabilities === undefined || sameCapabilities(filterCapabilities(entry.platform, update.capabilities).kept, entry.capabilities);
}

/** What the gateway's device index keeps of a device. */
export interface DeviceSnapshot {
  deviceId: string;
  orgId: string;
  userId: string;
  platform: DevicePlatform;
  label: string | null;
  appVersion: string | null;
  capabilities: Record<string, boolean>;
  registeredAt: string | null;
}

export function initialDeviceState(input: DeviceInput | undefined): DeviceState {
  return {
    orgId: input?.orgId ?? null,
    deviceId: input?.deviceId ?? "",
    userId: input?.userId ?? "",
    platform: input?.platform ?? "macos",
    label: input?.label ?? null,
    appVersion: null,
    capabilities: {},
    timezone: null,
    registeredAt: null,
    announced: false,
    deleted: false,
    offers: [],
    claimed: [],
    createdAt: new Date().toISOString(),
  };
}

export function deviceSnapshot(s: DeviceState): DeviceSnapshot {
  return {
    deviceId: s.deviceId,
    orgId: s.orgId ?? "",
    userId: s.userId,
    platform: s.platform,
    label: s.label,
    appVersion: s.appVersion,
    // A plain copy of the state's proxy, for the same reason as in `boardEntry`.
    capabilities: { ...s.capabilities },
    registeredAt: s.registeredAt,
  };
}

export const ONLINE_WINDOW_MS = 20 * 60_000;

export function deviceView(snapshot: DeviceSnapshot, lastSeenAt: string | null, createdAt: string): Device {
  return {
    id: snapshot.deviceId,
    orgId: snapshot.orgId,
    platform: snapshot.platform,
    label: snapshot.label,
    appVersion: snapshot.appVersion,
    capabilities: snapshot.capabilities,
    registeredAt: snapshot.registeredAt,
    lastSeenAt,
    online: lastSeenAt !== null && Date.now() - Date.parse(lastSeenAt) < ONLINE_WINDOW_MS,
    createdAt,
  };
}

/** Keeps the capabilities the platform may have; returns the kept ones and the names dropped. */
export function filterCapabilities(platform: DevicePlatform, announced: Record<string, boolean>): { kept: Record<string, boolean>; dropped: string[] } {
  const kept: Record<string, boolean> = {};
  const dropped: string[] = [];
  for (const [name, on] of Object.entries(announced)) {
    if (capabilityAllowed(platform, name)) kept[name] = on;
    else dropped.push(name);
  }
  return { kept, dropped };
}

function sameCapabilities(a: Record<string, boolean>, b: Record<string, boolean>): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}

export interface PollUpdate {
  appVersion?: string;
  capabilities?: Record<string, boolean>;
  label?: string;
  timezone?: string;
}

/** Applies what a poll reports; true when anything the index keeps changed. */
export function applyPoll(s: DeviceState, update: PollUpdate, kept: Record<string, boolean> | undefined): boolean {
  let changed = false;
  if (update.appVersion !== undefined && update.appVersion !== s.appVersion) {
    s.appVersion = update.appVersion;
    changed = true;
  }
  if (kept && !sameCapabilities(kept, s.capabilities)) {
    s.capabilities = kept;
    changed = true;
  }
  if (update.label !== undefined && update.label !== s.label) {
    s.label = update.label;
    changed = true;
  }
  if (update.timezone !== undefined && update.timezone !== s.timezone) s.timezone = update.timezone;
  return changed;
}
