import { actor, UserError } from "rivetkit";
import { keys } from "../../shared/keys.js";
import type { Device } from "../../shared/schemas/device.js";
import type { ClaimedRun } from "../../shared/schemas/watcher.js";
import { authorizeOrgChild, forbidden, internalParams, type Caller } from "../auth.js";
import { ActorLock } from "../lock.js";
import type { Registry } from "../registry.js";
import { actorLog, actorServices } from "../services.js";
import {
  applyPoll,
  boardEntry,
  deviceSnapshot,
  deviceView,
  filterCapabilities,
  initialDeviceState,
  NEXT_POLL_SECONDS,
  type DeviceInput,
  type DeviceState,
  type PollUpdate,
  type RunRef,
} from "./state.js";

export { NEXT_POLL_SECONDS };

export type PollResult = { kind: "idle"; next_poll_seconds: number } | { kind: "run"; run: ClaimedRun };

function requireInternal(caller: Caller): void {
  if (!caller.internal) throw forbidden("This action is internal to Kiln.");
}

function requireLive(s: DeviceState): void {
  if (s.deleted || !s.orgId) throw new UserError("No such device.", { code: "device_not_found" });
}

/**
 * Puts what a poll needs of this device on the gateway's device board (or takes it off), from the
 * state as it is now: called synchronously after every change that matters to a poll, so no
 * await lies between the change and the board.
 */
function publishBoard(s: DeviceState): void {
  if (s.deviceId) actorServices().devices.publishBoard(s.deviceId, boardEntry(s));
}

/**
 * DeviceActor, key ["org", orgId, "device", deviceId]: one Mac app (or iOS, or browser extension)
 * install. It holds its registration and the runs offered to it, and publishes what an idle poll
 * needs to the gateway's device board, which answers such polls without calling it: a device that
 * only polls lets its actor sleep. Polls and removal run under the actor's lock; offers and
 * withdrawals (from WatcherActors, which may hold their own lock) never wait for it.
 */
export const device = actor({
  createState: (_c, input: DeviceInput | undefined): DeviceState => initialDeviceState(input),
  createConnState: (c, params: unknown): Promise<Caller> => authorizeOrgChild(c.state.orgId, params, c),
  createVars: (): { lock: ActorLock } => ({ lock: new ActorLock() }),
  actions: {
    view: (c): Device => deviceView(deviceSnapshot(c.state), actorServices().devices.lastSeen(c.state.deviceId), c.state.createdAt),

    /** Kiln-internal: the device was minted; its index row is written now, before it ever polls. */
    init: async (c): Promise<void> => {
      requireInternal(c.conn.state);
      requireLive(c.state);
      // RivetKit wrote the state when it created the actor: nothing to save here.
      await actorServices().devices.sync(deviceSnapshot(c.state));
    },

    /**
     * Kiln-internal (the worker API, after checking the token's binding and platform, for a poll the
     * device board could not answer): registers on the first poll, records changes, then hands over
     * the oldest offered run, or says when to poll again. The gateway keeps `last_seen_at`.
     */
    poll: (c, update: PollUpdate): Promise<PollResult> =>
      c.vars.lock.run(async () => {
        requireInternal(c.conn.state);
        const s = c.state;
        requireLive(s);
        // Off the board while this poll changes things: a poll meanwhile comes here and waits for the lock.
        actorServices().devices.publishBoard(s.deviceId, null);
        const now = Date.now();
        const filtered = update.capabilities ? filterCapabilities(s.platform, update.capabilities) : undefined;
        if (filtered?.dropped.length) actorLog().info({ deviceId: s.deviceId, platform: s.platform, dropped: filtered.dropped }, "dropped capabilities the platform may not have");
        const first = s.registeredAt === null;
        if (first) s.registeredAt = new Date(now).toISOString();
        const changed = applyPoll(s, update, filtered?.kept) || first;
        // Heard before the save, so a registration costs one save, not two. Announcing again after
        // a crash in between is harmless: the organization's provisioning is idempotent per device.
        const heard = !s.announced && (await announce(c));
        if (changed || heard) await c.saveState({ immediate: true });
        if (changed) await actorServices().devices.sync(deviceSnapshot(s));
        const result = await claimNext(c);
        publishBoard(s);
        return result;
      }),

    /** Kiln-internal (a WatcherActor): a run is waiting for this device. Idempotent. */
    offer: async (c, ref: RunRef): Promise<void> => {
      requireInternal(c.conn.state);
      requireLive(c.state);
      if (c.state.offers.some((o) => o.runId === ref.runId) || c.state.claimed.some((o) => o.runId === ref.runId)) return;
      c.state.offers.push({ runId: String(ref.runId), watcherId: String(ref.watcherId) });
      // Before this returns: the device's next poll skips the board and claims the run.
      publishBoard(c.state);
      await c.saveState({ immediate: true });
    },

    /** Kiln-internal (a WatcherActor): a run finished, timed out or was cancelled. */
    withdraw: async (c, runId: string): Promise<void> => {
      requireInternal(c.conn.state);
      const before = c.state.offers.length + c.state.claimed.length;
      c.state.offers = c.state.offers.filter((o) => o.runId !== runId);
      c.state.claimed = c.state.claimed.filter((o) => o.runId !== runId);
      if (c.state.offers.length + c.state.claimed.length === before) return;
      publishBoard(c.state);
      await c.saveState({ immediate: true });
    },

    /** Kiln-internal (`PATCH /v1/devices/:id`). */
    relabel: async (c, label: string): Promise<Device> => {
      requireInternal(c.conn.state);
      requireLive(c.state);
      c.state.label = label;
      publishBoard(c.state);
      await c.saveState({ immediate: true });
      await actorServices().devices.sync(deviceSnapshot(c.state));
      return deviceView(deviceSnapshot(c.state), actorServices().devices.lastSeen(c.state.deviceId), c.state.createdAt);
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
        publishBoard(s);
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

/**
 * Tells the organization of the first registration (its default watcher); true once it has heard
 * (`announced` set, saved by the caller). Retried on later polls until it has.
 */
async function announce(c: DeviceCtx): Promise<boolean> {
  const s = c.state;
  const client = c.client<Registry>() as import("rivetkit").Client<Registry>;
  try {
    await client.organization
      .get(keys.organization(s.orgId ?? ""), { params: internalParams() })
      .deviceRegistered({ deviceId: s.deviceId, userId: s.userId, timezone: s.timezone });
    s.announced = true;
    return true;
  } catch (err) {
    actorLog().warn({ err, deviceId: s.deviceId }, "could not announce a device to its organization; retrying on its next poll");
    return false;
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
