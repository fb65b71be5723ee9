import { actor, event, UserError } from "rivetkit";
import { db } from "rivetkit/db/drizzle";
import { SessionEventsQuerySchema, type SessionEvent, type SessionSummary } from "../../shared/schemas/session.js";
import { ACTOR_ERRORS, authorizeOrgChild, parseInput, type Caller } from "../auth.js";
import { sandboxProvider } from "../sandbox/index.js";
import { schema } from "./db.js";
import { migrations } from "./migrations.js";
import { closeSession, provisionInBackground } from "./provision.js";
import { changed, createTaskSessionVars, initialSessionState, summarize, type TaskSessionInput, type TaskSessionState } from "./state.js";
import { transcriptPage } from "./transcript.js";
import { endLostTurn, startTurn } from "./turn.js";

export type { TaskSessionInput, TaskSessionState };

function requireInternal(caller: Caller): void {
  if (!caller.internal) throw new UserError("This action is internal to Kiln.", { code: ACTOR_ERRORS.forbidden });
}

/**
 * TaskSessionActor, key [..., "task", taskId, "session", sessionId]: one agent session in the
 * task's sandbox. It holds the session's status and its transcript (actor SQLite). A turn runs
 * outside any queue step: its events stream into the transcript and out to subscribers as they
 * arrive, and `stop` interrupts it. Status changes that await run under the session's lock.
 */
export const taskSession = actor({
  createState: (_c, input: TaskSessionInput | undefined): TaskSessionState => initialSessionState(input),
  createVars: createTaskSessionVars,
  createConnState: (c, params: unknown): Promise<Caller> => authorizeOrgChild(c.state.orgId, params, c),
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
    await c.vars.lock.run(async () => {
      if (s.status === "running") await endLostTurn(c, "pending_provision");
      else if (s.status !== "pending_provision" && s.status !== "closed") {
        s.status = "pending_provision";
        await changed(c);
      }
    });
    provisionInBackground(c);
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
      requireInternal(c.conn.state);
      if (c.state.started) return summarize(c.state);
      c.state.started = true;
      await c.saveState({ immediate: true });
      const summary = summarize(c.state);
      provisionInBackground(c);
      return summary;
    },

    /** Starts a turn and returns at once; the turn's events stream to subscribers. */
    sendMessage: (c, text: string): Promise<SessionSummary> => {
      const userId = c.conn.state.userId;
      if (!userId) throw new UserError("Messages are sent by a user.", { code: ACTOR_ERRORS.invalidRequest });
      if (typeof text !== "string" || !text.trim()) throw new UserError("A message needs text.", { code: ACTOR_ERRORS.invalidRequest });
      return c.vars.lock.run(() => startTurn(c, text, userId));
    },

    /**
     * Kiln-internal, for the SessionStatusSyncActor: whether a turn is running. A `running`
     * session whose turn no longer runs in this process is ended as interrupted.
     */
    syncStatus: async (c): Promise<{ running: boolean }> => {
      requireInternal(c.conn.state);
      if (c.state.status === "running" && c.vars.turn === null) await endLostTurn(c, "ready");
      return { running: c.state.status === "running" };
    },

    /** Interrupts the running turn; it ends with stop reason `cancelled`. */
    stop: async (c): Promise<SessionSummary> => {
      if (c.state.status === "running") await sandboxProvider(c.state.sandbox.provider).sessions?.cancel(c.state.sandbox, c.state.sessionId);
      return summarize(c.state);
    },

    /** The transcript, paged: events after `after` (an index), oldest first. */
    events: (c, query: unknown): Promise<{ events: SessionEvent[]; next: number | null }> => {
      const { after, limit } = parseInput(SessionEventsQuerySchema, query ?? {}, "Invalid transcript query.");
      return transcriptPage(c, after, limit);
    },

    /** Closes the session in the sandbox. Idempotent; waits for provisioning or a message being sent. */
    close: (c): Promise<SessionSummary> => c.vars.lock.run(() => closeSession(c)),
  },
});
