import { randomBytes } from "node:crypto";
import { UserError, type Client } from "rivetkit";
import { keys } from "../../shared/keys.js";
import {
  CreateAgentBodySchema,
  CreateWatcherBodySchema,
  UpdateAgentBodySchema,
  type Agent,
  type WatcherSummary,
  type WatcherView,
} from "../../shared/schemas/watcher.js";
import { ACTOR_ERRORS, forbidden, internalParams, parseInput, type Caller } from "../auth.js";
import type { Registry } from "../registry.js";
import { actorLog, actorServices } from "../services.js";
import { scheduleProblems, validTimezone } from "../watcher/schedule.js";
import type { WatcherInput } from "../watcher/state.js";
import type { OrganizationState } from "./index.js";
import { own } from "../../shared/records.js";

/**
 * What the OrganizationActor keeps for the device API: its agents, the index of its watchers
 * (pushed by each WatcherActor) and the sentinels of default provisioning. A sentinel is written in
 * the same state change as what it guards and is never cleared, so a deleted default never comes back.
 */
export interface OrgDeviceState {
  agents?: Record<string, Agent>;
  watchers?: Record<string, WatcherSummary>;
  sentinels?: { defaultAgent?: { id: string | null; at: string }; defaultWatcher?: { id: string; at: string } };
}

export const DEFAULT_WATCHER = { name: "Daily check-in", slug: "daily-check-in", schedule: "0 9 * * *", prompt: "Check in: summarize what changed since the last check-in and what needs my attention today." };
const DEFAULT_AGENT = { name: "Default agent", kind: "claude" as const, instructions: "You run on the user's own machine. Be brief and concrete." };

/**
 * Gives the org its default agent, once: an org that already has agents gets only the sentinel.
 * Synchronous, so the sentinel and the agent land in one state change.
 */
export function provisionDefaultAgent(s: OrgDeviceState): void {
  s.sentinels ??= {};
  s.agents ??= {};
  if (s.sentinels.defaultAgent) return;
  const now = new Date().toISOString();
  if (Object.keys(s.agents).length > 0) {
    s.sentinels.defaultAgent = { id: null, at: now };
    return;
  }
  const agent: Agent = { id: newId("agt"), ...DEFAULT_AGENT, createdAt: now, updatedAt: now };
  s.agents[agent.id] = agent;
  s.sentinels.defaultAgent = { id: agent.id, at: now };
}

function newId(prefix: string, bytes = 8): string {
  return `${prefix}_${randomBytes(bytes).toString("hex")}`;
}

export interface DeviceAnnouncement {
  deviceId: string;
  userId: string;
  timezone: string | null;
}

/** The parts of the OrganizationActor's action context these actions use. */
interface OrgCtx {
  state: OrganizationState;
  conn: { state: Caller };
  saveState(opts: { immediate: boolean }): Promise<void>;
  client: () => unknown;
}

function clientOf(c: OrgCtx): Client<Registry> {
  return c.client() as Client<Registry>;
}

function orgIdOf(c: OrgCtx): string {
  if (c.state.id === null) throw new UserError("Organization not found.", { code: ACTOR_ERRORS.notFound });
  return c.state.id;
}

function requireInternal(c: OrgCtx): void {
  if (!c.conn.state.internal) throw forbidden("This action is internal to Kiln.");
}

function requireUser(c: OrgCtx): string {
  if (!c.conn.state.userId) throw new UserError("This action is done on behalf of a user.", { code: ACTOR_ERRORS.invalidRequest });
  return c.conn.state.userId;
}

/** Agents and watchers of an org that existed before the device API get their defaults on first use. */
function defaults(c: OrgCtx): Required<Pick<OrgDeviceState, "agents" | "watchers" | "sentinels">> {
  provisionDefaultAgent(c.state);
  c.state.watchers ??= {};
  return c.state as Required<Pick<OrgDeviceState, "agents" | "watchers" | "sentinels">>;
}

function watcherHandle(c: OrgCtx, watcherId: string) {
  return clientOf(c).watcher.get(keys.watcher(orgIdOf(c), watcherId), { params: internalParams() });
}

function slugify(name: string): string {
  return (
    name
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, "-")
      .replace(/^-+|-+$/g, "")
      .slice(0, 60)
      .replace(/-+$/g, "") || "watcher"
  );
}

function freeSlug(watchers: Record<string, WatcherSummary>, wanted: string, explicit: boolean): string {
  const taken = new Set(Object.values(watchers).filter((w) => w.status === "active").map((w) => w.slug));
  if (!taken.has(wanted)) return wanted;
  if (explicit) throw new UserError(`A watcher with slug "${wanted}" exists.`, { code: ACTOR_ERRORS.conflict });
  for (let i = 2; ; i++) if (!taken.has(`${wanted}-${i}`)) return `${wanted}-${i}`;
}

/**
 * Creates a WatcherActor. Its summary is reserved first (with the sentinel, for the default), in one
 * state change saved before any await, so concurrent calls see it; a failed creation removes it again.
 */
async function spawnWatcher(c: OrgCtx, input: Omit<WatcherInput, "orgId" | "watcherId">, sentinel: boolean): Promise<WatcherView> {
  const d = defaults(c);
  const orgId = orgIdOf(c);
  const watcherId = newId("wat");
  const now = new Date().toISOString();
  d.watchers[watcherId] = {
    id: watcherId,
    name: input.name,
    slug: input.slug,
    schedule: input.schedule,
    timezone: input.timezone,
    agentId: input.agentId,
    deviceWorkerId: input.deviceWorkerId,
    status: "active",
    promptVersion: 1,
    nextRunAt: null,
    lastFiredAt: null,
    lastSkip: null,
    leaseSeconds: input.leaseSeconds,
    createdAt: now,
    updatedAt: now,
  };
  if (sentinel) d.sentinels.defaultWatcher = { id: watcherId, at: now };
  await c.saveState({ immediate: true });
  try {
    await actorServices().devices.indexWatcher(watcherId, orgId);
    const handle = clientOf(c).watcher.getOrCreate(keys.watcher(orgId, watcherId), { params: internalParams(), createWithInput: { ...input, orgId, watcherId } });
    d.watchers[watcherId] = await handle.arm();
    await c.saveState({ immediate: true });
    return await handle.view();
  } catch (err) {
    // The default's sentinel stays: a failed default is not retried into a duplicate later.
    delete d.watchers[watcherId];
    await c.saveState({ immediate: true });
    throw err;
  }
}

/** Actions of the OrganizationActor for the device API (agents, watchers, default provisioning). */
export const orgDeviceActions = {
  listAgents: (c: OrgCtx): Agent[] => Object.values(defaults(c).agents).sort((a, b) => a.createdAt.localeCompare(b.createdAt)),

  createAgent: async (c: OrgCtx, body: unknown): Promise<Agent> => {
    requireUser(c);
    const input = parseInput(CreateAgentBodySchema, body, "Invalid agent.");
    const d = defaults(c);
    const now = new Date().toISOString();
    const agent: Agent = { id: newId("agt"), ...input, createdAt: now, updatedAt: now };
    d.agents[agent.id] = agent;
    await c.saveState({ immediate: true });
    return agent;
  },

  updateAgent: async (c: OrgCtx, agentId: string, body: unknown): Promise<Agent> => {
    requireUser(c);
    const patch = parseInput(UpdateAgentBodySchema, body, "Invalid agent.");
    const agent = own(defaults(c).agents, String(agentId));
    if (!agent) throw new UserError("No such agent.", { code: "agent_not_found" });
    Object.assign(agent, Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined)), { updatedAt: new Date().toISOString() });
    await c.saveState({ immediate: true });
    return agent;
  },

  /** Deletes an agent; its watchers stay, without an agent. The default agent's sentinel stays, so it never comes back. */
  deleteAgent: async (c: OrgCtx, agentId: string): Promise<void> => {
    requireUser(c);
    const d = defaults(c);
    const id = String(agentId);
    if (!own(d.agents, id)) throw new UserError("No such agent.", { code: "agent_not_found" });
    delete d.agents[id];
    const users = Object.values(d.watchers).filter((w) => w.agentId === id);
    for (const w of users) w.agentId = null;
    await c.saveState({ immediate: true });
    for (const w of users) {
      await watcherHandle(c, w.id)
        .dropAgent(id)
        .catch((err: unknown) => actorLog().warn({ err, watcherId: w.id }, "could not tell a watcher its agent was deleted"));
    }
  },

  /** Kiln-internal (WatcherActor): an agent's current definition, or null. */
  getAgent: (c: OrgCtx, agentId: string): Agent | null => {
    requireInternal(c);
    return own(defaults(c).agents, String(agentId)) ?? null;
  },

  listWatchers: (c: OrgCtx): WatcherSummary[] => Object.values(defaults(c).watchers).sort((a, b) => a.createdAt.localeCompare(b.createdAt)),

  /** Members create a watcher. The gateway has checked that `deviceWorkerId`, if any, is a device of this org. */
  createWatcher: async (c: OrgCtx, body: unknown): Promise<WatcherView> => {
    const userId = requireUser(c);
    const input = parseInput(CreateWatcherBodySchema, body, "Invalid watcher.");
    const problems = scheduleProblems(input.schedule, input.timezone);
    if (problems.length) throw new UserError("Invalid schedule or timezone.", { code: ACTOR_ERRORS.invalidRequest, metadata: { issues: problems } });
    const d = defaults(c);
    if (!own(d.agents, input.agentId)) throw new UserError("No such agent in this organization.", { code: "agent_not_found" });
    const slug = freeSlug(d.watchers, input.slug ?? slugify(input.name), input.slug !== undefined);
    return spawnWatcher(
      c,
      { name: input.name, slug, schedule: input.schedule, timezone: input.timezone, agentId: input.agentId, prompt: input.prompt, deviceWorkerId: input.deviceWorkerId ?? null, leaseSeconds: input.leaseSeconds, createdBy: userId },
      false,
    );
  },

  /** Kiln-internal (WatcherActor): its summary changed. */
  recordWatcher: async (c: OrgCtx, summary: WatcherSummary): Promise<void> => {
    requireInternal(c);
    const d = defaults(c);
    const known = own(d.watchers, summary.id);
    if (known && known.updatedAt > summary.updatedAt) return;
    d.watchers[summary.id] = summary;
    await c.saveState({ immediate: true });
  },

  /**
   * Kiln-internal (DeviceActor, on its first poll): the org's first device gets the default
   * "Daily check-in" watcher pinned to it; a later new device re-pins it when it was left unpinned.
   * Once its sentinel is written, the default is never created again, even after it is archived.
   */
  deviceRegistered: async (c: OrgCtx, device: DeviceAnnouncement): Promise<void> => {
    requireInternal(c);
    const d = defaults(c);
    const sentinel = d.sentinels.defaultWatcher;
    if (!sentinel) {
      const agentId = (d.sentinels.defaultAgent?.id && own(d.agents, d.sentinels.defaultAgent.id) ? d.sentinels.defaultAgent.id : Object.keys(d.agents)[0]) ?? null;
      const timezone = device.timezone && validTimezone(device.timezone) ? device.timezone : "UTC";
      await spawnWatcher(
        c,
        { ...DEFAULT_WATCHER, slug: freeSlug(d.watchers, DEFAULT_WATCHER.slug, false), timezone, agentId, deviceWorkerId: device.deviceId, leaseSeconds: 600, createdBy: device.userId },
        true,
      );
      return;
    }
    const existing = own(d.watchers, sentinel.id);
    if (existing && existing.status === "active" && !existing.deviceWorkerId) {
      existing.deviceWorkerId = device.deviceId;
      await c.saveState({ immediate: true });
      d.watchers[sentinel.id] = await watcherHandle(c, sentinel.id).pin(device.deviceId);
      await c.saveState({ immediate: true });
    }
  },

  /** Kiln-internal (DeviceActor, when deleted): its watchers stay, unpinned, and its runs are cancelled. */
  deviceRemoved: async (c: OrgCtx, deviceId: string): Promise<void> => {
    requireInternal(c);
    const pinned = Object.values(defaults(c).watchers).filter((w) => w.deviceWorkerId === deviceId);
    for (const w of pinned) w.deviceWorkerId = null;
    await c.saveState({ immediate: true });
    for (const w of pinned) await watcherHandle(c, w.id).unpin(deviceId);
  },
};
