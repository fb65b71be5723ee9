import { actor, UserError } from "rivetkit";
import { RunPageQuerySchema, UpdateWatcherBodySchema, type ClaimedRun, type CompleteBody, type WatcherRun, type WatcherSummary, type WatcherView } from "../../shared/schemas/watcher.js";
import { ACTOR_ERRORS, authorizeOrgChild, forbidden, parseInput, type Caller } from "../auth.js";
import { ActorLock } from "../lock.js";
import type { Registry } from "../registry.js";
import { reportHandledFailure } from "../runtime-issues.js";
import {
  armSchedule,
  cancelActive,
  checkLease,
  claimRun,
  completeRun,
  currentAgent,
  fireSlot,
  heartbeatRun,
  publishWatcher,
  redeliver,
  runError,
  triggerRun,
  type TriggerResult,
  type WatcherCtx,
} from "./runs.js";
import { scheduleProblems } from "./schedule.js";
import { currentPrompt, initialWatcherState, runView, watcherSummary, watcherView, type WatcherInput, type WatcherState } from "./state.js";

/** Scheduled actions run without a connection; any call from outside must be Kiln's own. */
function requireInternalOrSchedule(c: unknown): void {
  const conn = (c as { conn?: { state?: Caller } }).conn;
  if (conn && !conn.state?.internal) throw forbidden("This action is internal to Kiln.");
}

function requireInternal(caller: Caller): void {
  if (!caller.internal) throw forbidden("This action is internal to Kiln.");
}

/**
 * WatcherActor, key ["org", orgId, "watcher", watcherId]: one watcher's definition, prompt
 * versions, schedule (RivetKit's durable `c.schedule`) and runs with their leases. Every action
 * that reads, awaits and writes runs under the actor's lock, so at most one run is active by
 * construction and parallel triggers get one run.
 */
export const watcher = actor({
  createState: (_c, input: WatcherInput | undefined): WatcherState => initialWatcherState(input),
  createConnState: (c, params: unknown): Promise<Caller> => authorizeOrgChild(c.state.orgId, params, c),
  createVars: (): { lock: ActorLock } => ({ lock: new ActorLock() }),
  onWake: (c) => stayAwakeWhileScheduled(c),
  actions: {
    view: (c): WatcherView => watcherView(c.state),

    /** Kiln-internal (the OrganizationActor, at creation): computes `next_run_at` and schedules it. */
    arm: (c): Promise<WatcherSummary> =>
      c.vars.lock.run(async () => {
        requireInternal(c.conn.state);
        const ctx = watcherCtx(c);
        await armSchedule(ctx, new Date());
        await ctx.save();
        await publishWatcher(ctx);
        return watcherSummary(c.state);
      }),

    /** Members edit a watcher. A new prompt is a new version; runs keep the version they were made with. */
    update: (c, patch: unknown): Promise<WatcherView> =>
      c.vars.lock.run(async () => {
        const body = parseInput(UpdateWatcherBodySchema, patch, "Invalid watcher.");
        const s = c.state;
        if (s.status !== "active") throw runError("watcher_inactive", "This watcher is archived.");
        const problems = scheduleProblems(body.schedule ?? s.schedule, body.timezone ?? s.timezone);
        if (problems.length) throw new UserError("Invalid schedule or timezone.", { code: ACTOR_ERRORS.invalidRequest, metadata: { issues: problems } });
        const ctx = watcherCtx(c);
        if (body.agentId !== undefined && body.agentId !== s.agentId && !(await currentAgent(ctx, body.agentId))) {
          throw runError("agent_not_found", "No such agent in this organization.");
        }
        const rescheduled = (body.schedule !== undefined && body.schedule !== s.schedule) || (body.timezone !== undefined && body.timezone !== s.timezone);
        if (body.name !== undefined) s.name = body.name;
        if (body.slug !== undefined) s.slug = body.slug;
        if (body.schedule !== undefined) s.schedule = body.schedule;
        if (body.timezone !== undefined) s.timezone = body.timezone;
        if (body.agentId !== undefined) s.agentId = body.agentId;
        if (body.deviceWorkerId !== undefined) s.deviceWorkerId = body.deviceWorkerId;
        if (body.leaseSeconds !== undefined) s.leaseSeconds = body.leaseSeconds;
        if (body.prompt !== undefined && body.prompt !== currentPrompt(s).text) {
          s.prompts.push({ version: currentPrompt(s).version + 1, text: body.prompt, createdAt: new Date().toISOString() });
          // Runs carry their own copy of the prompt, so old versions are kept only as history.
          if (s.prompts.length > 50) s.prompts.splice(0, s.prompts.length - 50);
        }
        if (rescheduled) await armSchedule(ctx, new Date());
        await ctx.save();
        await publishWatcher(ctx);
        return watcherView(s);
      }),

    /** Members archive a watcher: its schedule stops and an active run is cancelled. */
    archive: (c): Promise<WatcherView> =>
      c.vars.lock.run(async () => {
        const ctx = watcherCtx(c);
        if (c.state.status === "active") {
          c.state.status = "archived";
          await armSchedule(ctx, new Date());
          await cancelActive(ctx, "The watcher was archived.");
          await ctx.save();
          stayAwakeWhileScheduled(c);
          await publishWatcher(ctx);
        }
        return watcherView(c.state);
      }),

    /** A page of runs, newest first. */
    listRuns: (c, query: unknown): { runs: WatcherRun[]; nextBefore: string | null } => {
      const q = parseInput(RunPageQuerySchema, query ?? {}, "Invalid run query.");
      const newestFirst = [...c.state.runs].reverse();
      const cursor = q.before ? newestFirst.findIndex((r) => r.id === q.before) : -1;
      if (q.before && cursor < 0) return { runs: [], nextBefore: null };
      const start = cursor + 1;
      const page = newestFirst.slice(start, start + q.limit);
      const more = start + q.limit < newestFirst.length;
      return { runs: page.map(runView), nextBefore: more ? (page[page.length - 1]?.id ?? null) : null };
    },

    /** Kiln-internal (the worker API): a device asks for a run now. */
    trigger: (c, deviceId: string, userId: string): Promise<TriggerResult> =>
      c.vars.lock.run(async () => {
        requireInternal(c.conn.state);
        return triggerRun(watcherCtx(c), deviceId, userId);
      }),

    /** Kiln-internal (the DeviceActor, on a poll): takes a run offered to the device. */
    claim: (c, runId: string, deviceId: string): Promise<ClaimedRun | null> =>
      c.vars.lock.run(async () => {
        requireInternal(c.conn.state);
        return claimRun(watcherCtx(c), runId, deviceId);
      }),

    heartbeat: (c, runId: string, deviceId: string): Promise<{ continue: boolean; lease_expires_at: string | null }> =>
      c.vars.lock.run(async () => {
        requireInternal(c.conn.state);
        return heartbeatRun(watcherCtx(c), runId, deviceId);
      }),

    complete: (c, runId: string, deviceId: string, body: CompleteBody): Promise<{ ok: true; status: "completed" | "failed"; idempotent?: true }> =>
      c.vars.lock.run(async () => {
        requireInternal(c.conn.state);
        return completeRun(watcherCtx(c), runId, deviceId, body);
      }),

    /** Kiln-internal (the OrganizationActor): pins the watcher to a device (the default watcher, on a new device). */
    pin: (c, deviceId: string): Promise<WatcherSummary> =>
      c.vars.lock.run(async () => {
        requireInternal(c.conn.state);
        c.state.deviceWorkerId = deviceId;
        const ctx = watcherCtx(c);
        await ctx.save();
        await publishWatcher(ctx);
        return watcherSummary(c.state);
      }),

    /** Kiln-internal: the device was deleted. The watcher stays, unpinned, and that device's runs are cancelled. */
    unpin: (c, deviceId: string): Promise<void> =>
      c.vars.lock.run(async () => {
        requireInternal(c.conn.state);
        const ctx = watcherCtx(c);
        if (c.state.deviceWorkerId === deviceId) c.state.deviceWorkerId = null;
        await cancelActive(ctx, "The device was deleted.", deviceId);
        await ctx.save();
        await publishWatcher(ctx);
      }),

    /** Kiln-internal: the watcher's agent was deleted. */
    dropAgent: (c, agentId: string): Promise<void> =>
      c.vars.lock.run(async () => {
        requireInternal(c.conn.state);
        if (c.state.agentId !== agentId) return;
        c.state.agentId = null;
        const ctx = watcherCtx(c);
        await ctx.save();
        await publishWatcher(ctx);
      }),

    /** Scheduled (`c.schedule`): a slot came due. */
    fire: (c, generation: number, slotMs: number): Promise<void> =>
      c.vars.lock.run(async () => {
        requireInternalOrSchedule(c);
        await scheduled(c, "fire", () => fireSlot(watcherCtx(c), Number(generation), Number(slotMs)));
      }),

    /** Scheduled: a claimed run's lease may have expired. */
    checkLease: (c, runId: string): Promise<void> =>
      c.vars.lock.run(async () => {
        requireInternalOrSchedule(c);
        await scheduled(c, "check-lease", () => checkLease(watcherCtx(c), String(runId)));
      }),

    /** Scheduled: offers a still-pending run to its device again (idempotent). */
    redeliver: (c, runId: string): Promise<void> =>
      c.vars.lock.run(async () => {
        requireInternalOrSchedule(c);
        await scheduled(c, "redeliver", () => redeliver(watcherCtx(c), String(runId)));
      }),
  },
});

/**
 * RivetKit 2.2.1's file-system driver cancels an actor's alarm when the actor goes to sleep (after
 * 30 s idle) and only reloads alarms at process start, so a sleeping watcher would miss its slot.
 * An active watcher therefore stays awake; an archived one has no schedule and may sleep.
 */
function stayAwakeWhileScheduled(c: { state: WatcherState; setPreventSleep(prevent: boolean): void }): void {
  c.setPreventSleep(c.state.status === "active");
}

interface WatcherActionContext {
  state: WatcherState;
  actorId: string;
  schedule: WatcherCtx["schedule"];
  saveState(opts: { immediate: boolean }): Promise<void>;
  client<R>(): unknown;
}

/** The pieces of an action context the run operations use. Every change is saved before it is acknowledged. */
function watcherCtx(c: WatcherActionContext): WatcherCtx {
  return {
    state: c.state,
    schedule: c.schedule,
    save: () => c.saveState({ immediate: true }),
    client: c.client<Registry>() as WatcherCtx["client"],
  };
}

/** A scheduled action has no caller to answer: its failure goes to the organization's runtime issues. */
async function scheduled(c: WatcherActionContext, step: string, run: () => Promise<void>): Promise<void> {
  try {
    await run();
  } catch (err) {
    await reportHandledFailure(
      watcherCtx(c).client,
      { orgId: c.state.orgId, actorType: "watcher", actorId: c.actorId, scope: `watcher:${c.state.watcherId}` },
      { workflow: "schedule", step, message: (err as Error).message ?? String(err) },
    );
  }
}
