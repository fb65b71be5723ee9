/**
 * What the benchmark scripts share: knobs, timing and statistics, report formatting, an
 * in-process Kiln, a signed-up user, a bare Hono baseline, and the run-then-clean-up wrapper.
 * This module only defines; each bench script runs on import.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { cpus, freemem, platform, release, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { serve, type ServerType } from "@hono/node-server";
import { Hono } from "hono";
import { startKiln, type Kiln } from "../server/app.js";
import { loadConfig } from "../server/config.js";
import { createLogger } from "../shared/logger.js";

/** Steps run in reverse order when a bench ends, whether it succeeded or failed. */
export type Cleanups = (() => Promise<void> | void)[];

/** A non-negative integer from the environment, else `fallback`. */
export function envInt(name: string, fallback: number): number {
  const v = process.env[name];
  const n = v ? Number.parseInt(v, 10) : Number.NaN;
  return Number.isFinite(n) && n >= 0 ? n : fallback;
}

/** Progress lines on stderr, so stdout carries only the report. */
export function makeLog(tag: string): (msg: string) => void {
  return (msg) => process.stderr.write(`[${tag}] ${msg}\n`);
}

export const sleep = (ms: number) => new Promise<void>((res) => setTimeout(res, ms));

// ---------------------------------------------------------------------------------------------
// Timing and statistics

export interface Stats {
  n: number;
  meanMs: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export function stats(samples: number[]): Stats {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] ?? Number.NaN;
  return {
    n: s.length,
    meanMs: s.reduce((a, b) => a + b, 0) / s.length,
    p50Ms: at(0.5),
    p99Ms: at(0.99),
    maxMs: s[s.length - 1] ?? Number.NaN,
  };
}

/** Milliseconds `fn` takes. */
export async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

/** Sequential calls: `warmup` unmeasured, then `n` timed one after another. */
export async function timeCalls(fn: () => Promise<unknown>, n: number, warmup: number): Promise<Stats> {
  for (let i = 0; i < warmup; i++) await fn();
  const samples = new Array<number>(n);
  for (let i = 0; i < n; i++) samples[i] = await timed(fn);
  return stats(samples);
}

// ---------------------------------------------------------------------------------------------
// Report formatting

export function ms(v: number): string {
  if (!Number.isFinite(v)) return "n/a";
  if (v < 0.01) return `${(v * 1000).toFixed(2)} µs`;
  if (v < 1) return `${(v * 1000).toFixed(0)} µs`;
  if (v < 10) return `${v.toFixed(2)} ms`;
  return `${v.toFixed(1)} ms`;
}

/** Markdown table; the first and any `textCols` columns are left-aligned, the rest right-aligned. */
export function table(header: string[], rows: string[][], textCols: number[] = []): string {
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  const align = header.map((_, i) => (i === 0 || textCols.includes(i) ? "---" : "---:"));
  return [line(header), line(align), ...rows.map(line)].join("\n");
}

/** CPUs, memory, OS and Node version, for the report's "Machine:" line. */
export function machineDescription(): string {
  const cpuList = cpus();
  return `${cpuList.length} × ${cpuList[0]?.model.trim() ?? "unknown CPU"}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM (${(freemem() / 2 ** 30).toFixed(1)} GiB free), ${platform()} ${release()}, Node ${process.version}`;
}

// ---------------------------------------------------------------------------------------------
// Kiln and a signed-up user

/**
 * Kiln on a fresh data directory (PGlite unless `env` names a DATABASE_URL), silent. Its stop
 * (also pushed to `cleanups`, and run once) closes Kiln, then runs `afterClose`, then removes the directory.
 */
export async function startBenchKiln(
  cleanups: Cleanups,
  env: Record<string, string> = {},
  afterClose?: () => Promise<void>,
): Promise<{ kiln: Kiln; dataDir: string; stop(): Promise<void> }> {
  const dataDir = mkdtempSync(join(tmpdir(), "kiln-bench-"));
  try {
    const config = loadConfig({ PORT: "0", KILN_DATA_DIR: dataDir, LOG_LEVEL: "silent", NODE_ENV: "test", ...env });
    const kiln = await startKiln(config, createLogger("silent"));
    let stopped: Promise<void> | undefined;
    const stop = () =>
      (stopped ??= (async () => {
        await kiln.close();
        await afterClose?.();
        rmSync(dataDir, { recursive: true, force: true });
      })());
    cleanups.push(stop);
    return { kiln, dataDir, stop };
  } catch (err) {
    rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
}

/** Signs up a new user by email; `tag` goes into the address (`bench-<tag>-…@example.com`). */
export async function signUp(baseUrl: string, name: string, tag?: string): Promise<{ token: string; userId: string }> {
  const email = `bench-${tag ? `${tag}-` : ""}${Date.now().toString(36)}-${randomBytes(3).toString("hex")}@example.com`;
  const res = await fetch(`${baseUrl}/api/auth/sign-up/email`, {
    method: "POST",
    headers: { "content-type": "application/json", origin: new URL(baseUrl).origin },
    body: JSON.stringify({ email, password: "correct-horse-battery", name }),
  });
  if (res.status !== 200) throw new Error(`sign-up failed: ${res.status} ${await res.text()}`);
  const body = (await res.json()) as { token: string; user: { id: string } };
  return { token: body.token, userId: body.user.id };
}

// ---------------------------------------------------------------------------------------------
// Baseline: a bare Hono app on @hono/node-server

/** Serves `app` on a free port of 127.0.0.1; `close` is also pushed to `cleanups` when given. */
export async function listen(app: Hono, cleanups?: Cleanups): Promise<{ url: string; close(): Promise<void> }> {
  const server: ServerType = await new Promise((res, rej) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, () => res(s));
    s.once("error", rej);
  });
  const { port } = server.address() as AddressInfo;
  const close = () =>
    new Promise<void>((res) => {
      server.close(() => res());
      if ("closeAllConnections" in server) server.closeAllConnections();
    });
  cleanups?.push(close);
  return { url: `http://127.0.0.1:${port}`, close };
}

/** `GET <path>` of the same shape as Kiln's: checks for a Bearer token, answers with `body`. */
export function bearerBaselineApp(path: string, body: unknown): Hono {
  const app = new Hono();
  app.get(path, (c) => {
    const auth = c.req.header("authorization");
    if (!auth?.startsWith("Bearer ") || auth.length <= 7) return c.json({ error: "unauthorized" }, 401);
    return c.json(body);
  });
  return app;
}

// ---------------------------------------------------------------------------------------------
// Running a bench

async function runCleanups(cleanups: Cleanups, log: (msg: string) => void): Promise<void> {
  for (const step of cleanups.reverse()) {
    try {
      await step();
    } catch (err) {
      log(`cleanup step failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
}

/** Runs `main`, then the cleanups, and exits 0, or 1 with the error on stderr. */
export function runBench(main: () => Promise<void>, cleanups: Cleanups, log: (msg: string) => void): void {
  main()
    .then(async () => {
      await runCleanups(cleanups, log);
      process.exit(0);
    })
    .catch(async (err: unknown) => {
      process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      await runCleanups(cleanups, log);
      process.exit(1);
    });
}
