import { spawn, type ChildProcess } from "node:child_process";
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { afterAll, inject } from "vitest";
import { startKiln, type Kiln } from "../../server/app.js";
import { loadConfig } from "../../server/config.js";
import { createLogger } from "../../shared/logger.js";
import { createPostgresDatabase } from "./db.js";

export const REPO_ROOT = resolve(import.meta.dirname, "../..");

/** A fresh directory under this test run's root (removed when the run ends). */
export function tempDir(prefix: string): string {
  return mkdtempSync(join(inject("testRunRoot"), `${prefix}-`));
}

export function tempDataDir(): string {
  return tempDir("data");
}

/** Seeds a data directory with the migrated PGlite template so a test start skips initdb. */
export function seedDataDir(dataDir: string): void {
  cpSync(inject("pgliteTemplate"), join(dataDir, "pglite"), { recursive: true });
}

export interface TestKiln extends Kiln {
  dataDir: string;
  stop(): Promise<void>;
}

export interface TestKilnOptions {
  backend?: "pglite" | "postgres";
  env?: Record<string, string>;
  dataDir?: string;
}

/** Starts a Kiln in this process on a free port, with its own data directory (and database). */
export async function startTestKiln(opts: TestKilnOptions = {}): Promise<TestKiln> {
  const dataDir = opts.dataDir ?? tempDataDir();
  const pgdb = opts.backend === "postgres" ? await createPostgresDatabase() : undefined;
  if (!pgdb && !opts.dataDir) seedDataDir(dataDir);
  const config = loadConfig({
    NODE_ENV: "test",
    PORT: "0",
    KILN_DATA_DIR: dataDir,
    LOG_LEVEL: process.env.KILN_TEST_LOG_LEVEL ?? "silent",
    ...(pgdb ? { DATABASE_URL: pgdb.url } : {}),
    ...opts.env,
  });
  const kiln = await startKiln(config, createLogger(config.logLevel));
  return {
    ...kiln,
    dataDir,
    async stop() {
      await kiln.close();
      await pgdb?.drop();
      if (!opts.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface KilnProcess {
  url: string;
  proc: ChildProcess;
  output(): string;
  /** Resolves with the exit code (or signal) once the process ends. */
  exited: Promise<number | NodeJS.Signals | null>;
  kill(signal?: NodeJS.Signals): Promise<number | NodeJS.Signals | null>;
}

/**
 * How long one spawned Kiln may take to print its ready line. Separate from a test's own budget
 * for its assertions: on an idle machine a start takes ~2 s, but with two busy loops beside the
 * suite on 2 cores it took up to 16 s. A test that spawns Kilns takes `withStartups(n)` as its
 * timeout, so a slow start is waited for, not mistaken for a failure of what the test checks.
 */
export const KILN_STARTUP_BUDGET_MS = 60_000;

/** The timeout of a test that starts `kilns` Kilns: a startup budget each, plus `assertionsMs` for the rest. */
export function withStartups(kilns: number, assertionsMs = 30_000): number {
  return kilns * KILN_STARTUP_BUDGET_MS + assertionsMs;
}

/** Spawned Kilns still running; a test that fails before its `kill()` must not leave one behind. */
const live = new Set<ChildProcess>();
afterAll(async () => {
  const stopping = [...live].map((proc) => new Promise((res) => proc.once("exit", res)));
  for (const proc of live) proc.kill("SIGTERM");
  await Promise.all(stopping);
});

export interface SpawnOptions {
  expectReady?: boolean;
  /** Start through `npm start`, as the README does, instead of node directly. */
  viaNpmStart?: boolean;
  /** A command the node process runs under, such as `["prlimit", "--nofile=1024"]`. */
  wrapper?: string[];
}

/** Runs Kiln as a real child process, as `npm start` does, and waits for its ready line. */
export async function spawnKiln(env: Record<string, string>, opts: SpawnOptions = {}): Promise<KilnProcess> {
  const argv = opts.viaNpmStart ? ["npm", "start", "--silent"] : [...(opts.wrapper ?? []), process.execPath, join(REPO_ROOT, "scripts/start.mjs")];
  const proc = spawn(argv[0]!, argv.slice(1), {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", NODE_ENV: "test", LOG_LEVEL: "warn", PORT: "0", LOG_FORMAT: "json", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  proc.stdout?.on("data", (d: Buffer) => (out += d.toString()));
  proc.stderr?.on("data", (d: Buffer) => (out += d.toString()));
  live.add(proc);
  const exited = new Promise<number | NodeJS.Signals | null>((res) =>
    proc.once("exit", (code, signal) => {
      live.delete(proc);
      res(code ?? signal);
    }),
  );
  const kill = async (signal: NodeJS.Signals = "SIGTERM") => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
    return exited;
  };
  if (opts.expectReady === false) return { url: "", proc, output: () => out, exited, kill };
  const url = await new Promise<string>((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`Kiln did not become ready within ${KILN_STARTUP_BUDGET_MS} ms:\n${out}`)), KILN_STARTUP_BUDGET_MS);
    const check = () => {
      const m = /ready at (http:\/\/\S+)/.exec(out);
      if (m?.[1]) {
        clearTimeout(timer);
        res(m[1]);
      }
    };
    proc.stdout?.on("data", check);
    void exited.then((code) => {
      clearTimeout(timer);
      rej(new Error(`Kiln exited (${String(code)}) before ready:\n${out}`));
    });
  });
  return { url, proc, output: () => out, exited, kill };
}
