import { randomBytes } from "node:crypto";
import { UserError, type Client } from "rivetkit";
import { keys } from "../../shared/keys.js";
import type { ClaimedRun, CompleteBody, RunStatus } from "../../shared/schemas/watcher.js";
import { ACTOR_ERRORS, internalParams } from "../auth.js";
import type { Registry } from "../registry.js";
import { actorLog, actorServices } from "../services.js";
import { nextSlot } from "./schedule.js";
import { ACTIVE_STATUSES, activeRun, claimedPayload, currentPrompt, MAX_RUNS, watcherSummary, type RunAgent, type RunRecord, type WatcherState } from "./state.js";

/** A pending run is offered to its device again after this long, in case Kiln stopped between materializing and offering it. */
export const REDELIVER_MS = 5_000;

/** What the run operations need of a WatcherActor context; built once per action by `watcherCtx`. */
export interface WatcherCtx {
  state: WatcherState;
  schedule: { at(timestamp: number, fn: string, ...args: unknown[]): Promise<void> };
  save(): Promise<void>;
  client: Client<Registry>;
}

function orgId(c: WatcherCtx): string {
  return c.state.orgId ?? "";
}

function deviceHandle(c: WatcherCtx, deviceId: string) {
  return c.client.device.get(keys.device(orgId(c), deviceId), { params: internalParams() });
}

function orgHandle(c: WatcherCtx) {
  return c.client.organization.get(keys.organization(orgId(c)), { params: internalParams() });
}

export function runError(code: string, message: string): UserError {
  return new UserError(message, { code });
}

/** Pushes the watcher's summary to its organization's index. Best-effort: the list is a copy. */
export async function publishWatcher(c: WatcherCtx): Promise<void> {
  c.state.updatedAt = new Date().toISOString();
  if (!c.state.orgId) return;
  await orgHandle(c)
    .recordWatcher(watcherSummary(c.state))
    .catch((err: unknown) => actorLog().warn({ err, watcherId: c.state.watcherId }, "could not push a watcher change to its organization"));
}

/** Computes `next_run_at` from `from` (never from a missed slot, so a long outage makes one catch-up run) and schedules it. */
export async function armSchedule(c: WatcherCtx, from: Date): Promise<void> {
  const s = c.state;
  s.generation += 1;
  const next = s.status === "active" ? nextSlot(s.schedule, s.timezone, from) : null;
  s.nextRunAt = next?.toISOString() ?? null;
  if (next) await c.schedule.at(next.getTime(), "fire", s.generation, next.getTime());
}

/** The agent as the organization has it now, or null when it was deleted. */
export async function currentAgent(c: WatcherCtx, agentId: string | null): Promise<RunAgent | null> {
  if (!agentId) return null;
  const agent = await orgHandle(c).getAgent(agentId);
  return agent ? { id: agent.id, name: agent.name, kind: agent.kind, instructions: agent.instructions } : null;
}

interface NewRun {
  source: "scheduled" | "manual";
  deviceId: string;
  requestedBy: string;
  agent: RunAgent;
  firedAt: string;
  windowStart: string;
  windowEnd: string;
  attempt: number;
  prompt?: { version: number; text: string };
}

function materialize(c: WatcherCtx, n: NewRun): RunRecord {
  const s = c.state;
  const prompt = n.prompt ?? { version: currentPrompt(s).version, text: currentPrompt(s).text };
  const run: RunRecord = {
    id: `run_${s.watcherId.slice(4)}_${randomBytes(6).toString("hex")}`,
    status: "pending",
    dispatchSource: n.source,
    attempt: n.attempt,
    deviceWorkerId: n.deviceId,
    promptVersion: prompt.version,
    prompt: prompt.text,
    agent: n.agent,
    requestedBy: n.requestedBy,
    firedAt: n.firedAt,
    windowStart: n.windowStart,
    windowEnd: n.windowEnd,
    queuedAt: new Date().toISOString(),
    claimedAt: null,
    leaseExpiresAt: null,
    completedAt: null,
    output: null,
    error: null,
    durationMs: null,
    exitCode: null,
  };
  s.runs.push(run);
  // Bounded history: the oldest finished runs go first; an active run is never dropped.
  while (s.runs.length > MAX_RUNS) {
    const i = s.runs.findIndex((r) => !ACTIVE_STATUSES.includes(r.status));
    if (i < 0) break;
    s.runs.splice(i, 1);
  }
  return run;
}

/**
 * Offers a pending run to its device. A re-offer is scheduled first (and saved with the run), so
 * a Kiln killed between the save and the offer still delivers it; offers are idempotent.
 */
async function deliver(c: WatcherCtx, run: RunRecord): Promise<void> {
  await c.schedule.at(Date.now() + REDELIVER_MS, "redeliver", run.id);
  await c.save();
  await offer(c, run);
}

export async function offer(c: WatcherCtx, run: RunRecord): Promise<void> {
  if (run.status !== "pending") return;
  try {
    await deviceHandle(c, run.deviceWorkerId).offer({ runId: run.id, watcherId: c.state.watcherId });
  } catch (err) {
    if (deviceGone(err)) {
      // Deleted: nobody will claim this run.
      actorLog().warn({ runId: run.id }, "the run's device is no longer registered; cancelling the run");
      finish(run, "cancelled", { error: "The device is no longer registered." });
      await c.save();
      return;
    }
    // Anything else (the DeviceActor starting or going to sleep, a restart in progress) passes:
    // the run stays pending and is offered again shortly, never lost to a transient failure.
    actorLog().warn({ err, runId: run.id }, "could not offer a run to its device; offering it again shortly");
    await c.schedule.at(Date.now() + REDELIVER_MS, "redeliver", run.id);
    await c.save();
  }
}

/** The DeviceActor's own answer for a deleted device, or RivetKit's for an actor that does not exist. */
function deviceGone(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === "device_not_found" || code === "not_found";
}

function finish(run: RunRecord, status: RunStatus, result: { output?: string | null; error?: string | null; durationMs?: number | null; exitCode?: number | null } = {}): void {
  run.status = status;
  run.completedAt = new Date().toISOString();
  run.leaseExpiresAt = status === "timeout" ? run.leaseExpiresAt : null;
  if (result.output !== undefined) run.output = result.output;
  if (result.error !== undefined) run.error = result.error;
  if (result.durationMs !== undefined) run.durationMs = result.durationMs;
  if (result.exitCode !== undefined) run.exitCode = result.exitCode;
}

async function withdraw(c: WatcherCtx, run: RunRecord): Promise<void> {
  await deviceHandle(c, run.deviceWorkerId)
    .withdraw(run.id)
    .catch((err: unknown) => actorLog().debug({ err, runId: run.id }, "device gone while withdrawing a run"));
}

/**
 * Where a scheduled run of this watcher goes: its pinned device, else (unpinned) the device of the
 * watcher's creator in this org that polled most recently. Null when there is none.
 */
async function scheduledDevice(c: WatcherCtx): Promise<string | null> {
  const s = c.state;
  if (s.deviceWorkerId) return s.deviceWorkerId;
  if (!s.orgId) return null;
  return actorServices().devices.pickDevice(s.orgId, s.createdBy);
}

/**
 * A scheduled slot came due: one run, for the pinned device or (unpinned) the creator's most
 * recently seen device, then the next slot from now. A slot that makes no run says why on the
 * watcher (`lastSkip`).
 */
export async function fireSlot(c: WatcherCtx, generation: number, slotMs: number): Promise<void> {
  const s = c.state;
  if (generation !== s.generation || s.status !== "active") return;
  const now = new Date();
  let run: RunRecord | undefined;
  let skip: string | null = null;
  const agent = activeRun(s) ? null : await currentAgent(c, s.agentId);
  const deviceId = agent ? await scheduledDevice(c) : null;
  if (activeRun(s)) skip = "The previous run was still pending or running.";
  else if (!agent) skip = "The watcher has no agent.";
  else if (!deviceId) skip = "No device to run on: pin the watcher to a device, or register a device of its creator in this organization.";
  if (agent && deviceId) {
    const windowEnd = now.toISOString();
    run = materialize(c, {
      source: "scheduled",
      deviceId,
      requestedBy: s.createdBy,
      agent,
      firedAt: new Date(slotMs).toISOString(),
      windowStart: s.lastWindowEnd ?? s.createdAt,
      windowEnd,
      attempt: 1,
    });
    s.lastWindowEnd = windowEnd;
  }
  if (skip) s.lastSkip = { at: new Date(slotMs).toISOString(), reason: skip };
  await armSchedule(c, now);
  if (run) await deliver(c, run);
  else await c.save();
  await publishWatcher(c);
}

export interface TriggerResult {
  run_id: string;
  status: RunStatus;
  already_queued: boolean;
  queued_at: string;
}

/** A device asked for a run now. Never touches `next_run_at`. */
export async function triggerRun(c: WatcherCtx, deviceId: string, userId: string): Promise<TriggerResult> {
  const s = c.state;
  if (s.deviceWorkerId && s.deviceWorkerId !== deviceId) throw runError(ACTOR_ERRORS.forbidden, "This watcher is pinned to another device.");
  if (s.status !== "active") throw runError("watcher_inactive", "This watcher is archived.");
  const active = activeRun(s);
  if (active) return { run_id: active.id, status: active.status, already_queued: true, queued_at: active.queuedAt };
  const agent = await currentAgent(c, s.agentId);
  if (!agent) throw runError("watcher_has_no_agent", "This watcher has no agent.");
  const now = new Date().toISOString();
  const run = materialize(c, {
    source: "manual",
    deviceId,
    requestedBy: userId,
    agent,
    firedAt: now,
    windowStart: s.lastWindowEnd ?? s.createdAt,
    windowEnd: now,
    attempt: 1,
  });
  await deliver(c, run);
  return { run_id: run.id, status: run.status, already_queued: false, queued_at: run.queuedAt };
}

function findRun(c: WatcherCtx, runId: string): RunRecord {
  const run = c.state.runs.find((r) => r.id === runId);
  if (!run) throw runError("run_not_found", "No such run.");
  return run;
}

function ownRun(c: WatcherCtx, runId: string, deviceId: string): RunRecord {
  const run = findRun(c, runId);
  if (run.deviceWorkerId !== deviceId) throw runError(ACTOR_ERRORS.forbidden, "This run belongs to another device.");
  return run;
}

/** The device takes a pending run offered to it; null when it is no longer claimable (its offer is stale). */
export async function claimRun(c: WatcherCtx, runId: string, deviceId: string): Promise<ClaimedRun | null> {
  const run = c.state.runs.find((r) => r.id === runId);
  if (!run || run.status !== "pending" || run.deviceWorkerId !== deviceId || c.state.status !== "active") return null;
  const now = Date.now();
  run.status = "claimed";
  run.claimedAt = new Date(now).toISOString();
  const leaseMs = c.state.leaseSeconds * 1000;
  run.leaseExpiresAt = new Date(now + leaseMs).toISOString();
  await c.schedule.at(now + leaseMs, "checkLease", run.id);
  await c.save();
  return claimedPayload(c.state, run);
}

export async function heartbeatRun(c: WatcherCtx, runId: string, deviceId: string): Promise<{ continue: boolean; lease_expires_at: string | null }> {
  const run = ownRun(c, runId, deviceId);
  if (run.status === "cancelled") return { continue: false, lease_expires_at: null };
  if (run.status !== "claimed" && run.status !== "running") throw runError("run_not_running", `This run is ${run.status}.`);
  run.status = "running";
  run.leaseExpiresAt = new Date(Date.now() + c.state.leaseSeconds * 1000).toISOString();
  await c.save();
  return { continue: true, lease_expires_at: run.leaseExpiresAt };
}

export async function completeRun(c: WatcherCtx, runId: string, deviceId: string, body: CompleteBody): Promise<{ ok: true; status: "completed" | "failed"; idempotent?: true }> {
  const run = ownRun(c, runId, deviceId);
  if (run.status === "completed" || run.status === "failed") return { ok: true, status: run.status, idempotent: true };
  if (run.status !== "claimed" && run.status !== "running") throw runError("run_not_running", `This run is ${run.status}; its result was not recorded.`);
  const failed = body.error !== undefined || (body.exit_code !== undefined && body.exit_code !== 0);
  finish(run, failed ? "failed" : "completed", { output: body.output ?? null, error: body.error ?? null, durationMs: body.duration_ms ?? null, exitCode: body.exit_code ?? null });
  if (!failed) c.state.lastFiredAt = run.firedAt;
  await c.save();
  await withdraw(c, run);
  await publishWatcher(c);
  return { ok: true, status: failed ? "failed" : "completed" };
}

/** The lease alarm: a run not heartbeaten in time times out; a scheduled one is retried up to its attempts. */
export async function checkLease(c: WatcherCtx, runId: string): Promise<void> {
  const run = c.state.runs.find((r) => r.id === runId);
  if (!run || (run.status !== "claimed" && run.status !== "running")) return;
  const expires = Date.parse(run.leaseExpiresAt ?? "");
  if (expires > Date.now()) {
    await c.schedule.at(expires, "checkLease", run.id);
    await c.save();
    return;
  }
  finish(run, "timeout", { error: "The lease expired without a heartbeat." });
  await withdraw(c, run);
  const s = c.state;
  // A retry goes where a new slot would (an unpinned watcher's may pick another device), else to the same device.
  const retryDevice = run.dispatchSource === "scheduled" && run.attempt < s.maxAttempts && s.status === "active" ? ((await scheduledDevice(c)) ?? run.deviceWorkerId) : null;
  if (retryDevice) {
    const retry = materialize(c, {
      source: "scheduled",
      deviceId: retryDevice,
      requestedBy: run.requestedBy,
      agent: run.agent,
      firedAt: run.firedAt,
      windowStart: run.windowStart,
      windowEnd: run.windowEnd,
      attempt: run.attempt + 1,
      prompt: { version: run.promptVersion, text: run.prompt },
    });
    await deliver(c, retry);
  } else {
    await c.save();
  }
}

export async function redeliver(c: WatcherCtx, runId: string): Promise<void> {
  const run = c.state.runs.find((r) => r.id === runId);
  if (run?.status === "pending") await offer(c, run);
}

/** Cancels the watcher's active runs (all, or only those of one device). */
export async function cancelActive(c: WatcherCtx, reason: string, deviceId?: string): Promise<void> {
  for (const run of c.state.runs) {
    if (!ACTIVE_STATUSES.includes(run.status) || (deviceId && run.deviceWorkerId !== deviceId)) continue;
    finish(run, "cancelled", { error: reason });
    if (!deviceId) await withdraw(c, run);
  }
}
