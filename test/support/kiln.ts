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

/** Runs `server/main.ts` as a real child process, as `npm start` does, and waits for its ready line. */
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

export async function spawnKiln(env: Record<string, string>, opts: SpawnOptions = {}): Promise<KilnProcess> {
  const argv = opts.viaNpmStart ? ["npm", "start", "--silent"] : [...(opts.wrapper ?? []), process.execPath, "--import", "tsx", join(REPO_ROOT, "server/main.ts")];
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
    const timer = setTimeout(() => rej(new Error(`Kiln did not become ready:\n${out}`)), 45_000);
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
