/**
 * Installs Kiln's scripted ACP test agent (./mock-agent.ts) as sandbox-agent's
 * built-in `mock` agent, for one sandbox-agent server.
 *
 * sandbox-agent 0.4.2 resolves the `mock` agent to the launcher
 * `$XDG_DATA_HOME/sandbox-agent/bin/agent_processes/mock-acp` (XDG_DATA_HOME of
 * the *server* process). It treats the agent as installed as soon as that file
 * exists: no version/metadata file is written or checked, and neither
 * `createSession({ agent: "mock" })` nor `POST /v1/agents/mock/install`
 * (without `reinstall: true`) touches an existing launcher. Only
 * `installAgent("mock", { reinstall: true })` / `sandbox-agent install-agent
 * mock --reinstall` overwrite it with the built-in echo-only mock. See docs/sandbox-agent.md.
 *
 * The launcher is a POSIX shell script that execs the mock agent with absolute
 * paths, so it works whatever cwd/PATH sandbox-agent spawns it with:
 *
 *   exec '<process.execPath>' --import 'file:///…/node_modules/tsx/dist/loader.mjs' '/…/actors/sandbox/agent/mock-agent.ts' "$@"
 */
import { chmod, mkdir, rename, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

/** Agent id to pass to `createSession({ agent })` for the mock agent. */
export const MOCK_AGENT_ID = "mock";

/** Launcher file name sandbox-agent 0.4.2 uses for the `mock` agent. */
export const MOCK_AGENT_LAUNCHER_NAME = "mock-acp";

/** Options for {@link installMockAgent}. All paths must be absolute. */
export interface InstallMockAgentOptions {
  /** Node binary to run the agent with. Default: `process.execPath`. */
  nodePath?: string;
  /** Agent entry file. Default: the `mock-agent.ts` next to this module. */
  agentPath?: string;
  /**
   * ESM loader passed to `node --import` (absolute path or file: URL). Default:
   * tsx's loader resolved from this package, needed to run the `.ts` agent.
   * Pass `null` when `agentPath` is plain JavaScript.
   */
  loader?: string | null;
  /** Extra environment for the agent process, e.g. `{ MOCK_AGENT_CHUNK_DELAY_MS: "0" }`. */
  env?: Readonly<Record<string, string>>;
}

/** Absolute path of the `mock` launcher for a server started with this XDG_DATA_HOME. */
export function mockAgentLauncherPath(xdgDataHome: string): string {
  return path.join(path.resolve(xdgDataHome), "sandbox-agent", "bin", "agent_processes", MOCK_AGENT_LAUNCHER_NAME);
}

/** Absolute path of the bundled mock agent source (`mock-agent.ts`). */
export function mockAgentEntryPath(): string {
  return fileURLToPath(new URL("./mock-agent.ts", import.meta.url));
}

/** `file:` URL of tsx's ESM loader (what `node --import tsx` loads). */
export function tsxLoaderUrl(): string {
  const require = createRequire(import.meta.url);
  return pathToFileURL(require.resolve("tsx")).href;
}

/** Quote a string for a POSIX shell single-quoted context. */
function shQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Build the launcher script text (exported for tests). */
export function renderMockAgentLauncher(options: InstallMockAgentOptions = {}): string {
  const nodePath = options.nodePath ?? process.execPath;
  const agentPath = options.agentPath ?? mockAgentEntryPath();
  const loader = options.loader === undefined ? tsxLoaderUrl() : options.loader;
  for (const [label, p] of [
    ["nodePath", nodePath],
    ["agentPath", agentPath],
  ] as const) {
    if (!path.isAbsolute(p)) throw new Error(`installMockAgent: ${label} must be absolute, got ${p}`);
  }
  const lines = ["#!/bin/sh", "# Kiln scripted ACP mock agent launcher (actors/sandbox/agent/install.ts). Do not edit."];
  for (const [key, value] of Object.entries(options.env ?? {})) {
    if (!ENV_NAME.test(key)) throw new Error(`installMockAgent: invalid env var name ${key}`);
    lines.push(`export ${key}=${shQuote(value)}`);
  }
  const args = [shQuote(nodePath)];
  if (loader) args.push("--import", shQuote(loader));
  args.push(shQuote(agentPath), '"$@"');
  lines.push(`exec ${args.join(" ")}`, "");
  return lines.join("\n");
}

/**
 * Write the `mock` launcher under `xdgDataHome` (the XDG_DATA_HOME the
 * sandbox-agent server runs with) and make it executable. Idempotent; safe to
 * call before the server starts or while it runs (atomic rename). Agent
 * processes already running keep their old code; new ACP connections pick up
 * the new launcher.
 */
export async function installMockAgent(xdgDataHome: string, options: InstallMockAgentOptions = {}): Promise<void> {
  const launcher = mockAgentLauncherPath(xdgDataHome);
  const script = renderMockAgentLauncher(options);
  await mkdir(path.dirname(launcher), { recursive: true });
  const tmp = `${launcher}.${process.pid}.${Date.now()}.tmp`;
  await writeFile(tmp, script, { mode: 0o755 });
  await chmod(tmp, 0o755);
  await rename(tmp, launcher);
}
