/**
 * What the benchmark scripts share: knobs, timing and statistics, report formatting, load
 * generation (autocannon in a child process), an in-process Kiln, a signed-up user, a bare Hono
 * baseline, and the run-then-clean-up wrapper.
 * This module only defines; each bench script runs on import.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { cpus, freemem, platform, release, tmpdir, totalmem } from "node:os";
import { join, resolve } from "node:path";
import { serve, type ServerType } from "@hono/node-server";
import { Hono } from "hono";
import { startKiln, type Kiln } from "../server/app.js";
import { loadConfig } from "../server/config.js";
import { createLogger } from "../shared/logger.js";
import type { LoadResult, LoadSpec } from "./load.js";

const ROOT = resolve(import.meta.dirname, "..");

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
  /** For a few dozen samples, where p99 is already the max. */
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** Nearest-rank percentiles, mean and max of `samples` (milliseconds); NaN where there are none. */
export function stats(samples: number[]): Stats {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] ?? Number.NaN;
  return {
    n: s.length,
    meanMs: s.reduce((a, b) => a + b, 0) / s.length,
    p50Ms: at(0.5),
    p95Ms: at(0.95),
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

/** autocannon's histogram keeps whole milliseconds (values are truncated). */
export function wholeMs(v: number): string {
  return v < 1 ? "< 1 ms" : `${Math.floor(v)} ms`;
}

/** Markdown table; the first and any `textCols` columns are left-aligned, the rest right-aligned. */
export function table(header: string[], rows: string[][], textCols: number[] = []): string {
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  const align = header.map((_, i) => (i === 0 || textCols.includes(i) ? "---" : "---:"));
  return [line(header), line(align), ...rows.map(line)].join("\n");
}

/** One part of a request, timed sequentially in process (`timeCalls`). */
export interface Part {
  label: string;
  stats: Stats;
}

/** The "where one request goes" table: p50, p99 and mean of each part. */
export function partsTable(parts: Part[]): string {
  return table(["Part", "p50", "p99", "mean"], parts.map((p) => [p.label, ms(p.stats.p50Ms), ms(p.stats.p99Ms), ms(p.stats.meanMs)]));
}

/** CPUs, memory, OS and Node version, for the report's "Machine:" line. */
export function machineDescription(): string {
  const cpuList = cpus();
  return `${cpuList.length} × ${cpuList[0]?.model.trim() ?? "unknown CPU"}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM (${(freemem() / 2 ** 30).toFixed(1)} GiB free), ${platform()} ${release()}, Node ${process.version}`;
}

// ---------------------------------------------------------------------------------------------
// Load generation (autocannon in a child process, ./load.ts)

/** A bench's load knobs: everything of a LoadSpec but the target. */
export type LoadKnobs = Omit<LoadSpec, "url" | "headers">;

/** autocannon's figures, plus how busy the process serving the url was meanwhile. */
export type ServedLoad = LoadResult & { serverCpuPct: number };

/**
 * Runs autocannon against `url` and reports, beside its figures, how busy this process (the one
 * serving `url`) was meanwhile: 100% means one core, the most one event loop can use.
 */
export async function runLoad(url: string, headers: Record<string, string>, knobs: LoadKnobs): Promise<ServedLoad> {
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const result = await spawnLoad({ url, headers, ...knobs });
  const wallUs = Number(process.hrtime.bigint() - t0) / 1e3;
  const cpu = process.cpuUsage(cpu0);
  return { ...result, serverCpuPct: ((cpu.user + cpu.system) / wallUs) * 100 };
}

/** A child process, so that autocannon and the server under test do not share one event loop. */
function spawnLoad(spec: LoadSpec): Promise<LoadResult> {
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, ["--import", "tsx", join(ROOT, "bench/load.ts"), JSON.stringify(spec)], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    child.once("error", rej);
    child.once("exit", (code) => {
      if (code !== 0) return rej(new Error(`load generator exited ${String(code)}: ${err}`));
      try {
        res(JSON.parse(out.trim().split("\n").pop() ?? "") as LoadResult);
      } catch (e) {
        rej(new Error(`load generator printed no result: ${out}\n${err}`, { cause: e }));
      }
    });
  });
}

/** The load table, one row a target; autocannon's latencies are whole milliseconds (`wholeMs`). */
export function loadTable(rows: { label: string; result: ServedLoad }[]): string {
  return table(
    ["Target", "req/s", "p50", "p99", "mean", "max", "requests", "server CPU", "autocannon CPU"],
    rows.map(({ label, result: r }) => [
      label,
      r.requestsPerSec.toFixed(0),
      wholeMs(r.latencyP50Ms),
      wholeMs(r.latencyP99Ms),
      ms(r.latencyMeanMs),
      wholeMs(r.latencyMaxMs),
      String(r.requestsTotal),
      `${r.serverCpuPct.toFixed(0)}%`,
      `${r.loadCpuPct.toFixed(0)}%`,
    ]),
  );
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
    // Benchmarks sign up hundreds of users from one address: the sign-up limit would refuse them.
    const config = loadConfig({ PORT: "0", KILN_DATA_DIR: dataDir, LOG_LEVEL: "silent", NODE_ENV: "test", KILN_AUTH_RATE_LIMIT: "off", ...env });
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
