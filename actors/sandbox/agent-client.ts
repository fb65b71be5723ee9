import { isAbsolute, relative, resolve } from "node:path";
import { SandboxAgent, type Session } from "sandbox-agent";
import { createAcpFetch } from "./agent/acp-fetch.js";
import { SandboxError, type AgentSessionEvent, type AgentSessions, type ExecRequest, type ExecResult, type SandboxRef } from "./provider.js";

/** How to reach one sandbox's sandbox-agent server. */
export interface AgentEndpoint {
  baseUrl: string;
  token: string;
  /** Extra headers the route to the server needs (a Daytona preview token). */
  headers: Record<string, string>;
  /** The directory commands and sessions run in, inside the sandbox. */
  workdir: string;
}

/**
 * Everything Kiln does through a sandbox's sandbox-agent server once it answers: commands
 * through its process API, agent sessions through its session API. Shared by every provider
 * that runs sandbox-agent; the provider only says how to reach the server.
 */
export class SandboxAgentClients {
  private readonly clients = new Map<string, { baseUrl: string; agent: Promise<SandboxAgent> }>();
  /** Live agent sessions by Kiln session id. sandbox-agent keeps sessions in the client, so these are per process. */
  private readonly liveSessions = new Map<string, { sandboxId: string; session: Session; history: string | null }>();

  /** @param endpoint resolves a sandbox's server, starting it first when it is not running. */
  constructor(private readonly endpoint: (ref: SandboxRef) => Promise<AgentEndpoint>) {}

  private async client(ref: SandboxRef): Promise<{ sdk: SandboxAgent; ep: AgentEndpoint }> {
    const ep = await this.endpoint(ref);
    const cached = this.clients.get(ref.sandboxId);
    if (cached && cached.baseUrl === ep.baseUrl) return { sdk: await cached.agent, ep };
    // The ACP fetch wrapper makes a prompt fail fast when the agent or the server dies mid-turn,
    // instead of hanging and ending in an unhandled rejection (see docs/sandbox-agent.md).
    const agent = SandboxAgent.connect({
      baseUrl: ep.baseUrl,
      token: ep.token,
      headers: ep.headers,
      skipHealthCheck: true,
      fetch: createAcpFetch(),
    });
    this.clients.set(ref.sandboxId, { baseUrl: ep.baseUrl, agent });
    return { sdk: await agent, ep };
  }

  /** Drops the sandbox's client and sessions (its server stopped or was replaced). */
  forget(sandboxId: string): void {
    for (const [id, live] of this.liveSessions) if (live.sandboxId === sandboxId) this.liveSessions.delete(id);
    this.clients.delete(sandboxId);
  }

  async exec(ref: SandboxRef, req: ExecRequest): Promise<ExecResult> {
    const { sdk, ep } = await this.client(ref);
    const cwd = resolve(ep.workdir, req.cwd ?? ".");
    const rel = relative(ep.workdir, cwd);
    if (rel.startsWith("..") || isAbsolute(rel)) throw new SandboxError("command_failed", "The working directory must stay inside the sandbox.");
    const result = await sdk.runProcess({
      command: req.command,
      args: req.args,
      cwd,
      env: { GIT_TERMINAL_PROMPT: "0", ...req.env },
      timeoutMs: req.timeoutMs ?? 60_000,
    });
    if (result.timedOut) throw new SandboxError("command_timeout", `${req.command} ${req.args[0] ?? ""} timed out.`);
    return { exitCode: result.exitCode ?? 1, stdout: result.stdout, stderr: result.stderr };
  }

  readonly sessions: AgentSessions = {
    open: async (ref, opts) => {
      const { sdk, ep } = await this.client(ref);
      const session = await sdk.createSession({
        agent: opts.agent,
        cwd: resolve(ep.workdir, opts.cwd),
        ...(opts.model ? { model: opts.model } : {}),
      });
      this.liveSessions.set(opts.sessionId, { sandboxId: ref.sandboxId, session, history: opts.history ?? null });
    },
    prompt: async (_ref, sessionId, text, onEvent) => {
      const live = this.liveSessions.get(sessionId);
      if (!live) throw new SandboxError("sandbox_not_found", "This agent session is gone (Kiln restarted or the sandbox server was replaced); the next message re-opens it.");
      let lastEventAt = Date.now();
      const off = live.session.onEvent((e) => {
        lastEventAt = Date.now();
        onEvent(toAgentEvent(e));
      });
      try {
        const blocks = live.history ? [{ type: "text" as const, text: live.history }, { type: "text" as const, text }] : [{ type: "text" as const, text }];
        const result = await live.session.prompt(blocks);
        // Handed over once: the agent keeps it in its own context from here on.
        live.history = null;
        // The prompt's response and the agent's updates travel on different channels (POST
        // response vs event stream), so the last updates can land just after the response.
        const deadline = Date.now() + 1_000;
        while (Date.now() - lastEventAt < 60 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        return { stopReason: String(result.stopReason) };
      } finally {
        off();
      }
    },
    cancel: async (ref, sessionId) => {
      const live = this.liveSessions.get(sessionId);
      if (!live) return;
      const { sdk, ep } = await this.client(ref);
      const servers = await sdk.listAcpServers();
      // The SDK has no cancel; a raw ACP `session/cancel` ends the turn and keeps the session.
      for (const server of servers.servers) {
        await fetch(`${ep.baseUrl}/v1/acp/${encodeURIComponent(server.serverId)}`, {
          method: "POST",
          headers: { ...ep.headers, authorization: `Bearer ${ep.token}`, "content-type": "application/json", accept: "application/json" },
          body: JSON.stringify({ jsonrpc: "2.0", method: "session/cancel", params: { sessionId: live.session.agentSessionId } }),
        });
      }
    },
    isLive: (sessionId) => this.liveSessions.has(sessionId),
    forget: (sessionId) => void this.liveSessions.delete(sessionId),
    close: async (ref, sessionId) => {
      const live = this.liveSessions.get(sessionId);
      this.liveSessions.delete(sessionId);
      if (!live) return;
      const { sdk } = await this.client(ref);
      await sdk.destroySession(live.session.id).catch(() => undefined);
    },
  };
}

/** GET /v1/health on a sandbox-agent server: whether it answers, and why not. */
export async function agentHealth(baseUrl: string, token: string, headers: Record<string, string> = {}): Promise<{ ok: true } | { ok: false; error: string }> {
  try {
    const res = await fetch(`${baseUrl}/v1/health`, {
      headers: { ...headers, authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(2_000),
    });
    return res.ok ? { ok: true } : { ok: false, error: `GET /v1/health answered ${res.status}` };
  } catch (err) {
    return { ok: false, error: (err as Error).message };
  }
}

interface RawSessionEvent {
  sender: string;
  createdAt: number | string;
  payload: unknown;
}

function toAgentEvent(e: RawSessionEvent): AgentSessionEvent {
  const payload = e.payload as { method?: string; params?: { update?: { sessionUpdate?: string; content?: { text?: string } } } };
  const update = payload?.params?.update;
  return {
    sender: e.sender === "client" ? "client" : "agent",
    kind: update?.sessionUpdate ?? payload?.method ?? "response",
    text: update?.content?.text ?? null,
    payload: e.payload,
    at: new Date(typeof e.createdAt === "number" ? e.createdAt : Date.parse(e.createdAt)).toISOString(),
  };
}
