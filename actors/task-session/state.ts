import type { SqliteRemoteDatabase } from "drizzle-orm/sqlite-proxy";
import type { SessionEvent, SessionStatus, SessionSummary } from "../../shared/schemas/session.js";
import { ActorLock } from "../lock.js";
import { nextRevision } from "../revision.js";
import type { SandboxRef } from "../sandbox/provider.js";
import type { schema } from "./db.js";

/** Given by the TaskActor's `openSession`; clients never create sessions directly. */
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
  /** Of the session's summary (`actors/revision.ts`), bumped by every status change; absent in older state. */
  revision?: number;
}

/**
 * What this process knows about the session and nothing else does: it is lost with the process
 * (or when the actor sleeps), which is exactly what the restart logic relies on.
 */
export interface TaskSessionVars {
  /** Status changes that await (provisioning, sending, closing) run one at a time. */
  lock: ActorLock;
  /** The turn running in this process. A `running` session without one has lost its turn. */
  turn: symbol | null;
  /** Background work (provisioning, a turn) in progress: the actor stays awake while any runs. */
  backgroundWork: number;
}

export function createTaskSessionVars(): TaskSessionVars {
  return { lock: new ActorLock(), turn: null, backgroundWork: 0 };
}

export function initialSessionState(input: TaskSessionInput | undefined): TaskSessionState {
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
}

export function summarize(s: TaskSessionState): SessionSummary {
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
    revision: s.revision ?? 0,
  };
}

/** What the session's actions, its `run` hook and its background work share of the actor context. */
export interface SessionContext {
  state: TaskSessionState;
  vars: TaskSessionVars;
  db: SqliteRemoteDatabase<typeof schema>;
  broadcast(name: "sessionUpdated", s: SessionSummary): void;
  broadcast(name: "sessionEvent", e: SessionEvent): void;
  saveState(opts: { immediate: boolean }): Promise<void>;
  setPreventSleep(prevent: boolean): void;
  readonly actorId: string;
  client(): unknown;
}

/** Persists a status change before anyone hears of it, then tells subscribers. */
export async function changed(c: SessionContext): Promise<void> {
  c.state.updatedAt = new Date().toISOString();
  c.state.revision = nextRevision(c.state.revision);
  await c.saveState({ immediate: true });
  c.broadcast("sessionUpdated", summarize(c.state));
}
