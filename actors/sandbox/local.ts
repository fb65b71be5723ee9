import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, openSync, closeSync, readdirSync, readFileSync, statSync } from "node:fs";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { dirname, isAbsolute, join, relative, resolve } from "node:path";
import { SandboxAgent, type Session } from "sandbox-agent";
import { createAcpFetch } from "./agent/acp-fetch.js";
import { installMockAgent } from "./agent/install.js";
import {
  SandboxError,
  type AgentSessionEvent,
  type AgentSessions,
  type ExecRequest,
  type ExecResult,
  type SandboxProvider,
  type SandboxRef,
} from "./provider.js";

const SAFE_ID = /^[A-Za-z0-9_-]{1,80}$/;
const HEALTH_TIMEOUT_MS = 20_000;

/** The sandbox-agent binary shipped by `@sandbox-agent/cli` for this platform. */
export function sandboxAgentBinary(): string {
  const override = process.env.KILN_SANDBOX_AGENT_BIN;
  if (override) return override;
  try {
    const pkg = createRequire(import.meta.url).resolve(`@sandbox-agent/cli-${process.platform}-${process.arch}/package.json`);
    return join(dirname(pkg), "bin", "sandbox-agent");
  } catch {
    return `@sandbox-agent/cli-${process.platform}-${process.arch}/bin/sandbox-agent`;
  }
}

/** Written next to each sandbox: how to reach its server. The token never leaves the provider. */
interface ServerMeta {
  orgId: string;
  token: string;
  port: number | null;
  pid: number | null;
}

/**
 * Server processes this Kiln started, by sandbox id. These are process handles, which exist only
 * in the process that spawned them; the facts (port, pid) are also written to each sandbox's
 * meta file, which is how a restarted Kiln finds and stops servers it no longer holds.
 */
const running = new Map<string, ChildProcess>();

/** Whether `pid` is this sandbox's server: its command line carries the sandbox's own token, so a recycled pid never matches. */
function isSandboxServer(pid: number, token: string): boolean {
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
    return cmdline.includes("sandbox-agent") && cmdline.includes(token);
  } catch {
    return false;
  }
}

function killPid(pid: number, signal: NodeJS.Signals = "SIGTERM"): void {
  try {
    process.kill(pid, signal);
  } catch {
    // Already gone.
  }
}

async function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const srv = createServer();
    srv.once("error", fail);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      srv.close(() => (addr && typeof addr === "object" ? done(addr.port) : fail(new Error("no port"))));
    });
  });
}

function tail(path: string, chars = 600): string {
  try {
    return readFileSync(path, "utf8").slice(-chars).trim();
  } catch {
    return "";
  }
}

/**
 * The `local` provider: one real `sandbox-agent server` process per sandbox, each with its own
 * directory, free port on 127.0.0.1, XDG_DATA_HOME (where Kiln's scripted `mock` agent is
 * installed) and token. Once a sandbox exists, every command goes through sandbox-agent's
 * process API.
 */
export class LocalSandboxAgentProvider implements SandboxProvider {
  readonly id = "local";
  private readonly clients = new Map<string, { port: number; agent: Promise<SandboxAgent> }>();
  /** Live agent sessions by Kiln session id. sandbox-agent keeps sessions in the client, so these are per process. */
  private readonly liveSessions = new Map<string, { sandboxId: string; session: Session }>();

  /**
   * @param agentEnv credentials for real agents. Agents inherit the server's environment, so the
   * server gets these and nothing else of Kiln's (no auth secret, no database URL).
   */
  constructor(
    private readonly root: string,
    private readonly agentEnv: Record<string, string> = {},
  ) {}

  private dir(ref: SandboxRef): string {
    if (!SAFE_ID.test(ref.sandboxId)) throw new SandboxError("sandbox_not_found", `Invalid sandbox id ${ref.sandboxId}.`);
    return join(this.root, ref.sandboxId);
  }

  /** The directory commands run in; the task's working copy sits inside it. */
  workdir(ref: SandboxRef): string {
    return join(this.dir(ref), "work");
  }

  private async meta(ref: SandboxRef): Promise<ServerMeta> {
    try {
      return JSON.parse(await readFile(join(this.dir(ref), "server.json"), "utf8")) as ServerMeta;
    } catch {
      throw new SandboxError("sandbox_not_found", `Sandbox ${ref.sandboxId} does not exist.`);
    }
  }

  private async writeMeta(ref: SandboxRef, meta: ServerMeta): Promise<void> {
    await writeFile(join(this.dir(ref), "server.json"), JSON.stringify(meta), { mode: 0o600 });
  }

  async create(input: { orgId: string; sandboxId: string }): Promise<SandboxRef> {
    const ref = { provider: this.id, sandboxId: input.sandboxId };
    const dir = this.dir(ref);
    try {
      await mkdir(join(dir, "work"), { recursive: true });
      await mkdir(join(dir, "xdg"), { recursive: true });
      if (!existsSync(join(dir, "server.json"))) {
        // Hex, so a token can never start with "-" and be read as a flag.
        await this.writeMeta(ref, { orgId: input.orgId, token: randomBytes(24).toString("hex"), port: null, pid: null });
      }
      await installMockAgent(join(dir, "xdg"));
    } catch (err) {
      throw new SandboxError("create_failed", `Could not create the sandbox: ${(err as Error).message}`);
    }
    return ref;
  }

  async start(ref: SandboxRef): Promise<void> {
    await this.meta(ref);
  }

  /** Starts the server unless this Kiln's process for it is alive and healthy; a crashed one is replaced. */
  async ensureServer(ref: SandboxRef): Promise<{ endpoint: string | null }> {
    const meta = await this.meta(ref);
    const child = running.get(ref.sandboxId);
    if (child && child.exitCode === null && child.signalCode === null && meta.port) {
      // A live process that answers slowly (a busy machine) is not replaced on one missed check:
      // replacing it would lose its agent sessions.
      for (let attempt = 0; attempt < 3; attempt++) {
        if ((await this.health(meta.port, meta.token)).ok) return { endpoint: `http://127.0.0.1:${meta.port}` };
        if (child.exitCode !== null || child.signalCode !== null) break;
      }
    }
    await this.stop(ref);
    return { endpoint: `http://127.0.0.1:${await this.spawnServer(ref, meta)}` };
  }

  private async spawnServer(ref: SandboxRef, meta: ServerMeta): Promise<number> {
    const bin = sandboxAgentBinary();
    if (!existsSync(bin)) throw new SandboxError("binary_missing", `The sandbox-agent binary is missing (${bin}). Run npm install.`);
    // npm 11 may skip the CLI package's postinstall, which only makes the binary executable.
    if ((statSync(bin).mode & 0o111) === 0) chmodSync(bin, 0o755);
    const dir = this.dir(ref);
    const port = await freePort();
    const logPath = join(dir, "server.log");
    const log = openSync(logPath, "a");
    const child = spawn(bin, ["server", "--no-telemetry", "-H", "127.0.0.1", "-p", String(port), `--token=${meta.token}`], {
      cwd: join(dir, "work"),
      env: { ...this.agentEnv, PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: join(dir, "work"), XDG_DATA_HOME: join(dir, "xdg"), LANG: "C.UTF-8" },
      stdio: ["ignore", log, log],
    });
    closeSync(log);
    const spawnError = new Promise<Error>((res) => child.once("error", res));
    running.set(ref.sandboxId, child);
    child.once("exit", () => {
      if (running.get(ref.sandboxId) === child) running.delete(ref.sandboxId);
    });
    await this.writeMeta(ref, { ...meta, port, pid: child.pid ?? null });

    const deadline = Date.now() + HEALTH_TIMEOUT_MS;
    let last = "no answer yet";
    while (Date.now() < deadline) {
      const early = await Promise.race([spawnError, new Promise<null>((r) => setTimeout(() => r(null), 100))]);
      if (early) {
        const code = (early as NodeJS.ErrnoException).code === "ENOENT" ? "binary_missing" : "start_failed";
        throw new SandboxError(code, `sandbox-agent could not start: ${early.message}`);
      }
      if (child.exitCode !== null || child.signalCode !== null) {
        const output = tail(logPath);
        const code = /address already in use|AddrInUse/i.test(output) ? "port_in_use" : "start_failed";
        throw new SandboxError(code, `sandbox-agent exited (${child.exitCode ?? child.signalCode}) while starting: ${output || "no output"}`);
      }
      const health = await this.health(port, meta.token);
      if (health.ok) return port;
      last = health.error;
    }
    child.kill("SIGKILL");
    throw new SandboxError("server_unhealthy", `sandbox-agent health timed out after ${HEALTH_TIMEOUT_MS / 1000} s: ${last}`);
  }

  private async health(port: number, token: string): Promise<{ ok: true } | { ok: false; error: string }> {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/v1/health`, {
        headers: { authorization: `Bearer ${token}` },
        signal: AbortSignal.timeout(2_000),
      });
      return res.ok ? { ok: true } : { ok: false, error: `GET /v1/health answered ${res.status}` };
    } catch (err) {
      return { ok: false, error: (err as Error).message };
    }
  }

  private async agent(ref: SandboxRef): Promise<SandboxAgent> {
    const meta = await this.meta(ref);
    const child = running.get(ref.sandboxId);
    if (!child || child.exitCode !== null || child.signalCode !== null || !meta.port) await this.ensureServer(ref);
    const fresh = await this.meta(ref);
    const cached = this.clients.get(ref.sandboxId);
    if (cached && cached.port === fresh.port) return cached.agent;
    // The ACP fetch wrapper makes a prompt fail fast when the agent or the server dies mid-turn,
    // instead of hanging and ending in an unhandled rejection (see agent/NOTES.md).
    const agent = SandboxAgent.connect({
      baseUrl: `http://127.0.0.1:${fresh.port}`,
      token: fresh.token,
      skipHealthCheck: true,
      fetch: createAcpFetch(),
    });
    this.clients.set(ref.sandboxId, { port: fresh.port ?? 0, agent });
    return agent;
  }

  async exec(ref: SandboxRef, req: ExecRequest): Promise<ExecResult> {
    const work = this.workdir(ref);
    const cwd = resolve(work, req.cwd ?? ".");
    const rel = relative(work, cwd);
    if (rel.startsWith("..") || isAbsolute(rel)) throw new SandboxError("command_failed", "The working directory must stay inside the sandbox.");
    const agent = await this.agent(ref);
    const result = await agent.runProcess({
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
      const sdk = await this.agent(ref);
      const session = await sdk.createSession({
        agent: opts.agent,
        cwd: resolve(this.workdir(ref), opts.cwd),
        ...(opts.model ? { model: opts.model } : {}),
      });
      this.liveSessions.set(opts.sessionId, { sandboxId: ref.sandboxId, session });
    },
    prompt: async (_ref, sessionId, text, onEvent) => {
      const live = this.liveSessions.get(sessionId);
      if (!live) throw new SandboxError("sandbox_not_found", "This agent session is gone (Kiln restarted or the sandbox server was replaced). Open a new session.");
      let lastEventAt = Date.now();
      const off = live.session.onEvent((e) => {
        lastEventAt = Date.now();
        onEvent(toAgentEvent(e));
      });
      try {
        const result = await live.session.prompt([{ type: "text", text }]);
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
      const meta = await this.meta(ref);
      const sdk = await this.agent(ref);
      const servers = await sdk.listAcpServers();
      // The SDK has no cancel; a raw ACP `session/cancel` ends the turn and keeps the session.
      for (const server of servers.servers) {
        await fetch(`http://127.0.0.1:${meta.port}/v1/acp/${encodeURIComponent(server.serverId)}`, {
          method: "POST",
          headers: { authorization: `Bearer ${meta.token}`, "content-type": "application/json", accept: "application/json" },
          body: JSON.stringify({ jsonrpc: "2.0", method: "session/cancel", params: { sessionId: live.session.agentSessionId } }),
        });
      }
    },
    isLive: (sessionId) => this.liveSessions.has(sessionId),
    close: async (ref, sessionId) => {
      const live = this.liveSessions.get(sessionId);
      this.liveSessions.delete(sessionId);
      if (!live) return;
      const sdk = await this.agent(ref);
      await sdk.destroySession(live.session.id).catch(() => undefined);
    },
  };

  async stop(ref: SandboxRef): Promise<void> {
    for (const [id, live] of this.liveSessions) if (live.sandboxId === ref.sandboxId) this.liveSessions.delete(id);
    this.clients.delete(ref.sandboxId);
    const child = running.get(ref.sandboxId);
    running.delete(ref.sandboxId);
    if (child && child.exitCode === null && child.signalCode === null) await stopChild(child);
    const meta = await this.meta(ref).catch(() => undefined);
    // A server started by an earlier Kiln (before a crash) is found through its recorded pid.
    if (meta?.pid && meta.pid !== child?.pid && isSandboxServer(meta.pid, meta.token)) killPid(meta.pid, "SIGKILL");
  }

  async destroy(ref: SandboxRef): Promise<void> {
    if (existsSync(this.dir(ref))) await this.stop(ref);
    await rm(this.dir(ref), { recursive: true, force: true });
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

function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((done) => {
    const force = setTimeout(() => child.kill("SIGKILL"), 3_000);
    child.once("exit", () => {
      clearTimeout(force);
      done();
    });
    child.kill("SIGTERM");
  });
}

/** Stops every server this Kiln started. Called when Kiln shuts down. */
export async function stopAllLocalSandboxServers(): Promise<void> {
  const children = [...running.values()];
  running.clear();
  await Promise.all(children.filter((c) => c.exitCode === null && c.signalCode === null).map(stopChild));
}

/**
 * At startup, before any sandbox is used: stops servers that an earlier Kiln on this data
 * directory started and left running (after kill -9). This Kiln holds the data directory's
 * lock, so every such process is an orphan. Their sandboxes restart on the next `ensure`.
 */
export function stopOrphanedSandboxServers(root: string): { orgId: string; sandboxId: string }[] {
  if (!existsSync(root)) return [];
  const stopped: { orgId: string; sandboxId: string }[] = [];
  for (const id of readdirSync(root)) {
    try {
      const meta = JSON.parse(readFileSync(join(root, id, "server.json"), "utf8")) as ServerMeta;
      if (meta.pid && isSandboxServer(meta.pid, meta.token)) {
        killPid(meta.pid, "SIGKILL");
        stopped.push({ orgId: meta.orgId, sandboxId: id });
      }
    } catch {
      // Not a local sandbox-agent sandbox, or never started.
    }
  }
  return stopped;
}
