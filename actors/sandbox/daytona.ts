import { createHmac } from "node:crypto";
import type { Daytona, Sandbox } from "@daytonaio/sdk";
import { agentHealth, SandboxAgentClients, type AgentEndpoint } from "./agent-client.js";
import { SandboxError, type AgentSessions, type ExecRequest, type ExecResult, type SandboxProvider, type SandboxRef } from "./provider.js";

export interface DaytonaProviderConfig {
  apiKey: string;
  apiUrl: string | undefined;
  target: string | undefined;
  snapshot: string | undefined;
  /** Sizing; Daytona applies what the sandbox's source allows. */
  resources: { cpu?: number; memory?: number; disk?: number };
  /** Where commands and sessions run inside the sandbox. */
  workdir: string;
  /** The port sandbox-agent listens on inside the sandbox (reached through its preview URL). */
  agentPort: number;
  /** Minutes of inactivity before Daytona stops the sandbox (0 = never). */
  autoStopMinutes: number;
}

/** How long one call waits for a sandbox to settle before answering "not ready yet" (seconds). */
const SETTLE_TIMEOUT_S = 40;
const HEALTH_TIMEOUT_MS = 20_000;
/** Client-side deadline per HTTP call; the SDK's default is 24 hours. */
const REQUEST_TIMEOUT_MS = 30_000;
const SERVER_LOG = "/tmp/kiln-sandbox-agent.log";
const SERVER_PID = "/tmp/kiln-sandbox-agent.pid";
/** What the start command prints when a server it started earlier is still running. */
const ALREADY_RUNNING = "kiln: sandbox-agent already running";

const PENDING_STATES = new Set(["creating", "starting", "restoring", "pulling_snapshot", "building_snapshot", "pending_build", "resizing", "unknown"]);
const FAILED_STATES = new Set(["error", "build_failed", "destroyed", "destroying"]);

type DaytonaSdk = typeof import("@daytonaio/sdk");
/** The SDK takes ~0.4 s to import: it loads when a Daytona provider first calls it, not at Kiln's start. */
let sdkLoading: Promise<DaytonaSdk> | undefined;
let sdk: DaytonaSdk | undefined;
function loadSdk(): Promise<DaytonaSdk> {
  sdkLoading ??= import("@daytonaio/sdk").then((m) => (sdk = m));
  return sdkLoading;
}

/**
 * The `daytona` provider: one Daytona sandbox per Kiln sandbox, created from the configured
 * snapshot through `@daytonaio/sdk`, running `sandbox-agent server` started through Daytona's
 * process API and reached through its preview URL. Control-plane calls are Daytona's own; once
 * the server answers, commands and agent sessions go through sandbox-agent, as on `local`.
 *
 * The server's token is derived from Kiln's internal key and the sandbox id, so a restarted
 * Kiln reaches the servers it started without storing a secret anywhere.
 */
export class DaytonaSandboxProvider implements SandboxProvider {
  readonly id = "daytona";
  private client: Promise<Daytona> | undefined;
  private readonly agents = new SandboxAgentClients((ref) => this.endpoint(ref));
  readonly sessions: AgentSessions = this.agents.sessions;
  /** Preview links by sandbox id; they are stable for a sandbox, so one lookup per process. */
  private readonly previews = new Map<string, { url: string; token: string }>();

  constructor(
    private readonly config: DaytonaProviderConfig,
    private readonly internalKey: string,
    private readonly agentEnv: Record<string, string> = {},
  ) {}

  private daytona(): Promise<Daytona> {
    this.client ??= loadSdk().then(
      ({ Daytona }) =>
        new Daytona({
          apiKey: this.config.apiKey,
          ...(this.config.apiUrl ? { apiUrl: this.config.apiUrl } : {}),
          ...(this.config.target ? { target: this.config.target } : {}),
          // Polling works everywhere (proxies, fakes); the websocket stream only saves a few requests.
          useDeprecatedPolling: true,
          requestTimeoutMs: REQUEST_TIMEOUT_MS,
        }),
    );
    return this.client;
  }

  /** The Daytona sandbox's name: stable, so a retried create finds the sandbox an interrupted one made. */
  static nameFor(sandboxId: string): string {
    return `kiln-${sandboxId}`.toLowerCase();
  }

  private agentToken(sandboxId: string): string {
    return createHmac("sha256", this.internalKey).update(`daytona-sandbox-agent:${sandboxId}`).digest("hex");
  }

  private async find(ref: SandboxRef): Promise<Sandbox | undefined> {
    try {
      return await (await this.daytona()).get(DaytonaSandboxProvider.nameFor(ref.sandboxId));
    } catch (err) {
      if (sdk && err instanceof sdk.DaytonaNotFoundError) return undefined;
      throw err;
    }
  }

  private async get(ref: SandboxRef): Promise<Sandbox> {
    const sandbox = await this.find(ref);
    if (!sandbox) throw new SandboxError("sandbox_not_found", `Daytona sandbox ${DaytonaSandboxProvider.nameFor(ref.sandboxId)} does not exist.`);
    return sandbox;
  }

  async create(input: { orgId: string; sandboxId: string }): Promise<SandboxRef> {
    const ref = { provider: this.id, sandboxId: input.sandboxId };
    const existing = await this.find(ref);
    if (existing) {
      settled(existing);
      return ref;
    }
    try {
      const params = {
        name: DaytonaSandboxProvider.nameFor(input.sandboxId),
        ...(this.config.snapshot ? { snapshot: this.config.snapshot } : {}),
        labels: { "kiln.sandbox": input.sandboxId, "kiln.org": input.orgId },
        envVars: this.agentEnv,
        public: false,
        autoStopInterval: this.config.autoStopMinutes,
        // The SDK reads `resources` from any create params; its snapshot type just doesn't list it.
        ...(Object.keys(this.config.resources).length > 0 ? { resources: this.config.resources } : {}),
      };
      const sandbox = await (await this.daytona()).create(params, { timeout: SETTLE_TIMEOUT_S });
      settled(sandbox);
    } catch (err) {
      throw asSandboxError(err, "create_failed", "Could not create the Daytona sandbox");
    }
    return ref;
  }

  async start(ref: SandboxRef): Promise<void> {
    const sandbox = await this.get(ref).catch((err: unknown) => {
      throw asSandboxError(err, "command_failed", "Could not read the Daytona sandbox");
    });
    if (sandbox.state === "started") return;
    if (sandbox.state && PENDING_STATES.has(sandbox.state)) throw new SandboxError("not_ready", `The Daytona sandbox is ${sandbox.state}.`);
    settled(sandbox);
    try {
      await sandbox.start(SETTLE_TIMEOUT_S);
    } catch (err) {
      // Possibly passing (capacity, network): the caller retries a few times before giving up.
      throw asSandboxError(err, "command_failed", "Could not start the Daytona sandbox");
    }
  }

  private async preview(ref: SandboxRef, sandbox?: Sandbox): Promise<{ url: string; token: string }> {
    const cached = this.previews.get(ref.sandboxId);
    if (cached) return cached;
    const link = await (sandbox ?? (await this.get(ref))).getPreviewLink(this.config.agentPort);
    const preview = { url: link.url.replace(/\/+$/, ""), token: link.token };
    this.previews.set(ref.sandboxId, preview);
    return preview;
  }

  private endpointFrom(ref: SandboxRef, preview: { url: string; token: string }): AgentEndpoint {
    return {
      baseUrl: preview.url,
      token: this.agentToken(ref.sandboxId),
      headers: { "x-daytona-preview-token": preview.token },
      workdir: this.config.workdir,
    };
  }

  private async endpoint(ref: SandboxRef): Promise<AgentEndpoint> {
    return this.endpointFrom(ref, await this.preview(ref));
  }

  /**
   * Starts `sandbox-agent server` inside the sandbox unless it already answers, then waits for
   * health through the preview URL. A server that cannot start fails fast with its output.
   */
  async ensureServer(ref: SandboxRef): Promise<{ endpoint: string | null }> {
    const sandbox = await this.get(ref);
    if (sandbox.state !== "started") throw new SandboxError("not_ready", `The Daytona sandbox is ${sandbox.state ?? "in an unknown state"}.`);
    let ep = this.endpointFrom(ref, await this.preview(ref, sandbox));
    if ((await agentHealth(ep.baseUrl, ep.token, ep.headers)).ok) return { endpoint: ep.baseUrl };
    // A restarted sandbox may have a new preview link: look it up again before restarting the server.
    // Starting a second server next to a live one would fail on its port, so check again first.
    this.previews.delete(ref.sandboxId);
    ep = this.endpointFrom(ref, await this.preview(ref, sandbox));
    if ((await agentHealth(ep.baseUrl, ep.token, ep.headers)).ok) return { endpoint: ep.baseUrl };

    const started = await sandbox.process
      .executeCommand(this.serverCommand(ref), undefined, undefined, 30)
      .catch((err: unknown) => {
        // The command did not run (a network error): not the server failing, so it may pass.
        throw asSandboxError(err, "command_failed", "Could not run the sandbox-agent start command");
      });
    if (started.exitCode !== 0) {
      throw new SandboxError("start_failed", `sandbox-agent failed to start in the Daytona sandbox (exit ${started.exitCode}): ${clip(started.result) || "no output"}`);
    }
    // Only a new server loses the agent sessions; one that was merely slow to answer keeps them.
    if (!started.result?.includes(ALREADY_RUNNING)) this.agents.forget(ref.sandboxId);
    const deadline = Date.now() + HEALTH_TIMEOUT_MS;
    let last = "no answer yet";
    while (Date.now() < deadline) {
      const health = await agentHealth(ep.baseUrl, ep.token, ep.headers);
      if (health.ok) return { endpoint: ep.baseUrl };
      last = health.error;
      await new Promise((r) => setTimeout(r, 250));
    }
    const log = await sandbox.process.executeCommand(`tail -c 2000 ${SERVER_LOG}`, undefined, undefined, 10).catch(() => undefined);
    throw new SandboxError("server_unhealthy", `sandbox-agent did not answer through the preview URL within ${HEALTH_TIMEOUT_MS / 1000} s (${last})${log?.result ? `: ${clip(log.result)}` : ""}`);
  }

  /**
   * One shell command: make the working directory, start the server in the background, and
   * report failure with its log when it dies at once (a missing binary, a taken port).
   */
  private serverCommand(ref: SandboxRef): string {
    const w = this.config.workdir;
    const script = [
      `mkdir -p ${w} && cd ${w}`,
      `command -v sandbox-agent >/dev/null || { echo "sandbox-agent is not installed in this sandbox (check DAYTONA_SNAPSHOT)"; exit 127; }`,
      // A server that did not answer through the preview proxy in time may still be alive: a
      // second one would fail on its port, so leave it be and let the health wait decide.
      // Its argv, not \`kill -0\`: a dead server nobody reaped, or a pid reused by another process
      // (this very script included, whose text names the server), would pass that.
      `p=$(cat ${SERVER_PID} 2>/dev/null)`,
      `if [ -n "$p" ] && [ "$p" != "$$" ] && { tr "\\000" " " <"/proc/$p/cmdline"; } 2>/dev/null | grep -qE "^([^ ]*/)?sandbox-agent server "; then echo "${ALREADY_RUNNING}"; exit 0; fi`,
      `nohup sandbox-agent server --no-telemetry -H 0.0.0.0 -p ${this.config.agentPort} --token=${this.agentToken(ref.sandboxId)} >${SERVER_LOG} 2>&1 &`,
      `pid=$!; echo $pid >${SERVER_PID}; sleep 1`,
      `kill -0 $pid 2>/dev/null || { tail -c 2000 ${SERVER_LOG}; exit 1; }`,
    ].join("\n");
    return `sh -c '${script.replace(/'/g, `'\\''`)}'`;
  }

  exec(ref: SandboxRef, req: ExecRequest): Promise<ExecResult> {
    return this.agents.exec(ref, req);
  }

  async stop(ref: SandboxRef): Promise<void> {
    this.agents.forget(ref.sandboxId);
    this.previews.delete(ref.sandboxId);
    const sandbox = await this.find(ref);
    if (!sandbox || sandbox.state === "stopped") return;
    await sandbox.stop(SETTLE_TIMEOUT_S);
  }

  /** Deletes the Daytona sandbox for real (not a stop). Idempotent: a sandbox already gone is done. */
  async destroy(ref: SandboxRef): Promise<void> {
    this.agents.forget(ref.sandboxId);
    this.previews.delete(ref.sandboxId);
    const sandbox = await this.find(ref).catch((err: unknown) => {
      throw asSandboxError(err, "command_failed", "Could not look up the Daytona sandbox to delete it");
    });
    if (!sandbox) return;
    try {
      await sandbox.delete(SETTLE_TIMEOUT_S);
    } catch (err) {
      if (sdk && err instanceof sdk.DaytonaNotFoundError) return;
      throw asSandboxError(err, "command_failed", "Could not delete the Daytona sandbox");
    }
  }
}

/** Throws when the sandbox ended in a failed state (with Daytona's reason) or is still settling. */
function settled(sandbox: Sandbox): void {
  const state = sandbox.state ?? "unknown";
  if (FAILED_STATES.has(state)) throw new SandboxError("instance_failed", `The Daytona sandbox is ${state}${sandbox.errorReason ? `: ${sandbox.errorReason}` : ""}.`);
  if (PENDING_STATES.has(state)) throw new SandboxError("not_ready", `The Daytona sandbox is ${state}.`);
}

function asSandboxError(err: unknown, code: "create_failed" | "command_failed", what: string): SandboxError {
  if (err instanceof SandboxError) return err;
  // The SDK's own wait gave up; the sandbox keeps settling on Daytona's side and a later call picks it up.
  if (sdk && err instanceof sdk.DaytonaTimeoutError) return new SandboxError("not_ready", `${what}: Daytona is still working on it.`);
  return new SandboxError(code, `${what}: ${(err as Error).message ?? String(err)}`);
}

function clip(text: string): string {
  return text.trim().slice(-1500);
}
