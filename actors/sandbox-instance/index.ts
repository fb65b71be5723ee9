import { actor, UserError } from "rivetkit";
import { ACTOR_ERRORS, authorizeOrgChild, type Caller } from "../auth.js";
import { lockVars, type ActorLock } from "../lock.js";
import { sandboxProvider } from "../sandbox/index.js";
import { SandboxError, type ExecRequest, type ExecResult, type SandboxRef } from "../sandbox/provider.js";

export interface SandboxInstanceInput {
  orgId: string;
  provider: string;
  sandboxId: string;
}

export type SandboxStatus = "new" | "running" | "stopped" | "deleted" | "error";

export interface SandboxInstanceState {
  orgId: string | null;
  provider: string;
  sandboxId: string;
  status: SandboxStatus;
  /** Where the in-sandbox server answers, when the provider has one. Never includes its token. */
  endpoint: string | null;
  lastError: { code: string; message: string; at: string } | null;
  createdAt: string;
  updatedAt: string;
}

/** What members may see of a sandbox. */
export type SandboxSummary = Omit<SandboxInstanceState, "orgId"> & { orgId: string };

function requireInternal(caller: Caller): void {
  if (!caller.internal) throw new UserError("This action is internal to Kiln.", { code: ACTOR_ERRORS.forbidden });
}

/** Provider failures keep their stable code across the actor boundary. */
function asUserError(err: unknown): UserError {
  if (err instanceof SandboxError) return new UserError(err.message, { code: err.code });
  return new UserError((err as Error).message ?? String(err), { code: "sandbox_failed" });
}

/**
 * SandboxInstanceActor, key ["org", orgId, "sandbox", providerId, sandboxId]: owns one sandbox's
 * lifecycle through its provider (create, start, ensure the server, exec, stop, delete). Tasks
 * reference it by identity and never own it. Every operation runs under its lock, so two callers
 * never start (or stop and start) one sandbox's server at once.
 */
export const sandboxInstance = actor({
  createState: (_c, input: SandboxInstanceInput | undefined): SandboxInstanceState => {
    const now = new Date().toISOString();
    return {
      orgId: input?.orgId ?? null,
      provider: input?.provider ?? "",
      sandboxId: input?.sandboxId ?? "",
      status: "new",
      endpoint: null,
      lastError: null,
      createdAt: now,
      updatedAt: now,
    };
  },
  createConnState: (c, params: unknown): Promise<Caller> => authorizeOrgChild(c.state.orgId, params, c),
  createVars: lockVars,
  // Cloud control planes are slow (a Daytona sandbox settles for up to 40 s in one call); providers
  // answer `not_ready` rather than wait longer, so this bounds one call, not a whole provisioning.
  options: { actionTimeout: 150_000 },
  actions: {
    describe: (c): SandboxSummary => ({ ...c.state, orgId: c.state.orgId ?? "" }),

    /** Kiln-internal: allocates the sandbox. Idempotent. */
    create: async (c): Promise<SandboxSummary> => {
      requireInternal(c.conn.state);
      await run(c, async (provider, ref) => {
        if (c.state.status === "deleted") throw new SandboxError("sandbox_not_found", "This sandbox was deleted.");
        await provider.create({ orgId: c.state.orgId ?? "", sandboxId: ref.sandboxId });
        if (c.state.status === "new") c.state.status = "stopped";
      });
      return { ...c.state, orgId: c.state.orgId ?? "" };
    },

    /** Kiln-internal: starts the sandbox (native control plane only). */
    start: async (c): Promise<SandboxSummary> => {
      requireInternal(c.conn.state);
      await run(c, async (provider, ref) => {
        if (c.state.status === "deleted") throw new SandboxError("sandbox_not_found", "This sandbox was deleted.");
        await provider.start(ref);
      });
      return { ...c.state, orgId: c.state.orgId ?? "" };
    },

    /**
     * Kiln-internal: makes sure the sandbox runs and its server answers, starting or restarting
     * it when needed (a crashed server comes back here). Returns the endpoint.
     */
    ensure: async (c): Promise<SandboxSummary> => {
      requireInternal(c.conn.state);
      await run(c, async (provider, ref) => {
        if (c.state.status === "deleted") throw new SandboxError("sandbox_not_found", "This sandbox was deleted.");
        await provider.start(ref);
        const { endpoint } = await provider.ensureServer(ref);
        c.state.endpoint = endpoint;
        c.state.status = "running";
      });
      return { ...c.state, orgId: c.state.orgId ?? "" };
    },

    /** Kiln-internal: runs a command inside the sandbox (sandbox-agent's process API on real providers). */
    exec: async (c, req: ExecRequest): Promise<ExecResult> => {
      requireInternal(c.conn.state);
      let result: ExecResult | undefined;
      await run(c, async (provider, ref) => {
        result = await provider.exec(ref, req);
      });
      return result as ExecResult;
    },

    stop: async (c): Promise<SandboxSummary> => {
      requireInternal(c.conn.state);
      await run(c, async (provider, ref) => {
        if (c.state.status === "deleted") return;
        await provider.stop(ref);
        c.state.status = "stopped";
        c.state.endpoint = null;
      });
      return { ...c.state, orgId: c.state.orgId ?? "" };
    },

    /** Kiln-internal: records that the sandbox's server is gone (stopped after a Kiln restart); `ensure` restarts it. */
    markStopped: async (c): Promise<void> => {
      requireInternal(c.conn.state);
      await c.vars.lock.run(async () => {
        if (c.state.status !== "running") return;
        c.state.status = "stopped";
        c.state.endpoint = null;
        c.state.updatedAt = new Date().toISOString();
        await c.saveState({ immediate: true });
      });
    },

    /** Kiln-internal: deletes the sandbox for good. Idempotent. */
    destroy: async (c): Promise<SandboxSummary> => {
      requireInternal(c.conn.state);
      await run(c, async (provider, ref) => {
        await provider.destroy(ref);
        c.state.status = "deleted";
        c.state.endpoint = null;
      });
      return { ...c.state, orgId: c.state.orgId ?? "" };
    },
  },
});

interface RunContext {
  state: SandboxInstanceState;
  vars: { lock: ActorLock };
  saveState(opts: { immediate: boolean }): Promise<void>;
}

/** Runs one provider operation under the sandbox's lock, recording its failure (with its stable code) on the sandbox. */
function run(c: RunContext, op: (provider: ReturnType<typeof sandboxProvider>, ref: SandboxRef) => Promise<void>): Promise<void> {
  return c.vars.lock.run(() => runOperation(c, op));
}

async function runOperation(c: RunContext, op: (provider: ReturnType<typeof sandboxProvider>, ref: SandboxRef) => Promise<void>): Promise<void> {
  const ref: SandboxRef = { provider: c.state.provider, sandboxId: c.state.sandboxId };
  // Health checks call `ensure` often; an operation that changed nothing writes nothing.
  const before = JSON.stringify({ ...c.state, updatedAt: null });
  try {
    await op(sandboxProvider(ref.provider), ref);
    c.state.lastError = null;
  } catch (err) {
    const e = err instanceof SandboxError ? err : new SandboxError("command_failed", (err as Error).message ?? String(err));
    // "Not ready yet" is progress, not a failure.
    if (e.code !== "not_ready") c.state.lastError = { code: e.code, message: e.message, at: new Date().toISOString() };
    throw asUserError(err);
  } finally {
    if (JSON.stringify({ ...c.state, updatedAt: null }) !== before) {
      c.state.updatedAt = new Date().toISOString();
      await c.saveState({ immediate: true });
    }
  }
}
