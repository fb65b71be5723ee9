import { asc, count, gt, inArray } from "drizzle-orm";
import { actor, event, UserError, type Client } from "rivetkit";
import type { SqliteRemoteDatabase } from "drizzle-orm/sqlite-proxy";
import { db } from "rivetkit/db/drizzle";
import type { SessionEvent, SessionStatus, SessionSummary } from "../../shared/schemas/session.js";
import { ACTOR_ERRORS, authorizeOrgChild, internalParams, type Caller } from "../auth.js";
import { keys } from "../../shared/keys.js";
import type { Registry } from "../registry.js";
import { buildHistory, type HistoryTurn } from "../sandbox/agent/history.js";
import { WORKDIR } from "../sandbox/git.js";
import { sandboxProvider } from "../sandbox/index.js";
import type { AgentSessionEvent, SandboxRef } from "../sandbox/provider.js";
import { actorLog } from "../services.js";
import { events, schema } from "./db.js";
import { migrations } from "./migrations.js";

export interface TaskSessionInput {
  orgId: string;
  repoId: string;
  taskId: string;
  sessionId: string;
  name: string;
  agent: string;
  model: string | null;
  sandbox: SandboxRef;
  createdBy: string;
}

export interface TaskSessionState extends Omit<TaskSessionInput, "orgId"> {
  orgId: string | null;
  /** Set by `start`: only a started session has anything to recover after a restart. */
  started: boolean;
  status: SessionStatus;
  message: string | null;
  turn: { startedBy: string; startedAt: string } | null;
  lastStopReason: string | null;
  eventCount: number;
  createdAt: string;
  updatedAt: string;
}

/**
 * Sessions being provisioned by this process. A process-local guard: `run` (which also runs on
 * first start) and `start` both begin provisioning, and it must run once.
 */
const provisioning = new Set<string>();

/**
 * Turns running in this process, by session actor id. A `running` session missing here has lost
 * its turn. Each turn has its own token, so a finished turn's cleanup never removes the next one.
 */
const turnsInProcess = new Map<string, symbol>();

function conflict(message: string): UserError {
  return new UserError(message, { code: ACTOR_ERRORS.conflict });
}

/**
 * TaskSessionActor, key [..., "task", taskId, "session", sessionId]: one agent session in the
 * task's sandbox. It holds the session's status and its transcript (actor SQLite). A turn runs
 * outside any queue step: its events stream into the transcript and out to subscribers as they
 * arrive, and `stop` interrupts it.
 */
export const taskSession = actor({
  createState: (_c, input: TaskSessionInput | undefined): TaskSessionState => {
    const now = new Date().toISOString();
    return {
      orgId: input?.orgId ?? null,
      repoId: input?.repoId ?? "",
      taskId: input?.taskId ?? "",
      sessionId: input?.sessionId ?? "",
      name: input?.name ?? "",
      agent: input?.agent ?? "mock",
      model: input?.model ?? null,
      sandbox: input?.sandbox ?? { provider: "", sandboxId: "" },
      createdBy: input?.createdBy ?? "",
      started: false,
      status: "pending_provision",
      message: null,
      turn: null,
      lastStopReason: null,
      eventCount: 0,
      createdAt: now,
      updatedAt: now,
    };
  },
  createConnState: (c, params: unknown): Promise<Caller> => authorizeOrgChild(c.state.orgId, params),
  db: db({ schema, migrations }),
  /**
   * After a Kiln restart the agent session (held by sandbox-agent's client) and any running
   * turn are gone. Record the interrupted turn, then open a fresh agent session; the
   * transcript stays. Nothing is left `running` or pending forever. This runs once the actor
   * has started (`run` does not block startup, unlike `onWake`).
   */
  run: async (c): Promise<void> => {
    const s = c.state;
    if (!s.orgId || !s.started || s.status === "closed" || s.status === "error") return;
    if (sandboxProvider(s.sandbox.provider).sessions?.isLive(s.sessionId)) return;
    if (s.status === "running") await endLostTurn(c, "pending_provision");
    else {
      s.status = "pending_provision";
      await changed(c);
    }
    provisionSession(c, c.actorId).catch((err) => actorLog().warn({ err }, "session provisioning could not be recorded"));
  },
  events: {
    sessionUpdated: event<SessionSummary>(),
    /** One transcript event, as it arrives. */
    sessionEvent: event<SessionEvent>(),
  },
  actions: {
    view: (c): SessionSummary => summarize(c.state),

    /** Kiln-internal: provisions the agent session in the background; the caller does not wait. */
    start: async (c): Promise<SessionSummary> => {
      if (!c.conn.state.internal) throw new UserError("This action is internal to Kiln.", { code: ACTOR_ERRORS.forbidden });
      if (c.state.started) return summarize(c.state);
      c.state.started = true;
      await c.saveState({ immediate: true });
      const summary = summarize(c.state);
      if (c.state.status === "pending_provision") provisionSession(c, c.actorId).catch((err) => actorLog().warn({ err }, "session provisioning could not be recorded"));
      return summary;
    },

    /** Starts a turn and returns at once; the turn's events stream to subscribers. */
    sendMessage: async (c, text: string): Promise<SessionSummary> => {
      const userId = c.conn.state.userId;
      if (!userId) throw new UserError("Messages are sent by a user.", { code: ACTOR_ERRORS.invalidRequest });
      if (typeof text !== "string" || !text.trim()) throw new UserError("A message needs text.", { code: ACTOR_ERRORS.invalidRequest });
      if (c.state.status === "running") throw conflict("A turn is already running; stop it or wait for it to finish.");
      if (c.state.status !== "ready") throw conflict(`The session is not ready (it is ${c.state.status.replace(/_/g, " ")}).`);
      c.state.status = "running";
      c.state.turn = { startedBy: userId, startedAt: new Date().toISOString() };
      await record(c, { sender: "user", kind: "user_message", text, payload: null, at: c.state.turn.startedAt });
      await changed(c);
      const actorId = c.actorId;
      const turn = Symbol("turn");
      turnsInProcess.set(actorId, turn);
      runTurn(c, text, userId)
        .catch((err) => actorLog().warn({ err, sessionId: c.state.sessionId }, "turn ended without being recorded"))
        .finally(() => {
          if (turnsInProcess.get(actorId) === turn) turnsInProcess.delete(actorId);
        });
      // The status sync watches while the turn runs; enqueued without waiting, the send awaited.
      const s = c.state;
      await c
        .client<Registry>()
        .sessionStatusSync.getOrCreate(keys.statusSync(s.orgId ?? "", s.repoId, s.taskId, s.sessionId), {
          params: internalParams(),
          createWithInput: { orgId: s.orgId ?? "", repoId: s.repoId, taskId: s.taskId, sessionId: s.sessionId },
        })
        .send("watch", {}, { wait: false });
      return summarize(c.state);
    },

    /**
     * Kiln-internal, for the SessionStatusSyncActor: whether a turn is running. A `running`
     * session whose turn no longer runs in this process is ended as interrupted.
     */
    syncStatus: async (c): Promise<{ running: boolean }> => {
      if (!c.conn.state.internal) throw new UserError("This action is internal to Kiln.", { code: ACTOR_ERRORS.forbidden });
      if (c.state.status === "running" && !turnsInProcess.has(c.actorId)) await endLostTurn(c, "ready");
      return { running: c.state.status === "running" };
    },

    /** Interrupts the running turn; it ends with stop reason `cancelled`. */
    stop: async (c): Promise<SessionSummary> => {
      if (c.state.status === "running") await sandboxProvider(c.state.sandbox.provider).sessions?.cancel(c.state.sandbox, c.state.sessionId);
      return summarize(c.state);
    },

    /** The transcript, paged: events after `after` (an index), oldest first. */
    events: async (c, query: { after: number; limit: number }): Promise<{ events: SessionEvent[]; next: number | null }> => {
      const limit = Math.min(Math.max(1, Math.floor(query.limit)), 1000);
      const rows = await c.db.select().from(events).where(gt(events.index, Math.max(0, Math.floor(query.after)))).orderBy(asc(events.index)).limit(limit + 1);
      const page = rows.slice(0, limit).map(toSessionEvent);
      return { events: page, next: rows.length > limit ? (page.at(-1)?.index ?? null) : null };
    },

    /** Closes the session in the sandbox. Idempotent. */
    close: async (c): Promise<SessionSummary> => {
      if (c.state.status === "closed") return summarize(c.state);
      const sessions = sandboxProvider(c.state.sandbox.provider).sessions;
      if (c.state.status === "running") await sessions?.cancel(c.state.sandbox, c.state.sessionId);
      await sessions?.close(c.state.sandbox, c.state.sessionId);
      c.state.status = "closed";
      c.state.turn = null;
      await changed(c);
      return summarize(c.state);
    },
  },
});

type SessionRow = typeof events.$inferSelect;

function toSessionEvent(r: SessionRow): SessionEvent {
  return { index: r.index, sender: r.sender as SessionEvent["sender"], kind: r.kind, text: r.text, payload: r.payload ?? null, at: r.at };
}

function summarize(s: TaskSessionState): SessionSummary {
  return {
    id: s.sessionId,
    taskId: s.taskId,
    name: s.name,
    agent: s.agent,
    model: s.model,
    status: s.status,
    message: s.message,
    turn: s.turn,
    lastStopReason: s.lastStopReason,
    eventCount: s.eventCount,
    createdBy: s.createdBy,
    createdAt: s.createdAt,
    updatedAt: s.updatedAt,
  };
}

interface SessionContext {
  state: TaskSessionState;
  db: SqliteRemoteDatabase<typeof schema>;
  broadcast(name: "sessionUpdated", s: SessionSummary): void;
  broadcast(name: "sessionEvent", e: SessionEvent): void;
  saveState(opts: { immediate: boolean }): Promise<void>;
  setPreventSleep(prevent: boolean): void;
  readonly actorId: string;
  client(): unknown;
}

async function record(c: SessionContext, e: Omit<SessionRow, "index">): Promise<void> {
  const [row] = await c.db.insert(events).values(e).returning({ index: events.index });
  c.state.eventCount += 1;
  c.broadcast("sessionEvent", { ...e, index: row?.index ?? c.state.eventCount, sender: e.sender as SessionEvent["sender"], payload: e.payload ?? null });
}

/**
 * Ends a turn whose runner is gone. The status flips before the first await, so the two places
 * that notice (the restart hook and the status sync) can never both record it.
 */
async function endLostTurn(c: SessionContext, next: SessionStatus): Promise<void> {
  if (c.state.status !== "running") return;
  c.state.status = next;
  c.state.turn = null;
  c.state.lastStopReason = "interrupted";
  await record(c, { sender: "kiln", kind: "turn_ended", text: "interrupted", payload: { stopReason: "interrupted" }, at: new Date().toISOString() });
  await changed(c);
}

async function changed(c: SessionContext): Promise<void> {
  c.state.updatedAt = new Date().toISOString();
  await c.saveState({ immediate: true });
  c.broadcast("sessionUpdated", summarize(c.state));
}

function kilnClient(c: SessionContext) {
  return c.client() as Client<Registry>;
}

function provisionSession(c: SessionContext, actorId: string): Promise<void> {
  return awake(c, () => openAgentSession(c, actorId));
}

async function openAgentSession(c: SessionContext, actorId: string): Promise<void> {
  if (provisioning.has(actorId)) return;
  provisioning.add(actorId);
  const s = c.state;
  try {
    const client = kilnClient(c);
    await client.sandboxInstance.get(keys.sandbox(s.orgId ?? "", s.sandbox.provider, s.sandbox.sandboxId), { params: internalParams() }).ensure();
    s.status = "pending_session_create";
    await changed(c);
    const sessions = sandboxProvider(s.sandbox.provider).sessions;
    if (!sessions) throw new Error(`Sandbox provider ${s.sandbox.provider} has no agent sessions; use the local provider.`);
    // A session re-opened on a fresh agent (after a restart) gets its earlier turns back.
    const history = s.eventCount > 0 ? buildHistory(await transcriptTurns(c)) : null;
    await sessions.open(s.sandbox, { sessionId: s.sessionId, agent: s.agent, model: s.model ?? undefined, cwd: WORKDIR, history });
    s.status = "ready";
    s.message = null;
  } catch (err) {
    s.status = "error";
    s.message = `Opening the ${s.agent} session failed: ${(err as Error).message}`;
    actorLog().warn({ err, sessionId: s.sessionId }, "session provisioning failed");
  } finally {
    provisioning.delete(actorId);
  }
  await changed(c);
}

/** The transcript as conversation turns: each user message, and the agent's text chunks joined per reply. */
async function transcriptTurns(c: SessionContext): Promise<HistoryTurn[]> {
  const rows = await c.db
    .select({ kind: events.kind, text: events.text })
    .from(events)
    .where(inArray(events.kind, ["user_message", "agent_message_chunk"]))
    .orderBy(asc(events.index));
  const turns: HistoryTurn[] = [];
  for (const row of rows) {
    const role = row.kind === "user_message" ? "user" : "assistant";
    const last = turns.at(-1);
    if (role === "assistant" && last?.role === "assistant") last.text += row.text ?? "";
    else turns.push({ role, text: row.text ?? "" });
  }
  return turns;
}

/** Background work in progress, by session actor id. */
const backgroundWork = new Map<string, number>();

/** Background work keeps its actor awake: an idle actor sleeps after 30 s, and a turn can run longer. */
async function awake<T>(c: SessionContext, work: () => Promise<T>): Promise<T> {
  const id = c.actorId;
  backgroundWork.set(id, (backgroundWork.get(id) ?? 0) + 1);
  c.setPreventSleep(true);
  try {
    return await work();
  } finally {
    const left = (backgroundWork.get(id) ?? 1) - 1;
    if (left > 0) backgroundWork.set(id, left);
    else {
      backgroundWork.delete(id);
      c.setPreventSleep(false);
    }
  }
}

function runTurn(c: SessionContext, text: string, userId: string): Promise<void> {
  return awake(c, () => turn(c, text, userId));
}

async function turn(c: SessionContext, text: string, userId: string): Promise<void> {
  const s = c.state;
  let writes = Promise.resolve();
  const onEvent = (e: AgentSessionEvent) => {
    // Keep the transcript in arrival order while the turn streams.
    writes = writes.then(() => record(c, { sender: e.sender, kind: e.kind, text: e.text, payload: e.payload, at: e.at })).catch(() => undefined);
  };
  let stopReason = "error";
  try {
    const sessions = sandboxProvider(s.sandbox.provider).sessions;
    if (!sessions) throw new Error(`Sandbox provider ${s.sandbox.provider} has no agent sessions.`);
    stopReason = (await sessions.prompt(s.sandbox, s.sessionId, text, onEvent)).stopReason;
    s.message = null;
  } catch (err) {
    s.message = `The turn failed: ${(err as Error).message}`;
  }
  await writes;
  await record(c, { sender: "kiln", kind: "turn_ended", text: stopReason, payload: { stopReason }, at: new Date().toISOString() });
  s.lastStopReason = stopReason;
  s.turn = null;
  if (s.status === "running") s.status = s.message && stopReason === "error" ? "error" : "ready";
  await changed(c);
  try {
    const client = kilnClient(c);
    await client.task
      .get(keys.task(s.orgId ?? "", s.repoId, s.taskId), { params: internalParams() })
      .turnFinished(s.sessionId, userId);
  } catch (err) {
    actorLog().warn({ err, sessionId: s.sessionId }, "could not tell the task a turn finished");
  }
}
