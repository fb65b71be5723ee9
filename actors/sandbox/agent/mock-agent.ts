/**
 * Scripted ACP test agent ("mock" agent for sandbox-agent).
 *
 * Speaks the Agent Client Protocol (JSON-RPC 2.0, newline-delimited JSON) over
 * stdin/stdout using `@agentclientprotocol/sdk`. sandbox-agent launches it
 * through the launcher written by `installMockAgent()` (see ./install.ts) as
 * `<node> --import <tsx loader> <this file>`.
 *
 * Behaviour is driven by the prompt text so tests can script it. The text of
 * all `text` content blocks of a prompt is joined with newlines (a history
 * block the SDK prepends after `resumeSession()` is skipped), then:
 *
 *   - `sleep <ms>`            stream one chunk, then wait <ms> in 25 ms steps;
 *                             `session/cancel` ends the turn promptly with
 *                             stopReason `cancelled`. Otherwise ends `end_turn`.
 *   - `commit <path> <text>`  write <text> (rest of the prompt) + "\n" to <path>
 *                             inside the session cwd (the working copy from
 *                             session/new), `git add <path>` and
 *                             `git commit -m "agent: <path>"` as
 *                             "Kiln Mock Agent <mock-agent@kiln.invalid>";
 *                             reported through a tool_call/tool_call_update
 *                             (kind "edit") and a text chunk with the short sha.
 *                             A failing git command marks the tool call
 *                             `failed`; the turn still ends with `end_turn`.
 *   - `fail <message>`        (only at the very start of the prompt) the prompt request fails with JSON-RPC error
 *                             -32603 (internal error) carrying <message>.
 *   - `crash`                 (only at the very start of the prompt) the agent process exits with code 3 mid-turn.
 *   - `recall`                (only at the very start of the prompt) answers with the earlier
 *                             conversation the client handed over in a history block (Kiln's,
 *                             after a restart), or "No earlier conversation."
 *   - anything else           three `agent_message_chunk` text updates that
 *                             together read "Working on: <prompt>", one
 *                             `tool_call` (kind "think", status in_progress)
 *                             and its `tool_call_update` (completed), then
 *                             stopReason `end_turn`.
 *
 * Directives are checked in the order fail, crash, recall, sleep, commit, default; the
 * first one found wins. Matching is case-sensitive; `sleep`/`commit` may appear
 * anywhere in the prompt as a whole word (`\bsleep\s+\d+`, `\bcommit\s+\S+\s+.+`),
 * so avoid phrases like "commit history foo" in prompts meant for the default path.
 *
 * Env knobs: MOCK_AGENT_CHUNK_DELAY_MS (default 20) delay between streamed
 * updates. No network access, no credentials. Diagnostics go to stderr only
 * (stdout is the protocol channel).
 */
import { execFile } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { HISTORY_PREFIX } from "./history.js";
import { Readable, Writable } from "node:stream";
import { promisify } from "node:util";
import {
  AgentSideConnection,
  PROTOCOL_VERSION,
  RequestError,
  ndJsonStream,
  type Agent,
  type AuthenticateResponse,
  type CancelNotification,
  type CloseSessionRequest,
  type CloseSessionResponse,
  type InitializeRequest,
  type InitializeResponse,
  type ListSessionsRequest,
  type ListSessionsResponse,
  type LoadSessionRequest,
  type LoadSessionResponse,
  type NewSessionRequest,
  type NewSessionResponse,
  type PromptRequest,
  type PromptResponse,
  type SessionUpdate,
} from "@agentclientprotocol/sdk";

const execFileAsync = promisify(execFile);

/** Name/version the agent reports in `initialize`. */
export const MOCK_AGENT_INFO = { name: "kiln-mock-agent", version: "1.0.0" } as const;
/** Identity used for commits made by the `commit` directive. */
export const MOCK_AGENT_GIT_IDENTITY = {
  name: "Kiln Mock Agent",
  email: "mock-agent@kiln.invalid",
} as const;

const SLEEP_STEP_MS = 25;
const CHUNK_DELAY_MS = parseNonNegativeInt(process.env.MOCK_AGENT_CHUNK_DELAY_MS, 20);

/** A parsed prompt directive. Exported for unit tests of the parser. */
export type MockDirective =
  | { kind: "fail"; message: string }
  | { kind: "crash" }
  | { kind: "recall" }
  | { kind: "sleep"; ms: number }
  | { kind: "commit"; path: string; text: string }
  | { kind: "echo"; text: string };

/** Parse the prompt text into the directive the agent will act on. */
export function parseDirective(text: string): MockDirective {
  const fail = /^\s*fail\b\s*([\s\S]*)$/.exec(text);
  if (fail) return { kind: "fail", message: fail[1]?.trim() || "scripted failure" };
  if (/^\s*crash\b/.test(text)) return { kind: "crash" };
  if (/^\s*recall\b/.test(text)) return { kind: "recall" };
  const sleep = /\bsleep\s+(\d+)\b/.exec(text);
  if (sleep) return { kind: "sleep", ms: Number(sleep[1]) };
  const commit = /\bcommit\s+(\S+)\s+([\s\S]+)$/.exec(text);
  if (commit) return { kind: "commit", path: commit[1] ?? "", text: (commit[2] ?? "").trim() };
  return { kind: "echo", text };
}

interface MockSession {
  readonly id: string;
  readonly cwd: string;
  updatedAt: string;
  /** Aborted by session/cancel (or a newer prompt) while a turn runs. */
  turn: AbortController | null;
  /** The history block handed over with a prompt, kept as this agent's memory of earlier turns. */
  history?: string;
}

class CancelledError extends Error {
  constructor() {
    super("cancelled");
  }
}

function log(message: string): void {
  process.stderr.write(`[mock-agent ${process.pid}] ${message}\n`);
}

function parseNonNegativeInt(raw: string | undefined, fallback: number): number {
  const value = raw === undefined ? Number.NaN : Number(raw);
  return Number.isInteger(value) && value >= 0 ? value : fallback;
}

function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new CancelledError());
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(new CancelledError());
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Prefix of the history block the sandbox-agent SDK prepends to the first prompt after
 * `resumeSession()` re-creates a session on a new agent process. Ignored for directive
 * matching, so replayed `sleep`/`commit` prompts are not executed again.
 */
export const SDK_REPLAY_PREFIX = "Previous session history is replayed below as JSON-RPC envelopes.";

function isHistoryBlock(text: string): boolean {
  return text.startsWith(SDK_REPLAY_PREFIX) || text.startsWith(HISTORY_PREFIX);
}

function promptText(prompt: PromptRequest["prompt"]): string {
  return prompt
    .map((block) => (block.type === "text" && !isHistoryBlock(block.text) ? block.text : ""))
    .filter((t) => t.length > 0)
    .join("\n");
}

/** Split a string into `parts` pieces of roughly equal length (never empty pieces unless the input is short). */
function splitInto(text: string, parts: number): string[] {
  const size = Math.ceil(text.length / parts);
  const out: string[] = [];
  for (let i = 0; i < parts; i += 1) out.push(text.slice(i * size, (i + 1) * size));
  return out.filter((p) => p.length > 0);
}

let toolCallCounter = 0;
function nextToolCallId(): string {
  toolCallCounter += 1;
  return `mock_call_${toolCallCounter}`;
}

class MockAgent implements Agent {
  private readonly sessions = new Map<string, MockSession>();

  constructor(private readonly conn: AgentSideConnection) {}

  async initialize(params: InitializeRequest): Promise<InitializeResponse> {
    log(`initialize protocolVersion=${params.protocolVersion}`);
    return {
      protocolVersion: PROTOCOL_VERSION,
      agentInfo: { ...MOCK_AGENT_INFO },
      agentCapabilities: {
        loadSession: true,
        promptCapabilities: { image: false, audio: false, embeddedContext: false },
        sessionCapabilities: { list: {}, close: {} },
      },
      authMethods: [],
    };
  }

  async authenticate(): Promise<AuthenticateResponse> {
    return {};
  }

  async newSession(params: NewSessionRequest): Promise<NewSessionResponse> {
    const id = `mock-${crypto.randomUUID()}`;
    this.sessions.set(id, { id, cwd: params.cwd, updatedAt: new Date().toISOString(), turn: null });
    log(`session/new ${id} cwd=${params.cwd}`);
    return { sessionId: id };
  }

  /** Stateless agent: loading just (re)registers the session id with its cwd. Nothing is replayed. */
  async loadSession(params: LoadSessionRequest): Promise<LoadSessionResponse> {
    const existing = this.sessions.get(params.sessionId);
    if (!existing) {
      this.sessions.set(params.sessionId, {
        id: params.sessionId,
        cwd: params.cwd,
        updatedAt: new Date().toISOString(),
        turn: null,
      });
    }
    log(`session/load ${params.sessionId}`);
    return {};
  }

  async listSessions(params: ListSessionsRequest): Promise<ListSessionsResponse> {
    const sessions = [...this.sessions.values()]
      .filter((s) => !params.cwd || s.cwd === params.cwd)
      .map((s) => ({ sessionId: s.id, cwd: s.cwd, updatedAt: s.updatedAt }));
    return { sessions };
  }

  async unstable_closeSession(params: CloseSessionRequest): Promise<CloseSessionResponse> {
    const session = this.sessions.get(params.sessionId);
    session?.turn?.abort();
    this.sessions.delete(params.sessionId);
    return {};
  }

  async cancel(params: CancelNotification): Promise<void> {
    const session = this.sessions.get(params.sessionId);
    log(`session/cancel ${params.sessionId} running=${session?.turn ? "yes" : "no"}`);
    session?.turn?.abort();
  }

  async extMethod(method: string): Promise<Record<string, unknown>> {
    throw RequestError.methodNotFound(method);
  }

  async extNotification(method: string): Promise<void> {
    log(`ignoring notification ${method}`);
  }

  async prompt(params: PromptRequest): Promise<PromptResponse> {
    const session = this.sessions.get(params.sessionId);
    if (!session) throw RequestError.resourceNotFound(params.sessionId);
    // One turn per session at a time: a new prompt cancels the previous one.
    session.turn?.abort();
    const turn = new AbortController();
    session.turn = turn;
    session.updatedAt = new Date().toISOString();
    const text = promptText(params.prompt);
    const history = params.prompt.find((b) => b.type === "text" && b.text.startsWith(HISTORY_PREFIX));
    if (history?.type === "text") session.history = history.text;
    log(`session/prompt ${session.id}: ${JSON.stringify(text.slice(0, 200))}`);
    try {
      await this.runTurn(session, parseDirective(text), turn.signal);
      return { stopReason: turn.signal.aborted ? "cancelled" : "end_turn" };
    } catch (error) {
      if (error instanceof CancelledError || turn.signal.aborted) return { stopReason: "cancelled" };
      throw error;
    } finally {
      if (session.turn === turn) session.turn = null;
    }
  }

  private async update(sessionId: string, update: SessionUpdate): Promise<void> {
    await this.conn.sessionUpdate({ sessionId, update });
  }

  private async say(sessionId: string, text: string): Promise<void> {
    await this.update(sessionId, { sessionUpdate: "agent_message_chunk", content: { type: "text", text } });
  }

  private async runTurn(session: MockSession, directive: MockDirective, signal: AbortSignal): Promise<void> {
    const sid = session.id;
    switch (directive.kind) {
      case "fail":
        throw RequestError.internalError({ reason: directive.message }, directive.message);
      case "crash":
        await this.say(sid, "Crashing on purpose.");
        log("crash directive: exiting with code 3");
        return process.exit(3);
      case "recall":
        await this.say(sid, session.history ? `I remember:\n${session.history.slice(HISTORY_PREFIX.length).trim()}` : "No earlier conversation.");
        return;
      case "sleep": {
        await this.say(sid, `Sleeping for ${directive.ms}ms.`);
        const deadline = Date.now() + directive.ms;
        while (Date.now() < deadline) {
          await delay(Math.min(SLEEP_STEP_MS, deadline - Date.now()), signal);
        }
        await this.say(sid, ` Woke up after ${directive.ms}ms.`);
        return;
      }
      case "commit":
        await this.commit(session, directive.path, directive.text, signal);
        return;
      case "echo": {
        const message = `Working on: ${directive.text}`;
        for (const part of splitInto(message, 3)) {
          await this.say(sid, part);
          await delay(CHUNK_DELAY_MS, signal);
        }
        const toolCallId = nextToolCallId();
        await this.update(sid, {
          sessionUpdate: "tool_call",
          toolCallId,
          title: "Thinking about the prompt",
          kind: "think",
          status: "in_progress",
          rawInput: { prompt: directive.text },
        });
        await delay(CHUNK_DELAY_MS, signal);
        await this.update(sid, {
          sessionUpdate: "tool_call_update",
          toolCallId,
          status: "completed",
          content: [{ type: "content", content: { type: "text", text: `Echoed ${directive.text.length} characters.` } }],
          rawOutput: { length: directive.text.length },
        });
        return;
      }
    }
  }

  private async commit(session: MockSession, relPath: string, text: string, signal: AbortSignal): Promise<void> {
    const sid = session.id;
    const cwd = path.resolve(session.cwd);
    const target = path.resolve(cwd, relPath);
    const toolCallId = nextToolCallId();
    await this.update(sid, {
      sessionUpdate: "tool_call",
      toolCallId,
      title: `Write and commit ${relPath}`,
      kind: "edit",
      status: "in_progress",
      locations: [{ path: target }],
      rawInput: { path: relPath, text },
    });
    try {
      if (target !== cwd && !target.startsWith(cwd + path.sep)) {
        throw new Error(`refusing to write outside the working copy: ${relPath}`);
      }
      await mkdir(path.dirname(target), { recursive: true });
      await writeFile(target, `${text}\n`, "utf8");
      const env = {
        ...process.env,
        GIT_AUTHOR_NAME: MOCK_AGENT_GIT_IDENTITY.name,
        GIT_AUTHOR_EMAIL: MOCK_AGENT_GIT_IDENTITY.email,
        GIT_COMMITTER_NAME: MOCK_AGENT_GIT_IDENTITY.name,
        GIT_COMMITTER_EMAIL: MOCK_AGENT_GIT_IDENTITY.email,
        GIT_TERMINAL_PROMPT: "0",
      };
      const git = (args: string[]) =>
        execFileAsync("git", ["-c", "commit.gpgsign=false", "-c", "core.hooksPath=/dev/null", ...args], {
          cwd,
          env,
          signal,
        });
      const rel = path.relative(cwd, target);
      await git(["add", "--", rel]);
      await git(["commit", "-q", "-m", `agent: ${relPath}`, "--", rel]);
      const { stdout } = await git(["rev-parse", "--short", "HEAD"]);
      const sha = stdout.trim();
      await this.update(sid, {
        sessionUpdate: "tool_call_update",
        toolCallId,
        status: "completed",
        content: [{ type: "diff", path: target, oldText: null, newText: `${text}\n` }],
        rawOutput: { sha, path: rel },
      });
      await this.say(sid, `Committed ${rel} as ${sha}.`);
    } catch (error) {
      if (signal.aborted) throw new CancelledError();
      const message = error instanceof Error ? error.message : String(error);
      log(`commit failed: ${message}`);
      await this.update(sid, {
        sessionUpdate: "tool_call_update",
        toolCallId,
        status: "failed",
        content: [{ type: "content", content: { type: "text", text: message } }],
        rawOutput: { error: message },
      });
      await this.say(sid, `Commit of ${relPath} failed: ${message}`);
    }
  }
}

/** Run the agent on this process's stdio until stdin closes. */
export async function runMockAgent(): Promise<void> {
  const stream = ndJsonStream(
    Writable.toWeb(process.stdout) as WritableStream<Uint8Array>,
    Readable.toWeb(process.stdin) as unknown as ReadableStream<Uint8Array>,
  );
  const conn = new AgentSideConnection((c) => new MockAgent(c), stream);
  log("started");
  await conn.closed;
  log("stdin closed, exiting");
}

const isMain = process.argv[1] !== undefined && path.resolve(process.argv[1]) === new URL(import.meta.url).pathname;
if (isMain) {
  runMockAgent().then(
    () => process.exit(0),
    (error: unknown) => {
      log(`fatal: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      process.exit(1);
    },
  );
}
