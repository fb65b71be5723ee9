import type { Agent, ClaimedRun, RunStatus, WatcherRun, WatcherSummary, WatcherView } from "../../shared/schemas/watcher.js";

/** Given by the OrganizationActor when it creates a watcher; clients never create WatcherActors. */
export interface WatcherInput {
  orgId: string;
  watcherId: string;
  name: string;
  slug: string;
  schedule: string;
  timezone: string;
  agentId: string | null;
  prompt: string;
  deviceWorkerId: string | null;
  leaseSeconds: number;
  createdBy: string;
}

export interface PromptVersion {
  version: number;
  text: string;
  createdAt: string;
}

/** A run as the watcher keeps it: the public view plus who asked and the prompt it was pinned to. */
export interface RunRecord extends WatcherRun {
  prompt: string;
  requestedBy: string;
  agent: RunAgent;
}

export type RunAgent = Pick<Agent, "id" | "name" | "kind" | "instructions">;

export interface WatcherState extends Omit<WatcherInput, "orgId" | "prompt"> {
  /** Null when the actor was reached without Kiln's creation input: it then refuses everyone. */
  orgId: string | null;
  status: "active" | "archived";
  prompts: PromptVersion[];
  nextRunAt: string | null;
  lastFiredAt: string | null;
  /** The latest scheduled slot that made no run, and why (shown on the watcher); absent in watchers saved before it was kept. */
  lastSkip?: { at: string; reason: string } | null;
  /** Where the last scheduled run's window ended: the next window starts there. */
  lastWindowEnd: string | null;
  /** Bumped whenever the schedule changes: a scheduled `fire` of an older generation is ignored. */
  generation: number;
  maxAttempts: number;
  /** Oldest first, bounded: the latest MAX_RUNS runs. */
  runs: RunRecord[];
  createdAt: string;
  updatedAt: string;
}

export const MAX_RUNS = 500;
/** Scheduled runs are tried this many times when a lease expires; manual runs once. */
export const SCHEDULED_ATTEMPTS = 3;
export const ACTIVE_STATUSES: readonly RunStatus[] = ["pending", "claimed", "running"];

export function initialWatcherState(input: WatcherInput | undefined): WatcherState {
  const now = new Date().toISOString();
  return {
    orgId: input?.orgId ?? null,
    watcherId: input?.watcherId ?? "",
    name: input?.name ?? "",
    slug: input?.slug ?? "",
    schedule: input?.schedule ?? "0 9 * * *",
    timezone: input?.timezone ?? "UTC",
    agentId: input?.agentId ?? null,
    deviceWorkerId: input?.deviceWorkerId ?? null,
    leaseSeconds: input?.leaseSeconds ?? 600,
    createdBy: input?.createdBy ?? "",
    status: "active",
    prompts: input ? [{ version: 1, text: input.prompt, createdAt: now }] : [],
    nextRunAt: null,
    lastFiredAt: null,
    lastWindowEnd: null,
    generation: 0,
    maxAttempts: SCHEDULED_ATTEMPTS,
    runs: [],
    createdAt: now,
    updatedAt: now,
  };
}

export function currentPrompt(s: WatcherState): PromptVersion {
  return s.prompts[s.prompts.length - 1] ?? { version: 0, text: "", createdAt: s.createdAt };
}

export function watcherSummary(s: WatcherState): WatcherSummary {
  return {
    id: s.watcherId,
    name: s.name,
    slug: s.slug,
    schedule: s.schedule,
    timezone: s.timezone,
    agentId: s.agentId,
    deviceWorkerId: s.deviceWorkerId,
    status: s.status,
    promptVersion: currentPrompt(s).version,
    nextRunAt: s.nextRunAt,
    lastFiredAt: s.lastFiredAt,
    lastSkip: s.lastSkip ?? null,
    leaseSeconds: s.leaseSeconds,
    createdAt: s.createdAt,
    updatedAt: s.updatedAt,
  };
}

export function watcherView(s: WatcherState): WatcherView {
  return { ...watcherSummary(s), prompt: currentPrompt(s).text };
}

export function runView(r: RunRecord): WatcherRun {
  const { prompt: _prompt, requestedBy: _requestedBy, agent: _agent, ...view } = r;
  return view;
}

export function activeRun(s: WatcherState): RunRecord | undefined {
  return s.runs.find((r) => ACTIVE_STATUSES.includes(r.status));
}

/** The hex part of a watcher id, which every run id of the watcher carries. */
export function watcherIdOfRun(runId: string): string | null {
  const m = /^run_([0-9a-f]{16})_[0-9a-f]{12}$/.exec(runId);
  return m ? `wat_${m[1]}` : null;
}

/** What the device receives on claim. The agent is the one the run was materialized with. */
export function claimedPayload(s: WatcherState, r: RunRecord): ClaimedRun {
  return {
    run_id: r.id,
    run_type: "watcher",
    organization_id: s.orgId ?? "",
    lease_expires_at: r.leaseExpiresAt ?? "",
    payload: {
      watcher: { id: s.watcherId, name: s.name, slug: s.slug, agent: r.agent, prompt: r.prompt },
      event: { fired_at: r.firedAt, window_start: r.windowStart, window_end: r.windowEnd, dispatch_source: r.dispatchSource },
      context: { device: { worker_id: r.deviceWorkerId }, user: { user_id: r.requestedBy } },
    },
  };
}
