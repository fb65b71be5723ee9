import { randomBytes, randomUUID } from "node:crypto";
import type { ServerResponse } from "node:http";
import {
  bearerToken,
  isoNow,
  sendJson,
  startBaseServer,
  type BaseFake,
  type FakeRequest,
  type RecordedRequest,
} from "./http.js";

/**
 * A fake Daytona control plane + toolbox proxy + preview proxy that the real `@daytonaio/sdk`
 * (0.218) accepts. Use it with
 *
 *   new Daytona({ apiKey: fake.apiKey, apiUrl: fake.apiUrl, target: fake.target, useDeprecatedPolling: true })
 *
 * Endpoints (all behind `Authorization: Bearer <apiKey>`, 401 otherwise):
 * - POST   /sandbox                                  create (200, state `creating`, no toolboxProxyUrl)
 * - GET    /sandbox                                  list `{ items, nextCursor }` (labels filter)
 * - GET    /sandbox/{idOrName}                       get (404 unknown / deleted)
 * - GET    /sandbox/{idOrName}/toolbox-proxy-url     `{ url }` (the SDK calls it when the DTO has none)
 * - POST   /sandbox/{idOrName}/start | /stop         state `starting` → `started`, `stopping` → `stopped`
 * - DELETE /sandbox/{idOrName}                       removes it (later GETs 404)
 * - GET    /sandbox/{idOrName}/ports/{port}/preview-url → `{ sandboxId, url, token }`
 * - POST   /toolbox/{id}/process/execute             `{ exitCode, result }` (the sandbox must be started)
 * Preview proxy (no API key; `x-daytona-preview-token` header required for private sandboxes):
 * - ANY    /preview/{id}/{port}/health | /v1/health  200 once the sandbox-agent server "runs", else 502
 *
 * Transitional states (`creating`, `starting`, `stopping`) last `transitionPolls` GETs of the sandbox;
 * the SDK polls every 100 ms in deprecated-polling mode.
 */

export type SandboxState =
  | "creating"
  | "starting"
  | "started"
  | "stopping"
  | "stopped"
  | "error"
  | "build_failed"
  | "destroying"
  | "destroyed";

export interface FakeSandbox {
  id: string;
  name: string;
  organizationId: string;
  snapshot: string | undefined;
  user: string;
  env: Record<string, string>;
  labels: Record<string, string>;
  public: boolean;
  target: string;
  cpu: number;
  gpu: number;
  memory: number;
  disk: number;
  autoStopInterval: number;
  autoArchiveInterval: number;
  autoDeleteInterval: number;
  state: SandboxState;
  desiredState: "started" | "stopped" | "destroyed";
  errorReason: string | undefined;
  /** The state the sandbox moves to after `polls` more GETs. */
  pending: { state: SandboxState; polls: number; errorReason?: string } | undefined;
  createdAt: string;
  updatedAt: string;
  /** True once a command matching `serverCommandPattern` exited 0 (or set via `setServerRunning`). */
  serverRunning: boolean;
  /** Preview tokens handed out, by port. */
  previewTokens: Map<number, string>;
  /** The raw POST /sandbox body. */
  createBody: Record<string, unknown>;
}

export interface ExecutedCommand {
  sandboxId: string;
  command: string;
  cwd: string | undefined;
  envs: Record<string, string> | undefined;
  timeout: number | undefined;
  exitCode: number;
  result: string;
  at: number;
}

export interface CommandReply {
  exitCode?: number;
  /** Combined output the SDK returns as `result` / `artifacts.stdout`. */
  result?: string;
  /** Wait this long before answering (simulates a slow command). */
  delayMs?: number;
  /** How many matching executions use this reply (default: unlimited). */
  times?: number;
}

export type CreateFailure =
  /** POST /sandbox itself answers with this HTTP status (SDK throws the matching Daytona*Error). */
  | { status: number; message?: string; times?: number }
  /** POST /sandbox succeeds, then the sandbox ends in `error` (or `build_failed`) with this reason. */
  | { errorReason: string; state?: "error" | "build_failed"; times?: number };

export interface FakeDaytonaOptions {
  apiKey?: string;
  organizationId?: string;
  target?: string;
  /** GETs a transitional state survives before settling (default 1; 0 settles immediately). */
  transitionPolls?: number;
  /** A command matching this that exits 0 marks the sandbox's server as running (preview health 200). */
  serverCommandPattern?: RegExp;
  /** Require `x-daytona-preview-token` on preview requests to private sandboxes (default true). */
  enforcePreviewToken?: boolean;
  /** Override the preview URL (e.g. point it at a real local sandbox-agent). Return undefined for the default. */
  previewUrlFor?: (sandbox: FakeSandbox, port: number) => string | undefined;
  /** Snapshots that exist; when set, creating from any other snapshot gives 400 (DaytonaValidationError). */
  snapshots?: string[];
  /** Put `toolboxProxyUrl` in sandbox DTOs (default false: the SDK then calls /toolbox-proxy-url). */
  inlineToolboxProxyUrl?: boolean;
  /** Last-resort reply for commands no script matched (default `{ exitCode: 0, result: "" }`). */
  commandHandler?: (command: string, sandbox: FakeSandbox) => CommandReply | undefined;
}

export interface FakeDaytonaState {
  sandboxes: Map<string, FakeSandbox>;
  /** Ids of sandboxes removed by DELETE, in order. */
  deleted: string[];
  commands: ExecutedCommand[];
  requests: RecordedRequest[];
}

export interface FakeDaytona extends BaseFake {
  apiKey: string;
  /** Pass as `apiUrl` (equals `url`; the SDK appends `/sandbox...`). */
  apiUrl: string;
  target: string;
  organizationId: string;
  state: FakeDaytonaState;
  /** Scripted replies for `process.executeCommand`; first match (string = substring) wins. */
  scriptCommand(match: string | RegExp, reply: CommandReply): void;
  /** Drop every command script. */
  clearScripts(): void;
  /** Make the next create(s) fail (HTTP error, or sandbox ending in `error` state). */
  failNextCreate(failure: CreateFailure): void;
  setServerRunning(sandboxId: string, running: boolean): void;
  /** Force a sandbox state (e.g. simulate it crashing to `error`, or being stopped behind Kiln's back). */
  setState(sandboxId: string, state: SandboxState, errorReason?: string): void;
  /** Sandbox by id or name (undefined once deleted). */
  sandbox(idOrName: string): FakeSandbox | undefined;
  /** Commands run in a sandbox. */
  commandsFor(sandboxId: string): ExecutedCommand[];
}

export async function startFakeDaytona(opts: FakeDaytonaOptions = {}): Promise<FakeDaytona> {
  const apiKey = opts.apiKey ?? "dtn_fake_key";
  const organizationId = opts.organizationId ?? randomUUID();
  const target = opts.target ?? "us";
  const transitionPolls = opts.transitionPolls ?? 1;
  const serverPattern = opts.serverCommandPattern ?? /sandbox-agent\b[^\n]*\bserver\b/;
  const enforcePreviewToken = opts.enforcePreviewToken ?? true;

  const sandboxes = new Map<string, FakeSandbox>();
  const deleted: string[] = [];
  const commands: ExecutedCommand[] = [];
  const scripts: Array<{ match: string | RegExp; reply: CommandReply; remaining: number }> = [];
  const createFailures: Array<CreateFailure & { remaining: number }> = [];
  let base = "";

  const find = (idOrName: string): FakeSandbox | undefined =>
    sandboxes.get(idOrName) ?? [...sandboxes.values()].find((s) => s.name === idOrName);

  const transition = (sb: FakeSandbox, now: SandboxState, then: SandboxState, errorReason?: string) => {
    sb.updatedAt = isoNow();
    if (transitionPolls <= 0) {
      sb.state = then;
      sb.errorReason = errorReason;
      sb.pending = undefined;
      return;
    }
    sb.state = now;
    sb.pending = { state: then, polls: transitionPolls, errorReason };
  };

  /** Called on every GET of a sandbox: transitional states settle after `transitionPolls` GETs. */
  const observe = (sb: FakeSandbox) => {
    if (!sb.pending) return;
    if (sb.pending.polls > 0) {
      sb.pending.polls -= 1;
      return;
    }
    sb.state = sb.pending.state;
    sb.errorReason = sb.pending.errorReason;
    sb.updatedAt = isoNow();
    sb.pending = undefined;
  };

  const dto = (sb: FakeSandbox): Record<string, unknown> => ({
    id: sb.id,
    organizationId: sb.organizationId,
    name: sb.name,
    snapshot: sb.snapshot,
    user: sb.user,
    env: sb.env,
    labels: sb.labels,
    public: sb.public,
    networkBlockAll: false,
    target: sb.target,
    cpu: sb.cpu,
    gpu: sb.gpu,
    memory: sb.memory,
    disk: sb.disk,
    state: sb.state,
    desiredState: sb.desiredState,
    ...(sb.errorReason !== undefined ? { errorReason: sb.errorReason } : {}),
    recoverable: false,
    backupState: "None",
    autoStopInterval: sb.autoStopInterval,
    autoPauseInterval: 0,
    autoArchiveInterval: sb.autoArchiveInterval,
    autoDeleteInterval: sb.autoDeleteInterval,
    volumes: [],
    createdAt: sb.createdAt,
    updatedAt: sb.updatedAt,
    lastActivityAt: sb.updatedAt,
    sandboxClass: "small",
    daemonVersion: "0.218.0",
    runnerId: "fake-runner-1",
    ...(opts.inlineToolboxProxyUrl ? { toolboxProxyUrl: `${base}/toolbox` } : {}),
  });

  const notFound = (res: ServerResponse, what: string) =>
    sendJson(res, 404, { statusCode: 404, message: `Sandbox with ID or name ${what} not found`, error: "Not Found" });

  const previewUrl = (sb: FakeSandbox, port: number) =>
    opts.previewUrlFor?.(sb, port) ?? `${base}/preview/${sb.id}/${port}`;

  const create = (req: FakeRequest, res: ServerResponse) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const failure = createFailures.find((f) => f.remaining > 0);
    if (failure) failure.remaining -= 1;
    if (failure && "status" in failure) {
      sendJson(res, failure.status, {
        statusCode: failure.status,
        message: failure.message ?? "scripted create failure",
        error: "Scripted",
      });
      return;
    }
    const snapshot = typeof body.snapshot === "string" ? body.snapshot : undefined;
    if (snapshot !== undefined && opts.snapshots && !opts.snapshots.includes(snapshot)) {
      sendJson(res, 400, { statusCode: 400, message: `Snapshot ${snapshot} not found`, error: "Bad Request" });
      return;
    }
    const id = randomUUID();
    const name = typeof body.name === "string" && body.name.length > 0 ? body.name : id;
    if (find(name)) {
      sendJson(res, 409, { statusCode: 409, message: `Sandbox with name ${name} already exists`, error: "Conflict" });
      return;
    }
    const now = isoNow();
    const sb: FakeSandbox = {
      id,
      name,
      organizationId,
      snapshot: snapshot ?? "daytonaio/sandbox:0.4.3",
      user: typeof body.user === "string" ? body.user : "daytona",
      env: (body.env as Record<string, string> | undefined) ?? {},
      labels: (body.labels as Record<string, string> | undefined) ?? {},
      public: body.public === true,
      target: typeof body.target === "string" ? body.target : target,
      cpu: typeof body.cpu === "number" ? body.cpu : 1,
      gpu: typeof body.gpu === "number" ? body.gpu : 0,
      memory: typeof body.memory === "number" ? body.memory : 1,
      disk: typeof body.disk === "number" ? body.disk : 3,
      autoStopInterval: typeof body.autoStopInterval === "number" ? body.autoStopInterval : 15,
      autoArchiveInterval: typeof body.autoArchiveInterval === "number" ? body.autoArchiveInterval : 10080,
      autoDeleteInterval: typeof body.autoDeleteInterval === "number" ? body.autoDeleteInterval : -1,
      state: "creating",
      desiredState: "started",
      errorReason: undefined,
      pending: undefined,
      createdAt: now,
      updatedAt: now,
      serverRunning: false,
      previewTokens: new Map(),
      createBody: body,
    };
    sandboxes.set(id, sb);
    if (failure && "errorReason" in failure) {
      transition(sb, "creating", failure.state ?? "error", failure.errorReason);
    } else {
      transition(sb, "creating", "started");
    }
    sendJson(res, 200, dto(sb));
  };

  const execute = async (sb: FakeSandbox, req: FakeRequest, res: ServerResponse) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    if (typeof body.command !== "string") {
      sendJson(res, 400, { statusCode: 400, message: "command is required", error: "Bad Request" });
      return;
    }
    if (sb.state !== "started") {
      sendJson(res, 409, {
        statusCode: 409,
        message: `Sandbox ${sb.id} is not started (state: ${sb.state})`,
        error: "Conflict",
      });
      return;
    }
    const command = body.command;
    const script = scripts.find(
      (s) => s.remaining > 0 && (typeof s.match === "string" ? command.includes(s.match) : s.match.test(command)),
    );
    if (script) script.remaining -= 1;
    const reply: CommandReply = script?.reply ?? opts.commandHandler?.(command, sb) ?? {};
    if (reply.delayMs) await new Promise((r) => setTimeout(r, reply.delayMs));
    const exitCode = reply.exitCode ?? 0;
    const result = reply.result ?? "";
    if (exitCode === 0 && serverPattern.test(command)) sb.serverRunning = true;
    commands.push({
      sandboxId: sb.id,
      command,
      cwd: typeof body.cwd === "string" ? body.cwd : undefined,
      envs: body.envs as Record<string, string> | undefined,
      timeout: typeof body.timeout === "number" ? body.timeout : undefined,
      exitCode,
      result,
      at: Date.now(),
    });
    sendJson(res, 200, { exitCode, result });
  };

  const preview = (req: FakeRequest, res: ServerResponse, id: string, port: number, rest: string) => {
    const sb = sandboxes.get(id);
    if (!sb) {
      sendJson(res, 404, { message: "sandbox not found" });
      return;
    }
    if (enforcePreviewToken && !sb.public) {
      const token = req.raw.headers["x-daytona-preview-token"];
      if (token === undefined || token !== sb.previewTokens.get(port)) {
        sendJson(res, 401, { message: "missing or invalid x-daytona-preview-token" });
        return;
      }
    }
    if (sb.state !== "started" || !sb.serverRunning) {
      sendJson(res, 502, { message: `no service listening on port ${port} in sandbox ${id}` });
      return;
    }
    if (rest === "/health" || rest === "/v1/health") {
      sendJson(res, 200, { status: "ok" });
      return;
    }
    sendJson(res, 404, { message: `fake preview serves only /health and /v1/health, not ${rest}` });
  };

  const handler = async (req: FakeRequest, res: ServerResponse) => {
    const { method, path } = req;

    const previewMatch = /^\/preview\/([^/]+)\/(\d+)(\/.*)?$/.exec(path);
    if (previewMatch) {
      preview(req, res, previewMatch[1]!, Number(previewMatch[2]), previewMatch[3] ?? "/");
      return;
    }

    if (bearerToken(req.raw) !== apiKey) {
      sendJson(res, 401, { statusCode: 401, message: "Invalid API key", error: "Unauthorized" });
      return;
    }

    const toolboxMatch = /^\/toolbox\/([^/]+)(\/.*)$/.exec(path);
    if (toolboxMatch) {
      const sb = sandboxes.get(toolboxMatch[1]!);
      if (!sb) return notFound(res, toolboxMatch[1]!);
      if (method === "POST" && toolboxMatch[2] === "/process/execute") return execute(sb, req, res);
      sendJson(res, 404, { statusCode: 404, message: `fake toolbox does not serve ${method} ${toolboxMatch[2]}` });
      return;
    }

    if (path === "/sandbox" || path === "/sandbox/") {
      if (method === "POST") return create(req, res);
      if (method === "GET") {
        let items = [...sandboxes.values()];
        const labels = req.query.get("labels");
        if (labels) {
          const wanted = JSON.parse(labels) as Record<string, string>;
          items = items.filter((s) => Object.entries(wanted).every(([k, v]) => s.labels[k] === v));
        }
        items.forEach(observe);
        sendJson(res, 200, { items: items.map(dto), nextCursor: null });
        return;
      }
    }

    const m = /^\/sandbox\/([^/]+)(\/.*)?$/.exec(path);
    if (m) {
      const idOrName = decodeURIComponent(m[1]!);
      const sub = m[2] ?? "";
      const sb = find(idOrName);
      if (!sb) return notFound(res, idOrName);

      if (method === "GET" && sub === "") {
        observe(sb);
        sendJson(res, 200, dto(sb));
        return;
      }
      if (method === "GET" && sub === "/toolbox-proxy-url") {
        sendJson(res, 200, { url: `${base}/toolbox` });
        return;
      }
      if (method === "POST" && sub === "/start") {
        if (sb.state === "stopped" || sb.state === "error") {
          sb.desiredState = "started";
          sb.errorReason = undefined;
          transition(sb, "starting", "started");
        }
        sendJson(res, 200, dto(sb));
        return;
      }
      if (method === "POST" && sub === "/stop") {
        if (sb.state === "started" || sb.state === "starting") {
          sb.desiredState = "stopped";
          sb.serverRunning = false;
          transition(sb, "stopping", "stopped");
        }
        sendJson(res, 200, dto(sb));
        return;
      }
      if (method === "DELETE" && sub === "") {
        sandboxes.delete(sb.id);
        deleted.push(sb.id);
        sb.serverRunning = false;
        sb.desiredState = "destroyed";
        sb.state = "destroying";
        sb.pending = undefined;
        sendJson(res, 200, dto(sb));
        return;
      }
      const portMatch = /^\/ports\/(\d+)\/preview-url$/.exec(sub);
      if (method === "GET" && portMatch) {
        const port = Number(portMatch[1]);
        let token = sb.previewTokens.get(port);
        if (!token) {
          token = randomBytes(16).toString("hex");
          sb.previewTokens.set(port, token);
        }
        sendJson(res, 200, { sandboxId: sb.id, url: previewUrl(sb, port), token });
        return;
      }
    }

    sendJson(res, 404, { statusCode: 404, message: `fake Daytona does not serve ${method} ${path}`, error: "Not Found" });
  };

  const fake = await startBaseServer(handler);
  base = fake.url;

  return {
    ...fake,
    apiKey,
    apiUrl: fake.url,
    target,
    organizationId,
    state: { sandboxes, deleted, commands, requests: fake.requests },
    scriptCommand(match, reply) {
      scripts.push({ match, reply, remaining: reply.times ?? Infinity });
    },
    clearScripts() {
      scripts.length = 0;
    },
    failNextCreate(failure) {
      createFailures.push({ ...failure, remaining: failure.times ?? 1 });
    },
    setServerRunning(sandboxId, running) {
      const sb = find(sandboxId);
      if (!sb) throw new Error(`no sandbox ${sandboxId}`);
      sb.serverRunning = running;
    },
    setState(sandboxId, state, errorReason) {
      const sb = find(sandboxId);
      if (!sb) throw new Error(`no sandbox ${sandboxId}`);
      sb.state = state;
      sb.errorReason = errorReason;
      sb.pending = undefined;
      sb.updatedAt = isoNow();
      if (state !== "started") sb.serverRunning = false;
    },
    sandbox: find,
    commandsFor(sandboxId) {
      return commands.filter((c) => c.sandboxId === sandboxId);
    },
  } satisfies FakeDaytona;
}

