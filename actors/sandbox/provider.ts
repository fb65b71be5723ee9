import type { SandboxErrorCode } from "../../shared/errors.js";
import type { ProviderId } from "../../shared/providers.js";

/**
 * The sandbox provider interface every provider implements: `local` (a real sandbox-agent
 * process), `local-git` (an in-process stand-in), `daytona` and `render` (cloud workers only).
 * Control-plane operations are native to the provider; once a sandbox exists, commands run
 * through `exec` (sandbox-agent's process API on real providers). Operations never block for
 * long: one still settling throws `not_ready`, and the caller's durable workflow asks again.
 */
export interface SandboxRef {
  provider: string;
  sandboxId: string;
}

export interface ExecRequest {
  command: string;
  args: string[];
  /** Relative to the sandbox root; must stay inside it. */
  cwd?: string;
  timeoutMs?: number;
  env?: Record<string, string>;
}

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** Stable codes for provisioning failures, shared by all providers; each maps to an HTTP status in `shared/errors.ts`. */
export type { SandboxErrorCode };

export class SandboxError extends Error {
  constructor(
    readonly code: SandboxErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "SandboxError";
  }
}

/** One event of an agent session as sandbox-agent reports it: the raw ACP message plus what Kiln reads from it. */
export interface AgentSessionEvent {
  sender: "client" | "agent";
  /** The ACP update kind (`agent_message_chunk`, `tool_call`…) or JSON-RPC method. */
  kind: string;
  /** Text of a message chunk, when the event carries one. */
  text: string | null;
  payload: unknown;
  at: string;
}

/** Agent sessions through the in-sandbox server's session API. */
export interface AgentSessions {
  /** `history`, when given, goes in front of the session's first prompt (see agent/history.ts). */
  open(ref: SandboxRef, opts: { sessionId: string; agent: string; model?: string; cwd: string; history?: string | null }): Promise<void>;
  /** Runs one turn, calling `onEvent` as events stream in. Resolves with the ACP stop reason. */
  prompt(ref: SandboxRef, sessionId: string, text: string, onEvent: (e: AgentSessionEvent) => void): Promise<{ stopReason: string }>;
  cancel(ref: SandboxRef, sessionId: string): Promise<void>;
  close(ref: SandboxRef, sessionId: string): Promise<void>;
  /** Drops the agent session from this process without reaching the server (it may be down); the next `open` starts afresh. */
  forget(sessionId: string): void;
  /** Whether this process holds the live agent session (sandbox-agent keeps sessions in its client). */
  isLive(sessionId: string): boolean;
}

export interface SandboxProvider {
  readonly id: ProviderId;
  /** Allocates the sandbox. Idempotent for the same id. */
  create(input: { orgId: string; sandboxId: string }): Promise<SandboxRef>;
  start(ref: SandboxRef): Promise<void>;
  /** Makes sure the in-sandbox server answers; returns its endpoint when it has one. */
  ensureServer(ref: SandboxRef): Promise<{ endpoint: string | null }>;
  exec(ref: SandboxRef, req: ExecRequest): Promise<ExecResult>;
  stop(ref: SandboxRef): Promise<void>;
  /** Deletes the sandbox and everything in it. Idempotent. */
  destroy(ref: SandboxRef): Promise<void>;
  /** Present on providers that run sandbox-agent. */
  readonly sessions?: AgentSessions;
}
