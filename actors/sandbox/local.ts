import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, openSync, closeSync, readdirSync, readFileSync, statSync } from "node:fs";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { agentHealth, SandboxAgentClients } from "./agent-client.js";
import { freePort, stopChild } from "./child-process.js";
import { installMockAgent } from "./agent/install.js";
import { SandboxError, type AgentSessions, type ExecRequest, type ExecResult, type SandboxProvider, type SandboxRef } from "./provider.js";

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

/** A process's command line: from /proc on Linux, from `ps` where there is no /proc (macOS); null when it is gone. */
function commandLine(pid: number): string | null {
  try {
    if (process.platform === "linux") return readFileSync(`/proc/${pid}/cmdline`, "utf8");
    return execFileSync("ps", ["-o", "command=", "-p", String(pid)], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
  } catch {
    return null;
  }
}

/** Whether `pid` is this sandbox's server: its command line carries the sandbox's own token, so a recycled pid never matches. */
function isSandboxServer(pid: number, token: string): boolean {
  const cmdline = commandLine(pid);
  return cmdline !== null && cmdline.includes("sandbox-agent") && cmdline.includes(token);
}

function killPid(pid: number, signal: NodeJS.Signals = "SIGTERM"): void {
  try {
    process.kill(pid, signal);
  } catch {
    // Already gone.
  }
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
  private readonly agents = new SandboxAgentClients((ref) => this.endpoint(ref));
  readonly sessions: AgentSessions = this.agents.sessions;

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

  /** Written to a temporary file and renamed over, so a kill -9 mid-write never leaves a torn file. */
  private async writeMeta(ref: SandboxRef, meta: ServerMeta): Promise<void> {
    const path = join(this.dir(ref), "server.json");
    await writeFile(`${path}.tmp`, JSON.stringify(meta), { mode: 0o600 });
    await rename(`${path}.tmp`, path);
  }

  private async hasMeta(ref: SandboxRef): Promise<boolean> {
    try {
      await this.meta(ref);
      return true;
    } catch {
      return false;
    }
  }

  async create(input: { orgId: string; sandboxId: string }): Promise<SandboxRef> {
    const ref = { provider: this.id, sandboxId: input.sandboxId };
    const dir = this.dir(ref);
    try {
      await mkdir(join(dir, "work"), { recursive: true });
      await mkdir(join(dir, "xdg"), { recursive: true });
      // A file torn by a kill -9 (as plain writes could leave it) does not parse: write it again,
      // so the create the workflow retries after a restart repairs the sandbox.
      if (!(await this.hasMeta(ref))) {
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
    // The server answers ~30 ms after spawn: probe early, then back off to every 100 ms.
    for (let attempt = 0; Date.now() < deadline; attempt++) {
      const wait = Math.min(100, 10 * 2 ** attempt);
      const early = await Promise.race([spawnError, new Promise<null>((r) => setTimeout(() => r(null), wait))]);
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

  private health(port: number, token: string): ReturnType<typeof agentHealth> {
    return agentHealth(`http://127.0.0.1:${port}`, token);
  }

  /** The server's endpoint, starting it when this Kiln holds no live process for it. */
  private async endpoint(ref: SandboxRef) {
    const meta = await this.meta(ref);
    const child = running.get(ref.sandboxId);
    if (!child || child.exitCode !== null || child.signalCode !== null || !meta.port) await this.ensureServer(ref);
    const fresh = await this.meta(ref);
    return { baseUrl: `http://127.0.0.1:${fresh.port}`, token: fresh.token, headers: {}, workdir: this.workdir(ref) };
  }

  exec(ref: SandboxRef, req: ExecRequest): Promise<ExecResult> {
    return this.agents.exec(ref, req);
  }

  async stop(ref: SandboxRef): Promise<void> {
    this.agents.forget(ref.sandboxId);
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
