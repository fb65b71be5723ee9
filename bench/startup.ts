/**
 * How long `npm start` takes to answer `GET /healthz` 200, and what the process holds then,
 * against a bare Hono server started the same way in the same run.
 *
 *   npx tsx bench/startup.ts          # BENCH_STARTS [3] starts of each kind
 *   BENCH_KILN_ROOT=<other checkout> npx tsx bench/startup.ts   # the same, for another version
 *
 * Kinds: bare Hono (`node -e`, @hono/node-server); Kiln on a fresh data directory; Kiln again on
 * that directory. Each start is timed from spawn to the first 200 (polled every 10 ms). RSS is
 * read from /proc when /healthz first answers and again after BENCH_IDLE_MS [3000] of idling.
 * The bundle (dist/) and PGlite's cached empty database are prepared once before timing, as the
 * first `npm start` after `npm install` does.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { cpus, loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";

const ROOT = resolve(process.env.BENCH_KILN_ROOT ?? resolve(import.meta.dirname, ".."));
const STARTS = Number(process.env.BENCH_STARTS ?? 3);
const IDLE_MS = Number(process.env.BENCH_IDLE_MS ?? 3000);
const log = (msg: string) => process.stderr.write(`[startup] ${msg}\n`);

const BARE_HONO = `
import { serve } from "@hono/node-server";
import { Hono } from "hono";
const app = new Hono().get("/healthz", (c) => c.json({ ok: true }));
serve({ fetch: app.fetch, port: Number(process.env.PORT), hostname: "127.0.0.1" });
`;

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer().listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === "object" && addr ? res(addr.port) : rej(new Error("no port"))));
    });
  });
}

/** The RSS of `pid` or, when it is npm, of the node process npm runs (MB). */
function rssMb(pid: number): number {
  const children = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
  const target = children.length === 1 ? children[0]! : pid;
  const line = readFileSync(`/proc/${target}/status`, "utf8").split("\n").find((l) => l.startsWith("VmRSS:"));
  return Number(/(\d+)/.exec(line ?? "")?.[1] ?? Number.NaN) / 1024;
}

interface Start {
  ms: number;
  rssReadyMb: number;
  rssIdleMb: number;
}

async function timeStart(argv: string[], env: Record<string, string>): Promise<Start> {
  const port = await freePort();
  const t0 = performance.now();
  const proc: ChildProcess = spawn(argv[0]!, argv.slice(1), {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", PORT: String(port), HOST: "127.0.0.1", LOG_LEVEL: "warn", ...env },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  proc.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((res) => proc.once("exit", () => res()));
  try {
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`${argv.join(" ")} exited ${proc.exitCode}:\n${stderr}`);
      const ok = await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok, () => false);
      if (ok) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    const ms = performance.now() - t0;
    const rssReadyMb = rssMb(proc.pid!);
    await new Promise((r) => setTimeout(r, IDLE_MS));
    return { ms, rssReadyMb, rssIdleMb: rssMb(proc.pid!) };
  } finally {
    proc.kill("SIGTERM");
    await exited;
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  log("preparing dist/ and the cached empty database (npm run build)");
  const built = spawnSync("npm", ["run", "build", "--if-present", "--silent"], { cwd: ROOT, stdio: "inherit" });
  if (built.status !== 0) throw new Error("npm run build failed");
  log(`Kiln from ${ROOT}`);

  const rows: { label: string; starts: Start[] }[] = [];
  const bare: Start[] = [];
  const fresh: Start[] = [];
  const existing: Start[] = [];
  const root = mkdtempSync(join(tmpdir(), "kiln-bench-startup-"));
  try {
    for (let i = 0; i < STARTS; i++) {
      log(`round ${i + 1}/${STARTS}`);
      bare.push(await timeStart([process.execPath, "--input-type=module", "-e", BARE_HONO], {}));
      const dataDir = join(root, `data-${i}`);
      const env = { KILN_DATA_DIR: dataDir, NODE_ENV: "development", LOG_FORMAT: "json" };
      fresh.push(await timeStart(["npm", "start", "--silent"], env));
      if (!existsSync(join(dataDir, "pglite", "PG_VERSION"))) throw new Error("Kiln made no database");
      existing.push(await timeStart(["npm", "start", "--silent"], env));
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  rows.push({ label: "Baseline: bare Hono (`node -e`, @hono/node-server)", starts: bare });
  rows.push({ label: "Kiln, `npm start`, fresh data directory (PGlite)", starts: fresh });
  rows.push({ label: "Kiln, `npm start`, existing data directory (PGlite)", starts: existing });

  const f = (v: number) => `${Math.round(v)}`;
  const out = [
    `Machine: ${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, load average at the end ${loadavg().map((l) => l.toFixed(2)).join(" ")}, Node ${process.version}; ${STARTS} starts each.`,
    "",
    "| Start | to /healthz 200, median (ms) | min (ms) | ratio to bare Hono | RSS at first 200 (MB) | RSS after idle (MB) |",
    "| --- | ---: | ---: | ---: | ---: | ---: |",
    ...rows.map(({ label, starts }) => {
      const m = median(starts.map((s) => s.ms));
      return `| ${label} | ${f(m)} | ${f(Math.min(...starts.map((s) => s.ms)))} | ${(m / median(bare.map((s) => s.ms))).toFixed(1)}× | ${f(median(starts.map((s) => s.rssReadyMb)))} | ${f(median(starts.map((s) => s.rssIdleMb)))} |`;
    }),
  ];
  process.stdout.write(`${out.join("\n")}\n`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
