import { randomBytes } from "node:crypto";
import { and, desc, eq, inArray } from "drizzle-orm";
import type { Logger } from "pino";
import { internalParams } from "../actors/auth.js";
import type { DeviceBoardEntry, DeviceSnapshot } from "../actors/device/state.js";
import { deviceView } from "../actors/device/state.js";
import type { DeviceIndexWriter } from "../actors/services.js";
import { ForbiddenError, KilnError } from "../shared/errors.js";
import { keys, personalOrgId } from "../shared/keys.js";
import type { Device, DevicePlatform } from "../shared/schemas/device.js";
import type { AppDb } from "./db/index.js";
import { deviceIndex, watcherIndex } from "./db/device-schema.js";
import { DeviceBoard } from "./device-board.js";
import type { Organizations } from "./organizations.js";
import type { KilnClient } from "./rivet.js";
import type { PersonalTokens } from "./tokens.js";

const DEVICE_ID = /^dev_[0-9a-f]{16}$/;
const WATCHER_ID = /^wat_[0-9a-f]{16}$/;

type IndexRow = typeof deviceIndex.$inferSelect;

/** `last_seen_at` reaches the app database at most this often per device: an idle poll writes nothing. */
export const LAST_SEEN_WRITE_MS = 60_000;
/** Due `last_seen_at` writes are gathered for this long, then written in one statement. */
const LAST_SEEN_FLUSH_MS = 1_000;
/** Devices per `last_seen_at` statement. */
const LAST_SEEN_BATCH = 1_000;

interface Seen {
  /** The device's latest poll in this process (ms). */
  at: number;
  /** When this process last wrote its `last_seen_at` (ms). */
  writtenAt: number;
}

/** A device as its index row has it; `seen` (this process's latest poll) is fresher than the row's once-a-minute `last_seen_at`. */
function view(row: IndexRow, seen: string | null): Device {
  const snapshot: DeviceSnapshot = { deviceId: row.deviceId, orgId: row.orgId, userId: row.userId, platform: row.platform as DevicePlatform, ...row.view };
  return deviceView(snapshot, seen ?? row.lastSeenAt?.toISOString() ?? null, row.createdAt.toISOString());
}

/**
 * The gateway's side of devices: minting device tokens, the device index behind `/v1/devices`,
 * and the watcher index the worker API authorizes triggers with. DeviceActors decide; this module
 * addresses them and keeps the indexes they push.
 */
export class Devices implements DeviceIndexWriter {
  /** Idle polls are answered from here (`server/device-board.ts`). */
  readonly board: DeviceBoard;
  private readonly seenAt = new Map<string, Seen>();
  private readonly seenDue = new Set<string>();
  private flushTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly db: AppDb,
    private readonly orgs: Organizations,
    private readonly tokens: PersonalTokens,
    private readonly client: () => KilnClient,
    private readonly opts: { board: boolean; logger?: Logger } = { board: true },
  ) {
    this.board = new DeviceBoard(opts.board);
  }

  deviceHandle(orgId: string, deviceId: string) {
    return this.client().device.get(keys.device(orgId, deviceId), { params: internalParams() });
  }

  /** Pre-registers a device with its platform locked and returns a token bound to it (shown once). */
  async mint(userId: string, input: { platform: DevicePlatform; label?: string; orgId?: string }): Promise<{ worker_id: string; access_token: string; platform: DevicePlatform }> {
    const orgId = input.orgId ?? personalOrgId(userId);
    if (!(await this.orgs.isMember(orgId, userId))) throw new ForbiddenError("You are not a member of this organization.");
    const deviceId = `dev_${randomBytes(8).toString("hex")}`;
    await this.client()
      .device.getOrCreate(keys.device(orgId, deviceId), {
        params: internalParams(),
        createWithInput: { orgId, deviceId, userId, platform: input.platform, label: input.label ?? null },
      })
      .init();
    const token = await this.tokens.create(userId, { name: `${input.platform} device ${deviceId}`, scopes: ["device_worker:run"], orgId, deviceId, platform: input.platform });
    return { worker_id: deviceId, access_token: token.token, platform: input.platform };
  }

  async list(userId: string): Promise<Device[]> {
    const rows = await this.db.select().from(deviceIndex).where(eq(deviceIndex.userId, userId)).orderBy(desc(deviceIndex.createdAt)).limit(1000);
    return rows.map((row) => view(row, this.lastSeen(row.deviceId)));
  }

  /** One of the user's devices; another user's and unknown ids answer the same 404. */
  async find(userId: string, deviceId: string): Promise<IndexRow> {
    if (!DEVICE_ID.test(deviceId)) throw new KilnError("device_not_found", "No such device.");
    const [row] = await this.db.select().from(deviceIndex).where(and(eq(deviceIndex.deviceId, deviceId), eq(deviceIndex.userId, userId))).limit(1);
    if (!row) throw new KilnError("device_not_found", "No such device.");
    return row;
  }

  async relabel(userId: string, deviceId: string, label: string): Promise<Device> {
    const row = await this.find(userId, deviceId);
    await this.deviceHandle(row.orgId, deviceId).relabel(label);
    return view(await this.find(userId, deviceId), this.lastSeen(deviceId));
  }

  /** Deletes a device: its runs are cancelled, its watchers unpinned (they stay) and its tokens revoked. */
  async remove(userId: string, deviceId: string): Promise<void> {
    const row = await this.find(userId, deviceId);
    await this.tokens.revokeForDevice(deviceId);
    await this.deviceHandle(row.orgId, deviceId).remove();
    this.seenAt.delete(deviceId);
  }

  /** Whether a device belongs to an org (a watcher may be pinned only to one of its org's devices). */
  async inOrg(orgId: string, deviceId: string): Promise<boolean> {
    if (!DEVICE_ID.test(deviceId)) return false;
    const [row] = await this.db.select({ id: deviceIndex.deviceId }).from(deviceIndex).where(and(eq(deviceIndex.deviceId, deviceId), eq(deviceIndex.orgId, orgId))).limit(1);
    return Boolean(row);
  }

  /** The org a watcher belongs to, or null for an unknown (or malformed) id. */
  async watcherOrg(watcherId: string): Promise<string | null> {
    if (!WATCHER_ID.test(watcherId)) return null;
    const [row] = await this.db.select({ orgId: watcherIndex.orgId }).from(watcherIndex).where(eq(watcherIndex.watcherId, watcherId)).limit(1);
    return row?.orgId ?? null;
  }

  // DeviceIndexWriter: called by the actors.

  async sync(snapshot: DeviceSnapshot & { deleted?: boolean }): Promise<void> {
    if (snapshot.deleted) {
      await this.db.delete(deviceIndex).where(eq(deviceIndex.deviceId, snapshot.deviceId));
      return;
    }
    const indexed = { label: snapshot.label, appVersion: snapshot.appVersion, capabilities: snapshot.capabilities, registeredAt: snapshot.registeredAt };
    await this.db
      .insert(deviceIndex)
      .values({ deviceId: snapshot.deviceId, orgId: snapshot.orgId, userId: snapshot.userId, platform: snapshot.platform, view: indexed })
      .onConflictDoUpdate({ target: deviceIndex.deviceId, set: { view: indexed } });
  }

  publishBoard(deviceId: string, entry: DeviceBoardEntry | null): void {
    this.board.set(deviceId, entry);
  }

  lastSeen(deviceId: string): string | null {
    const seen = this.seenAt.get(deviceId);
    return seen ? new Date(seen.at).toISOString() : null;
  }

  async pickDevice(orgId: string, userId: string): Promise<string | null> {
    const rows = await this.db
      .select({ deviceId: deviceIndex.deviceId, view: deviceIndex.view, lastSeenAt: deviceIndex.lastSeenAt, createdAt: deviceIndex.createdAt })
      .from(deviceIndex)
      .where(and(eq(deviceIndex.orgId, orgId), eq(deviceIndex.userId, userId)))
      .limit(1000);
    const seen = (r: (typeof rows)[number]) => this.seenAt.get(r.deviceId)?.at ?? r.lastSeenAt?.getTime() ?? 0;
    const registered = rows.filter((r) => r.view.registeredAt !== null);
    registered.sort((a, b) => seen(b) - seen(a) || b.createdAt.getTime() - a.createdAt.getTime());
    return registered[0]?.deviceId ?? null;
  }

  /**
   * A device polled (its token checked). Its `last_seen_at` is written at most once a minute, and
   * due writes of all devices go out together, one statement a second: with 10,000 devices polling
   * every 10 s that is one UPDATE a second instead of 170.
   */
  polled(deviceId: string, now = Date.now()): void {
    const seen = this.seenAt.get(deviceId);
    if (seen && now - seen.writtenAt < LAST_SEEN_WRITE_MS) {
      seen.at = now;
      return;
    }
    this.seenAt.set(deviceId, { at: now, writtenAt: now });
    this.seenDue.add(deviceId);
    this.flushTimer ??= setTimeout(() => void this.flushSeen(), LAST_SEEN_FLUSH_MS).unref();
  }

  /** Writes the due `last_seen_at`s (also at close, so none is lost). */
  async flushSeen(): Promise<void> {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    const due = [...this.seenDue];
    this.seenDue.clear();
    for (let i = 0; i < due.length; i += LAST_SEEN_BATCH) {
      const batch = due.slice(i, i + LAST_SEEN_BATCH);
      try {
        await this.db.update(deviceIndex).set({ lastSeenAt: new Date() }).where(inArray(deviceIndex.deviceId, batch));
      } catch (err) {
        // Written again on the device's next poll.
        for (const id of batch) this.seenAt.delete(id);
        this.opts.logger?.warn({ err, devices: batch.length }, "could not write devices' last_seen_at");
      }
    }
  }

  async indexWatcher(watcherId: string, orgId: string): Promise<void> {
    await this.db.insert(watcherIndex).values({ watcherId, orgId }).onConflictDoNothing();
  }
}
