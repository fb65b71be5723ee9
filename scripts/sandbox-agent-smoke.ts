/**
 * End-to-end check of sandbox-agent 0.4.2 + Kiln's scripted mock agent.
 *
 *   npx tsx scripts/sandbox-agent-smoke.ts        (exits 0 on success)
 *
 * Starts one `sandbox-agent server` in a temp dir (own XDG_DATA_HOME, HOME,
 * port, token), installs the mock agent, clones a local bare repo through the
 * process API, runs prompts through the SDK session API (echo, cancelled
 * `sleep 10000` twice: soft cancel and destroySession, `commit notes.txt
 * hello`), shows the commit through the process API, stops everything and
 * checks that no process of this run is left. Prints timings on the way.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { accessSync, chmodSync, constants, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";
import { SandboxAgent, type Session, type SessionEvent } from "sandbox-agent";
import { freePort } from "../actors/sandbox/child-process.js";
import { createAcpFetch } from "../actors/sandbox/agent/acp-fetch.js";
import { installMockAgent, MOCK_AGENT_ID, mockAgentLauncherPath } from "../actors/sandbox/agent/install.js";

const OVERALL_TIMEOUT_MS = 90_000;
const t0 = Date.now();
const stamp = (): string => `${String(Date.now() - t0).padStart(6)}ms`;
const log = (msg: string): void => console.log(`[${stamp()}] ${msg}`);

function check(cond: unknown, message: string): asserts cond {
  if (!cond) throw new Error(`CHECK FAILED: ${message}`);
}

function sandboxAgentBinary(): string {
  const pkg = createRequire(import.meta.url).resolve(`@sandbox-agent/cli-${process.platform}-${process.arch}/package.json`);
  const bin = path.join(path.dirname(pkg), "bin", "sandbox-agent");
  try {
    accessSync(bin, constants.X_OK);
  } catch {
    chmodSync(bin, 0o755); // npm 11 may skip the package's `chmod +x` postinstall
  }
  return bin;
}


/** PIDs (other than ours) whose environment carries `KILN_SMOKE_RUN=<runId>`: the server and its agents. */
function processesTagged(runId: string): number[] {
  const needle = `KILN_SMOKE_RUN=${runId}`;
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const env = readFileSync(`/proc/${entry}/environ`, "utf8").split("\0");
      if (env.includes(needle)) pids.push(Number(entry));
    } catch {
      // gone or not ours
    }
  }
  return pids;
}

/** One-line summary of a persisted SDK session event. */
function describe(e: SessionEvent): string {
  const p = e.payload as {
    id?: unknown;
    method?: string;
    params?: { prompt?: { text?: string }[]; update?: Record<string, unknown> };
    result?: unknown;
    error?: unknown;
  };
  const head = `#${e.eventIndex} ${e.sender === "client" ? "->" : "<-"}`;
  if (p.method === "session/update" && p.params?.update) {
    const u = p.params.update;
    const kind = String(u.sessionUpdate);
    if (kind === "agent_message_chunk") return `${head} ${kind} ${JSON.stringify((u.content as { text?: string }).text)}`;
    if (kind === "tool_call" || kind === "tool_call_update")
      return `${head} ${kind} ${String(u.toolCallId)} status=${String(u.status)}${u.title ? ` "${String(u.title)}"` : ""}`;
    return `${head} ${kind}`;
  }
  if (p.method) {
    const text = p.params?.prompt?.map((b) => b.text ?? "").join(" ");
    return `${head} ${p.method}${p.id !== undefined ? ` id=${String(p.id)}` : ""}${text ? ` ${JSON.stringify(text.slice(0, 80))}` : ""}`;
  }
  return `${head} response id=${String(p.id)} ${JSON.stringify(p.result ?? p.error).slice(0, 160)}`;
}

/** Highest event index stored for the session so far (0 when none). */
async function lastEventIndex(sdk: SandboxAgent, session: Session): Promise<number> {
  let max = 0;
  let cursor: string | undefined;
  do {
    const page = await sdk.getEvents({ sessionId: session.id, cursor, limit: 500 });
    for (const e of page.items) max = Math.max(max, e.eventIndex);
    cursor = page.nextCursor;
  } while (cursor);
  return max;
}

/**
 * Resolve when `pred` matches an event of `session` with eventIndex > `after`
 * (events already stored are checked too, so a fast agent cannot slip past).
 */
async function waitForEvent(
  sdk: SandboxAgent,
  session: Session,
  after: number,
  pred: (e: SessionEvent) => boolean,
  timeoutMs = 10_000,
): Promise<SessionEvent> {
  const match = (e: SessionEvent): boolean => e.eventIndex > after && pred(e);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error("timed out waiting for event"));
    }, timeoutMs);
    const off = session.onEvent((e) => {
      if (!match(e)) return;
      clearTimeout(timer);
      off();
      resolve(e);
    });
    void sdk.getEvents({ sessionId: session.id, limit: 500 }).then((page) => {
      const hit = page.items.find(match);
      if (!hit) return;
      clearTimeout(timer);
      off();
      resolve(hit);
    });
  });
}

const isAgentChunk = (e: SessionEvent): boolean =>
  e.sender === "agent" &&
  (e.payload as { method?: string; params?: { update?: { sessionUpdate?: string } } }).params?.update?.sessionUpdate ===
    "agent_message_chunk";

async function main(): Promise<void> {
  const runId = randomUUID();
  const root = mkdtempSync(path.join(tmpdir(), "kiln-sa-smoke-"));
  const xdg = path.join(root, "xdg");
  const home = path.join(root, "home");
  await mkdir(home, { recursive: true });
  const token = randomBytes(24).toString("base64url");
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const bin = sandboxAgentBinary();
  log(`root=${root} port=${port} run=${runId}`);

  // --- fixture: a local bare repo with one commit on main (plain git, not through sandbox-agent)
  const origin = path.join(root, "origin.git");
  const gitEnv = { ...process.env, HOME: home, GIT_CONFIG_NOSYSTEM: "1" };
  const git = (args: string[], cwd = root): string =>
    execFileSync("git", args, { cwd, env: gitEnv, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  git(["init", "-q", "--bare", "-b", "main", origin]);
  const seed = path.join(root, "seed");
  git(["clone", "-q", origin, seed]);
  git(["-C", seed, "symbolic-ref", "HEAD", "refs/heads/main"]);
  git(["-C", seed, "-c", "user.name=Seed", "-c", "user.email=seed@kiln.invalid", "commit", "-q", "--allow-empty", "-m", "initial commit"]);
  git(["-C", seed, "push", "-q", "origin", "main"]);

  // --- mock agent + server
  await installMockAgent(xdg, { env: { KILN_SMOKE_RUN: runId } });
  log(`installed ${mockAgentLauncherPath(xdg)}:\n${readFileSync(mockAgentLauncherPath(xdg), "utf8").trimEnd()}`);

  let server: ChildProcess | undefined;
  let sdk: SandboxAgent | undefined;
  let stopped = false;
  const killServer = (): void => {
    if (server && server.exitCode === null && server.signalCode === null) server.kill("SIGKILL");
  };
  process.once("exit", killServer);
  try {
    const started = Date.now();
    server = spawn(bin, ["server", "--no-telemetry", "--token", token, "-H", "127.0.0.1", "-p", String(port)], {
      env: { ...process.env, XDG_DATA_HOME: xdg, HOME: home, SANDBOX_AGENT_LOG_STDOUT: "1", KILN_SMOKE_RUN: runId },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let serverLog = "";
    server.stdout?.on("data", (d: Buffer) => (serverLog += d.toString()));
    server.stderr?.on("data", (d: Buffer) => (serverLog += d.toString()));
    const serverExit = new Promise<string>((resolve) => server?.once("exit", (code, sig) => resolve(`code=${code} signal=${sig}`)));

    // GET /v1/health needs the bearer token as soon as the server has one.
    for (;;) {
      if (server.exitCode !== null) throw new Error(`server exited early:\n${serverLog}`);
      try {
        const res = await fetch(`${baseUrl}/v1/health`, { headers: { Authorization: `Bearer ${token}` } });
        if (res.ok) {
          log(`GET /v1/health -> ${res.status} ${await res.text()} after ${Date.now() - started}ms`);
          break;
        }
      } catch {
        // not listening yet
      }
      if (Date.now() - started > 10_000) throw new Error(`server not healthy after 10s:\n${serverLog}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const noAuth = await fetch(`${baseUrl}/v1/health`);
    log(`GET /v1/health without token -> ${noAuth.status}`);
    check(noAuth.status === 401, "health without token must be 401");

    sdk = await SandboxAgent.connect({
      baseUrl,
      token,
      skipHealthCheck: true, // we polled ourselves; the SDK's own wait backs off from 500ms and has no default timeout
      fetch: createAcpFetch({ onAgentExit: (x) => log(`agent exited: ${JSON.stringify(x)}`) }),
    });
    const agentInfo = await sdk.getAgent(MOCK_AGENT_ID);
    log(`getAgent("mock") -> installed=${agentInfo.installed} path=${agentInfo.path ?? "-"} version=${agentInfo.version ?? "-"}`);
    check(agentInfo.installed, "mock agent must be reported installed");
    const install = await sdk.installAgent(MOCK_AGENT_ID);
    log(`installAgent("mock") (no reinstall) -> ${JSON.stringify(install)}`);

    // --- process API: clone + branch
    const wc = path.join(root, "work", "repo");
    const run = async (label: string, command: string, args: string[], cwd?: string) => {
      const res = await sdk!.runProcess({ command, args, cwd, timeoutMs: 60_000, env: { GIT_TERMINAL_PROMPT: "0" } });
      log(`${label}: exit=${res.exitCode} ${res.durationMs}ms${res.timedOut ? " TIMED OUT" : ""}`);
      for (const [name, text] of [["stdout", res.stdout], ["stderr", res.stderr]] as const) {
        if (text.trim()) console.log(text.trimEnd().split("\n").map((l) => `    ${name}| ${l}`).join("\n"));
      }
      return res;
    };
    await run("mkdir", "mkdir", ["-p", path.dirname(wc)]);
    check((await run("git clone", "git", ["clone", origin, wc])).exitCode === 0, "clone");
    check((await run("git checkout -B", "git", ["checkout", "-B", "task/smoke"], wc)).exitCode === 0, "checkout -B");
    check((await run("git branch -m", "git", ["branch", "-m", "task/smoke", "task/smoke-1"], wc)).exitCode === 0, "branch -m");
    await run("git status --porcelain", "git", ["status", "--porcelain", "--branch"], wc);

    // --- session API
    let t = Date.now();
    const session = await sdk.createSession({ agent: MOCK_AGENT_ID, cwd: wc });
    log(`createSession -> id=${session.id} agentSessionId=${session.agentSessionId} in ${Date.now() - t}ms (spawns the agent process)`);
    const offPrint = session.onEvent((e) => console.log(`    event ${describe(e)}`));

    t = Date.now();
    const first = await session.prompt([{ type: "text", text: "Summarise the repository" }]);
    log(`prompt("Summarise the repository") -> ${JSON.stringify(first)} in ${Date.now() - t}ms`);
    check(first.stopReason === "end_turn", "echo prompt ends with end_turn");
    const page1 = await sdk.getEvents({ sessionId: session.id, limit: 4 });
    const page2 = await sdk.getEvents({ sessionId: session.id, cursor: page1.nextCursor, limit: 4 });
    log(`getEvents limit=4 -> indexes ${page1.items.map((e) => e.eventIndex).join(",")} nextCursor=${page1.nextCursor}; ` +
      `cursor=${page1.nextCursor} -> ${page2.items.map((e) => e.eventIndex).join(",")} nextCursor=${page2.nextCursor}`);
    const sample = page2.items.find(isAgentChunk);
    if (sample) log(`raw SessionEvent: ${JSON.stringify(sample)}`);

    // --- cancel 1: soft cancel (raw ACP `session/cancel` notification); the session stays usable
    const servers = await sdk.listAcpServers();
    const acpServer = servers.servers.find((s) => s.agent === MOCK_AGENT_ID);
    check(acpServer, "an ACP server for the mock agent");
    log(`listAcpServers -> ${JSON.stringify(servers)}`);
    let before = await lastEventIndex(sdk, session);
    const slept = session.prompt([{ type: "text", text: "sleep 10000" }]);
    // Cancel only once the turn is running: a session/cancel that reaches the agent before the
    // prompt is a no-op and the turn then runs to completion (see docs/sandbox-agent.md).
    await waitForEvent(sdk, session, before, (e) => isAgentChunk(e) && JSON.stringify(e.payload).includes("Sleeping"));
    t = Date.now();
    const cancelRes = await fetch(`${baseUrl}/v1/acp/${encodeURIComponent(acpServer.serverId)}`, {
      method: "POST",
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", method: "session/cancel", params: { sessionId: session.agentSessionId } }),
    });
    const softResult = await slept;
    const softMs = Date.now() - t;
    log(`soft cancel: POST /v1/acp/{serverId} session/cancel -> HTTP ${cancelRes.status}; prompt -> ${JSON.stringify(softResult)} ${softMs}ms after cancel`);
    check(softResult.stopReason === "cancelled", "soft-cancelled prompt ends with cancelled");
    check(softMs < 2000, "soft cancel within 2s");

    // --- commit through the agent, then inspect through the process API
    t = Date.now();
    const committed = await session.prompt([{ type: "text", text: "commit notes.txt hello" }]);
    log(`prompt("commit notes.txt hello") -> ${JSON.stringify(committed)} in ${Date.now() - t}ms`);
    check(committed.stopReason === "end_turn", "commit prompt ends with end_turn");
    const logRes = await run("git log --oneline", "git", ["log", "--oneline"], wc);
    check(logRes.stdout.includes("agent: notes.txt"), "agent commit in git log");
    const diffRes = await run("git diff --stat HEAD~1", "git", ["diff", "--stat", "HEAD~1"], wc);
    check(diffRes.stdout.includes("notes.txt"), "notes.txt in diff --stat");
    await run("git status --porcelain", "git", ["status", "--porcelain"], wc);

    // --- cancel 2: destroySession (the SDK's only cancel; also marks the session destroyed)
    before = await lastEventIndex(sdk, session);
    const slept2 = session.prompt([{ type: "text", text: "sleep 10000" }]);
    await waitForEvent(sdk, session, before, (e) => isAgentChunk(e) && JSON.stringify(e.payload).includes("Sleeping"));
    t = Date.now();
    const destroyed = await sdk.destroySession(session.id);
    const destroyReturned = Date.now() - t;
    const hardResult = await slept2;
    const hardMs = Date.now() - t;
    log(`destroySession -> returned in ${destroyReturned}ms, destroyedAt=${destroyed.destroyedAt}; prompt -> ${JSON.stringify(hardResult)} ${hardMs}ms after the call`);
    check(hardResult.stopReason === "cancelled", "destroySession cancels the running turn");
    check(hardMs < 2000, "destroySession cancel within 2s");
    offPrint();

    const listed = await sdk.listSessions();
    log(`listSessions -> ${JSON.stringify(listed.items.map((s) => ({ id: s.id, agent: s.agent, destroyedAt: s.destroyedAt ?? null })))}`);
    const got = await sdk.getSession(session.id);
    log(`getSession -> destroyedAt=${got?.destroyedAt ?? null} (status is client-side only: the SDK persist driver)`);
    const status = await sdk.getAgent(MOCK_AGENT_ID);
    log(`getAgent("mock").serverStatus -> ${JSON.stringify(status.serverStatus ?? null)}`);

    const agentPids = processesTagged(runId).filter((pid) => pid !== server?.pid);
    log(`agent processes of this run: ${agentPids.join(",") || "none"}`);

    // --- shutdown
    t = Date.now();
    await sdk.dispose();
    log(`sdk.dispose() took ${Date.now() - t}ms`);
    t = Date.now();
    server.kill("SIGTERM");
    const how = await Promise.race([
      serverExit,
      new Promise<string>((r) => setTimeout(() => r("timeout"), 5000)),
    ]);
    if (how === "timeout") killServer();
    stopped = true;
    log(`server stopped (${how}) ${Date.now() - t}ms after SIGTERM`);
    await new Promise((r) => setTimeout(r, 200));

    const leftovers = processesTagged(runId);
    let pgrep = "";
    try {
      pgrep = execFileSync("pgrep", ["-af", "sandbox-agent"], { encoding: "utf8" });
    } catch {
      pgrep = ""; // exit 1 = no match
    }
    const ours = pgrep.split("\n").filter((l) => l.includes(String(port)) || l.includes(root) || l.includes(token));
    log(`pgrep -af sandbox-agent (this run): ${ours.length ? ours.join(" | ") : "none"}`);
    check(leftovers.length === 0 && ours.length === 0, `orphan processes: ${leftovers.join(",")} ${ours.join(" | ")}`);

    const homeFiles = readdirSync(home, { recursive: true });
    log(`files written under HOME: ${homeFiles.length ? homeFiles.join(", ") : "none"}`);
    const xdgFiles = readdirSync(xdg, { recursive: true }).map(String).sort();
    log(`files under XDG_DATA_HOME: ${xdgFiles.join(", ")}`);
  } finally {
    if (!stopped) {
      await sdk?.dispose().catch(() => {});
      killServer();
    }
    process.removeListener("exit", killServer);
    if (!process.env.KEEP_SMOKE_DIR) rmSync(root, { recursive: true, force: true });
  }
}

const watchdog = setTimeout(() => {
  console.error(`smoke: overall timeout after ${OVERALL_TIMEOUT_MS}ms`);
  process.exit(1);
}, OVERALL_TIMEOUT_MS);

main().then(
  () => {
    clearTimeout(watchdog);
    log("SMOKE OK");
    process.exit(0);
  },
  (error: unknown) => {
    clearTimeout(watchdog);
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    process.exit(1);
  },
);
