import { actor, UserError } from "rivetkit";
import { keys } from "../../shared/keys.js";
import type { Device } from "../../shared/schemas/device.js";
import type { ClaimedRun } from "../../shared/schemas/watcher.js";
import { authorizeOrgChild, forbidden, internalParams, type Caller } from "../auth.js";
import { ActorLock } from "../lock.js";
import type { Registry } from "../registry.js";
import { actorLog, actorServices } from "../services.js";
import { applyPoll, deviceSnapshot, deviceView, filterCapabilities, initialDeviceState, type DeviceInput, type DeviceState, type PollUpdate, type RunRef } from "./state.js";

/** `last_seen_at` reaches the app database at most this often: an idle poll writes nothing. */
const LAST_SEEN_WRITE_MS = 60_000;
/** What an idle poll tells the device. */
export const NEXT_POLL_SECONDS = 10;

export type PollResult = { kind: "idle"; next_poll_seconds: number } | { kind: "run"; run: ClaimedRun };

function requireInternal(caller: Caller): void {
  if (!caller.internal) throw forbidden("This action is internal to Kiln.");
}

function requireLive(s: DeviceState): void {
  if (s.deleted || !s.orgId) throw new UserError("No such device.", { code: "device_not_found" });
}

/**
 * DeviceActor, key ["org", orgId, "device", deviceId]: one Mac app (or iOS, or browser extension)
 * install. It holds its registration and the runs offered to it in memory, so an idle poll reads
 * state and writes nothing. Polls and removal run under the actor's lock; offers and withdrawals
 * (from WatcherActors, which may hold their own lock) never wait for it.
 */
export const device = actor({
  createState: (_c, input: DeviceInput | undefined): DeviceState => initialDeviceState(input),
  createConnState: (c, params: unknown): Promise<Caller> => authorizeOrgChild(c.state.orgId, params, c),
  createVars: (): { lock: ActorLock; lastSeenAt: string | null } => ({ lock: new ActorLock(), lastSeenAt: null }),
  actions: {
    view: (c): Device => deviceView(deviceSnapshot(c.state), c.vars.lastSeenAt, c.state.createdAt),

    /** Kiln-internal: the device was minted; its index row is written now, before it ever polls. */
    init: async (c): Promise<void> => {
      requireInternal(c.conn.state);
      requireLive(c.state);
      await c.saveState({ immediate: true });
      await actorServices().devices.sync(deviceSnapshot(c.state));
    },

    /**
     * Kiln-internal (the worker API, after checking the token's binding and platform): registers on
     * the first poll, records changes, then hands over the oldest offered run, or says when to poll again.
     */
    poll: (c, update: PollUpdate): Promise<PollResult> =>
      c.vars.lock.run(async () => {
        requireInternal(c.conn.state);
        const s = c.state;
        requireLive(s);
        const now = Date.now();
        const filtered = update.capabilities ? filterCapabilities(s.platform, update.capabilities) : undefined;
        if (filtered?.dropped.length) actorLog().info({ deviceId: s.deviceId, platform: s.platform, dropped: filtered.dropped }, "dropped capabilities the platform may not have");
        const first = s.registeredAt === null;
        if (first) s.registeredAt = new Date(now).toISOString();
        const changed = applyPoll(s, update, filtered?.kept) || first;
        c.vars.lastSeenAt = new Date(now).toISOString();
        if (changed) {
          await c.saveState({ immediate: true });
          await actorServices().devices.sync(deviceSnapshot(s));
        }
        // Kept in state (flushed with the next save, never forced), so a woken actor does not write again at once.
        if (now - (s.lastSeenWrittenAt ?? 0) >= LAST_SEEN_WRITE_MS) {
          s.lastSeenWrittenAt = now;
          await actorServices().devices.seen(s.deviceId, new Date(now));
        }
        if (!s.announced) await announce(c);
        return claimNext(c);
      }),

    /** Kiln-internal (a WatcherActor): a run is waiting for this device. Idempotent. */
    offer: async (c, ref: RunRef): Promise<void> => {
      requireInternal(c.conn.state);
      requireLive(c.state);
      if (c.state.offers.some((o) => o.runId === ref.runId) || c.state.claimed.some((o) => o.runId === ref.runId)) return;
      c.state.offers.push({ runId: String(ref.runId), watcherId: String(ref.watcherId) });
      await c.saveState({ immediate: true });
    },

    /** Kiln-internal (a WatcherActor): a run finished, timed out or was cancelled. */
    withdraw: async (c, runId: string): Promise<void> => {
      requireInternal(c.conn.state);
      const before = c.state.offers.length + c.state.claimed.length;
      c.state.offers = c.state.offers.filter((o) => o.runId !== runId);
      c.state.claimed = c.state.claimed.filter((o) => o.runId !== runId);
      if (c.state.offers.length + c.state.claimed.length !== before) await c.saveState({ immediate: true });
    },

    /** Kiln-internal (`PATCH /v1/devices/:id`). */
    relabel: async (c, label: string): Promise<Device> => {
      requireInternal(c.conn.state);
      requireLive(c.state);
      c.state.label = label;
      await c.saveState({ immediate: true });
      await actorServices().devices.sync(deviceSnapshot(c.state));
      return deviceView(deviceSnapshot(c.state), c.vars.lastSeenAt, c.state.createdAt);
    },

    /**
     * Kiln-internal (`DELETE /v1/devices/:id`): cancels the device's runs, unpins its watchers
     * (they stay) and drops its index row. The gateway revokes its tokens.
     */
    remove: (c): Promise<void> =>
      c.vars.lock.run(async () => {
        requireInternal(c.conn.state);
        const s = c.state;
        if (!s.orgId) return;
        s.deleted = true;
        await c.saveState({ immediate: true });
        const client = c.client<Registry>();
        const orgId = s.orgId;
        const refs = [...s.offers, ...s.claimed];
        for (const ref of refs) {
          await client.watcher
            .get(keys.watcher(orgId, ref.watcherId), { params: internalParams() })
            .unpin(s.deviceId)
            .catch((err: unknown) => actorLog().warn({ err, runId: ref.runId }, "could not cancel a deleted device's run"));
        }
        s.offers = [];
        s.claimed = [];
        await client.organization.get(keys.organization(orgId), { params: internalParams() }).deviceRemoved(s.deviceId);
        await c.saveState({ immediate: true });
        await actorServices().devices.sync({ ...deviceSnapshot(s), deleted: true });
      }),
  },
});

interface DeviceCtx {
  state: DeviceState;
  saveState(opts: { immediate: boolean }): Promise<void>;
  client<R>(): unknown;
}

/** Tells the organization of the first registration (its default watcher). Retried on later polls until it has been heard. */
async function announce(c: DeviceCtx): Promise<void> {
  const s = c.state;
  const client = c.client<Registry>() as import("rivetkit").Client<Registry>;
  try {
    await client.organization
      .get(keys.organization(s.orgId ?? ""), { params: internalParams() })
      .deviceRegistered({ deviceId: s.deviceId, userId: s.userId, timezone: s.timezone });
    s.announced = true;
    await c.saveState({ immediate: true });
  } catch (err) {
    actorLog().warn({ err, deviceId: s.deviceId }, "could not announce a device to its organization; retrying on its next poll");
  }
}

/** Hands over the oldest offered run that its watcher still lets this device claim; stale offers are dropped. */
async function claimNext(c: DeviceCtx): Promise<PollResult> {
  const s = c.state;
  if (s.offers.length === 0) return { kind: "idle", next_poll_seconds: NEXT_POLL_SECONDS };
  const client = c.client<Registry>() as import("rivetkit").Client<Registry>;
  while (s.offers.length > 0) {
    const ref = s.offers[0]!;
    let run: ClaimedRun | null;
    try {
      run = await client.watcher.get(keys.watcher(s.orgId ?? "", ref.watcherId), { params: internalParams() }).claim(ref.runId, s.deviceId);
    } catch (err) {
      // Watchers are archived, never destroyed, so this passes: the offer stays for the next poll.
      actorLog().warn({ err, runId: ref.runId }, "could not claim an offered run; keeping the offer");
      return { kind: "idle", next_poll_seconds: NEXT_POLL_SECONDS };
    }
    s.offers.shift();
    if (run) s.claimed.push(ref);
    await c.saveState({ immediate: true });
    if (run) return { kind: "run", run };
  }
  return { kind: "idle", next_poll_seconds: NEXT_POLL_SECONDS };
}
