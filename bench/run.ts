/**
 * `npm run bench`: every hot-path figure of issue 13, each measured in this one run beside its
 * baseline, printed as one markdown table (stdout; progress on stderr). See BENCHMARKS.md.
 *
 *   npm run bench                                                   # PGlite (the default app database)
 *   DATABASE_URL_BENCH=postgres://127.0.0.1:5432/test npm run bench # adds GET /v1/me on PostgreSQL
 *
 * One Kiln on PGlite (KILN_SANDBOX_PROVIDER=local-git) serves every figure; autocannon and the
 * subscribers run in child processes. Baselines are bare Hono / bare `ws` servers in this process
 * serving the very bodies Kiln served. The load average is read at each figure: the machine is shared.
 *
 * Knobs (defaults in brackets): BENCH_CONNECTIONS [10], BENCH_DURATION [5] s, BENCH_WARMUP [2] s,
 * BENCH_TASKS [1000], BENCH_SEED_CONCURRENCY [8], BENCH_LIST_CALLS [200], BENCH_SUBSCRIBERS [100],
 * BENCH_SUBSCRIBER_PROCS [4] (child processes the subscribers are spread over),
 * BENCH_FANOUT_ROUNDS [20], BENCH_WS_CONNECTIONS [1000], and BENCH_ONLY: a comma-separated subset of
 * `me`, `worker`, `create`, `task`, `list`, `fanout`, `memory`, `pg` (every row's "Reproduce" cell is
 * the command that measures that row alone).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { loadavg, tmpdir, userInfo } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { Hono } from "hono";
import pg from "pg";
import { WebSocketServer } from "ws";
import type { TaskSummary } from "../shared/schemas/task.js";
import { createBareRepo } from "../test/support/git-fixture.js";
import { bearerBaselineApp, envInt, listen, machineDescription, makeLog, ms, runBench, runLoad, signUp, sleep, startBenchKiln, stats, table, timeCalls, timed, type Cleanups, type LoadKnobs, type ServedLoad } from "./support.js";
import type { SubscribersSpec } from "./subscribers.js";

const ROOT = resolve(import.meta.dirname, "..");
const LOAD: LoadKnobs = { connections: envInt("BENCH_CONNECTIONS", 10), warmupSeconds: envInt("BENCH_WARMUP", 2), durationSeconds: envInt("BENCH_DURATION", 5) };
const TASKS = Math.max(1, envInt("BENCH_TASKS", 1000));
const LIST_CALLS = Math.max(1, envInt("BENCH_LIST_CALLS", 200));
const SUBSCRIBERS = Math.max(1, envInt("BENCH_SUBSCRIBERS", 100));
const FANOUT_ROUNDS = Math.max(1, envInt("BENCH_FANOUT_ROUNDS", 20));
const WS_CONNECTIONS = Math.max(1, envInt("BENCH_WS_CONNECTIONS", 1000));
const SEED_CONCURRENCY = Math.max(1, envInt("BENCH_SEED_CONCURRENCY", 8));
const SUBSCRIBER_PROCS = Math.max(1, envInt("BENCH_SUBSCRIBER_PROCS", 4));
/** The POST /tasks figures: the creations once the org already holds (nearly) BENCH_TASKS tasks. */
const LAST_CREATES = Math.min(100, TASKS);
/** Of those, created one at a time with the previous one provisioned (the 202 alone). */
const ISOLATED_CREATES = Math.min(30, LAST_CREATES);

const FIGURES = ["me", "worker", "create", "task", "list", "fanout", "memory", "pg"] as const;
type FigureId = (typeof FIGURES)[number];
const ONLY = new Set((process.env.BENCH_ONLY ?? "").split(",").map((x) => x.trim()).filter(Boolean));
for (const id of ONLY) if (!(FIGURES as readonly string[]).includes(id)) throw new Error(`BENCH_ONLY: unknown figure ${id} (one of ${FIGURES.join(", ")})`);
const wanted = (id: FigureId) => ONLY.size === 0 || ONLY.has(id);

/** The command that measures one figure alone, with this run's knobs where they differ from the defaults. */
function reproduce(id: FigureId): string {
  const knobs = ["BENCH_CONNECTIONS", "BENCH_DURATION", "BENCH_WARMUP", "BENCH_TASKS", "BENCH_SEED_CONCURRENCY", "BENCH_SUBSCRIBER_PROCS", "BENCH_LIST_CALLS", "BENCH_SUBSCRIBERS", "BENCH_FANOUT_ROUNDS", "BENCH_WS_CONNECTIONS"]
    .filter((k) => process.env[k] !== undefined)
    .map((k) => `${k}=${process.env[k] ?? ""}`);
  if (id === "pg") knobs.push("DATABASE_URL_BENCH=<postgres url>");
  return `\`${[...knobs, `BENCH_ONLY=${id}`, "npm run bench"].join(" ")}\``;
}

const cleanups: Cleanups = [];
const log = makeLog("bench");

interface Row {
  id: FigureId;
  figure: string;
  kiln: string;
  baseline: string;
  ratio: string;
  goal: string;
  met: boolean | undefined;
  load: string;
}
const rows: Row[] = [];
const load1 = () => loadavg()[0]?.toFixed(1) ?? "?";

/** A load figure: Kiln's req/s against the baseline's, both under the same autocannon load. */
async function loadFigure(id: FigureId, figure: string, kilnUrl: string, baseUrl: string, token: string, goalRatio: number): Promise<void> {
  const headers = { authorization: `Bearer ${token}` };
  const at = load1();
  log(`${figure}: Kiln`);
  const k = await checkedLoad(kilnUrl, headers);
  log(`${figure}: baseline`);
  const b = await checkedLoad(baseUrl, headers);
  const ratio = k.requestsPerSec / b.requestsPerSec;
  // On a shared machine the req/s follow whatever CPU share the process got; CPU time per request
  // does not, so the ratio of those is given too (baseline's CPU per request over Kiln's).
  const cpuRatio = cpuPerRequestUs(b) / cpuPerRequestUs(k);
  rows.push({
    id,
    figure,
    kiln: `${k.requestsPerSec.toFixed(0)} req/s, ${cpuPerRequestUs(k).toFixed(0)} µs CPU/req (${k.serverCpuPct.toFixed(0)}% CPU)`,
    baseline: `${b.requestsPerSec.toFixed(0)} req/s, ${cpuPerRequestUs(b).toFixed(0)} µs CPU/req (${b.serverCpuPct.toFixed(0)}% CPU)`,
    ratio: `${ratio.toFixed(2)}× req/s; ${cpuRatio.toFixed(2)}× by CPU/req`,
    goal: `≥ ${goalRatio}×`,
    met: cpuRatio >= goalRatio,
    load: `${at} → ${load1()}`,
  });
}

/** Server CPU time per request, µs (CPU over warm-up and run, at the measured rate). */
function cpuPerRequestUs(r: ServedLoad): number {
  return ((r.serverCpuPct / 100) * 1e6) / r.requestsPerSec;
}

async function checkedLoad(url: string, headers: Record<string, string>): Promise<ServedLoad> {
  const r = await runLoad(url, headers, LOAD);
  if (r.non2xx > 0 || r.errors > 0) throw new Error(`${url}: ${r.non2xx} non-2xx and ${r.errors} errors under load`);
  return r;
}

/** A bare Hono app serving `body` at `path` (Bearer check) on its own port. */
async function baselineFor(path: string, body: unknown): Promise<string> {
  return (await listen(bearerBaselineApp(path, body), cleanups)).url;
}

async function getJson<T>(url: string, token: string): Promise<T> {
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  if (res.status !== 200) throw new Error(`GET ${url}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

async function send<T>(method: string, url: string, token: string, body?: unknown): Promise<T> {
  const res = await fetch(url, { method, headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
  if (res.status >= 300) throw new Error(`${method} ${url}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

// ---------------------------------------------------------------------------------------------
// Subscribers in a child process (./subscribers.ts)

interface Subscribers {
  /** Resolves with each connection's latency for the message marked `mark`, sent at `sentAt` (epoch ms). */
  expect(mark: string, sentAt: number): Promise<number[]>;
  close(): Promise<void>;
  pid: number;
}

async function startSubscribers(spec: SubscribersSpec): Promise<Subscribers> {
  const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", join(ROOT, "bench/subscribers.ts"), JSON.stringify(spec)], {
    cwd: ROOT,
    stdio: ["pipe", "pipe", "inherit"],
    env: { ...process.env, RIVET_LOG_LEVEL: "error" },
  });
  const waiters = new Map<string, (l: number[]) => void>();
  let ready: () => void = () => {};
  let failed: (e: Error) => void = () => {};
  const readyP = new Promise<void>((res, rej) => ((ready = res), (failed = rej)));
  child.once("exit", (code) => failed(new Error(`subscribers exited ${String(code)}`)));
  createInterface({ input: child.stdout! }).on("line", (line) => {
    const msg = JSON.parse(line) as { ready?: boolean; mark?: string; latenciesMs?: number[] };
    if (msg.ready) ready();
    if (msg.mark && msg.latenciesMs) waiters.get(msg.mark)?.(msg.latenciesMs);
  });
  await readyP;
  const close = async () => {
    if (child.exitCode !== null) return;
    const exited = new Promise((res) => child.once("exit", res));
    child.stdin!.write(`${JSON.stringify({ exit: true })}\n`);
    await Promise.race([exited, sleep(10_000)]);
    child.kill("SIGKILL");
  };
  cleanups.push(close);
  return {
    pid: child.pid ?? 0,
    expect: (mark, sentAt) =>
      new Promise((res) => {
        waiters.set(mark, res);
        child.stdin!.write(`${JSON.stringify({ mark, sentAt })}\n`);
      }),
    close,
  };
}

/**
 * `spec.count` subscribers spread over BENCH_SUBSCRIBER_PROCS child processes: 100 browsers decode
 * their messages in parallel, and one process decoding all of them put its own queue into the
 * figure (for Kiln's and the baseline's alike).
 */
async function startSubscriberGroup(spec: SubscribersSpec): Promise<Subscribers> {
  const procs = Math.max(1, Math.min(SUBSCRIBER_PROCS, spec.count));
  const groups = await Promise.all(
    Array.from({ length: procs }, (_, i) => startSubscribers({ ...spec, count: Math.floor(spec.count / procs) + (i < spec.count % procs ? 1 : 0) })),
  );
  return {
    pid: groups[0]?.pid ?? 0,
    expect: async (mark, sentAt) => (await Promise.all(groups.map((g) => g.expect(mark, sentAt)))).flat(),
    close: async () => void (await Promise.all(groups.map((g) => g.close()))),
  };
}

/** `global.gc`, enabled at runtime when the process was not started with --expose-gc. */
const gc: () => void = (() => {
  const existing = (globalThis as { gc?: () => void }).gc;
  if (typeof existing === "function") return existing;
  setFlagsFromString("--expose-gc");
  return runInNewContext("gc") as () => void;
})();

/** RSS and JS heap (used + external) after three forced GCs. */
async function settledMemory(): Promise<{ rss: number; heap: number }> {
  for (let i = 0; i < 3; i++) {
    gc();
    await sleep(100);
  }
  const m = process.memoryUsage();
  return { rss: m.rss, heap: m.heapUsed + m.external };
}

const now = () => performance.timeOrigin + performance.now();

// ---------------------------------------------------------------------------------------------

async function benchMeOnPostgres(adminUrl: string): Promise<void> {
  const admin = new URL(adminUrl);
  if (!admin.username && !process.env.PGUSER && !process.env.USER) admin.username = userInfo().username;
  const name = `kiln_bench_${randomBytes(5).toString("hex")}`;
  const c = new pg.Client({ connectionString: admin.toString() });
  await c.connect();
  await c.query(`create database ${name}`);
  await c.end();
  const url = new URL(admin.toString());
  url.pathname = `/${name}`;
  const drop = async () => {
    const d = new pg.Client({ connectionString: admin.toString() });
    await d.connect();
    await d.query(`drop database if exists ${name} with (force)`);
    await d.end();
  };
  const { kiln, stop } = await startBenchKiln(cleanups, { DATABASE_URL: url.toString() }, drop);
  const { token } = await signUp(kiln.url, "Bench PG");
  const body = await getJson<unknown>(`${kiln.url}/v1/me`, token);
  await loadFigure("pg", "`GET /v1/me`, PostgreSQL", `${kiln.url}/v1/me`, `${await baselineFor("/v1/me", body)}/v1/me`, token, 0.25);
  await stop();
}

async function main(): Promise<void> {
  process.env.RIVET_LOG_LEVEL ??= "error";
  const started = Date.now();
  const loadAtStart = loadavg().map((l) => l.toFixed(1)).join(" ");

  log("starting Kiln on PGlite (local-git sandboxes)");
  const { kiln, stop } = await startBenchKiln(cleanups, { KILN_SANDBOX_PROVIDER: "local-git" });
  const base = kiln.url;
  const { token, userId } = await signUp(base, "Bench User");
  const orgId = `personal-${userId}`;

  // --- GET /v1/me ----------------------------------------------------------------------------
  if (wanted("me")) {
    const meBody = await getJson<unknown>(`${base}/v1/me`, token);
    await loadFigure("me", "`GET /v1/me`, PGlite", `${base}/v1/me`, `${await baselineFor("/v1/me", meBody)}/v1/me`, token, 0.25);
  }

  // --- GET /v1/workers/:id ---------------------------------------------------------------------
  if (wanted("worker")) {
    const worker = await send<{ worker: { id: string } }>("POST", `${base}/v1/workers`, token, { name: "polled", destination: "local", workspacePath: "/tmp/bench" });
    const workerPath = `/v1/workers/${worker.worker.id}`;
    const workerBody = await getJson<unknown>(`${base}${workerPath}`, token);
    await loadFigure("worker", "`GET /v1/workers/:id`", `${base}${workerPath}`, `${await baselineFor("/v1/workers/:id", workerBody)}${workerPath}`, token, 0.25);
  }

  // --- Tasks: BENCH_TASKS of them, all through POST /tasks ---------------------------------------
  let firstTask: TaskSummary | undefined;
  if (wanted("create") || wanted("task") || wanted("list") || wanted("fanout")) {
    const remoteRoot = mkdtempSync(join(tmpdir(), "kiln-bench-remote-"));
    cleanups.push(() => rmSync(remoteRoot, { recursive: true, force: true }));
    const repo = await send<{ repo: { id: string } }>("POST", `${base}/v1/orgs/${orgId}/repos`, token, { remoteUrl: createBareRepo(remoteRoot) });
    let created = 0;
    const create = async () => {
      const i = created++;
      return (await send<{ task: TaskSummary }>("POST", `${base}/v1/orgs/${orgId}/tasks`, token, { repoId: repo.repo.id, prompt: `Task ${i}` })).task;
    };
    /** Until no task is provisioning: what follows measures Kiln, not the provisioning behind it. */
    const settle = async () => {
      const deadline = Date.now() + 600_000;
      for (;;) {
        const page = await getJson<{ tasks: TaskSummary[] }>(`${base}/v1/orgs/${orgId}/tasks?limit=1000`, token);
        if (!page.tasks.some((t) => t.lifecycle.state === "starting")) return;
        if (Date.now() > deadline) throw new Error("tasks still starting after 600 s");
        await sleep(250);
      }
    };

    // The seed: every task but the measured ones, BENCH_SEED_CONCURRENCY requests at a time.
    const seed = wanted("create") ? TASKS - LAST_CREATES : TASKS;
    const seedStarted = Date.now();
    log(`seeding ${seed} tasks through POST /tasks, ${SEED_CONCURRENCY} at a time`);
    await Promise.all(
      Array.from({ length: Math.min(SEED_CONCURRENCY, seed) }, async () => {
        while (created < seed) {
          const task = await create();
          firstTask ??= task;
          if (created % 200 === 0) log(`  ${created} created`);
        }
      }),
    );
    log(`  ${created} created in ${((Date.now() - seedStarted) / 1000).toFixed(0)} s; waiting until none is starting`);
    await settle();
    log(`  seeded and provisioned in ${((Date.now() - seedStarted) / 1000).toFixed(0)} s`);

    if (wanted("create")) {
      // Back to back: each 202 shares the event loop with the provisioning of the ones before it.
      log(`POST /tasks: ${LAST_CREATES} back to back`);
      const burstLoad = load1();
      const burstMs: number[] = [];
      for (let i = 0; i < LAST_CREATES; i++) {
        burstMs.push(
          await timed(async () => {
            const task = await create();
            firstTask ??= task;
          }),
        );
      }
      const burst = stats(burstMs);
      await settle();
      // One at a time: each POST once the previous task has provisioned, so the figure is the 202 alone.
      log(`POST /tasks: ${ISOLATED_CREATES} one at a time`);
      const aloneLoad = load1();
      const aloneMs: number[] = [];
      for (let i = 0; i < ISOLATED_CREATES; i++) {
        let task: TaskSummary | undefined;
        aloneMs.push(await timed(async () => void (task = await create())));
        const deadline = Date.now() + 60_000;
        while (Date.now() < deadline) {
          const newest = await getJson<{ tasks: TaskSummary[] }>(`${base}/v1/orgs/${orgId}/tasks?limit=1`, token);
          if (newest.tasks[0]?.id === task?.id && newest.tasks[0]?.lifecycle.state !== "starting") break;
          await sleep(20);
        }
      }
      const alone = stats(aloneMs);
      const postBaseline = new Hono().post("/v1/orgs/:orgId/tasks", (c) => c.json({ task: firstTask }, 202));
      const postBase = (await listen(postBaseline, cleanups)).url;
      const postBaseStats = await timeCalls(async () => (await fetch(`${postBase}/v1/orgs/${orgId}/tasks`, { method: "POST", body: "{}" })).arrayBuffer(), LAST_CREATES, 10);
      rows.push({
        id: "create",
        figure: `\`POST /v1/orgs/:orgId/tasks\` → 202, one at a time (each after the previous one provisioned), org holding ${TASKS}: p50 of ${ISOLATED_CREATES}`,
        kiln: `${ms(alone.p50Ms)} (p99 ${ms(alone.p99Ms)})`,
        baseline: `bare Hono POST, same 202 body: ${ms(postBaseStats.p50Ms)}`,
        ratio: `${(alone.p50Ms / postBaseStats.p50Ms).toFixed(1)}× the time`,
        goal: "p50 < 20 ms",
        met: alone.p50Ms < 20,
        load: `${aloneLoad} → ${load1()}`,
      });
      rows.push({
        id: "create",
        figure: `\`POST /v1/orgs/:orgId/tasks\` → 202, back to back (each one's provisioning behind the next in the same process): the last ${LAST_CREATES} of ${TASKS}`,
        kiln: `${ms(burst.p50Ms)} (p99 ${ms(burst.p99Ms)})`,
        baseline: `bare Hono POST, same 202 body: ${ms(postBaseStats.p50Ms)}`,
        ratio: `${(burst.p50Ms / postBaseStats.p50Ms).toFixed(1)}× the time`,
        goal: "p50 < 20 ms",
        met: burst.p50Ms < 20,
        load: `${burstLoad} → ${aloneLoad}`,
      });
      await settle();
    }
  }
  const taskPath = `/v1/orgs/${orgId}/tasks/${firstTask?.id ?? ""}`;

  // --- GET /v1/orgs/:orgId/tasks/:taskId -------------------------------------------------------
  if (wanted("task")) {
    const taskBody = await getJson<unknown>(`${base}${taskPath}`, token);
    await loadFigure("task", "`GET /v1/orgs/:orgId/tasks/:taskId`", `${base}${taskPath}`, `${await baselineFor("/v1/orgs/:orgId/tasks/:taskId", taskBody)}${taskPath}`, token, 0.25);
  }

  // --- The task list, one page of 1,000 -------------------------------------------------------------
  if (wanted("list")) {
    const listPath = `/v1/orgs/${orgId}/tasks?limit=1000`;
    const listBody = await getJson<{ tasks: unknown[] }>(`${base}${listPath}`, token);
    const listBase = await baselineFor("/v1/orgs/:orgId/tasks", listBody);
    const listLoad = load1();
    const fetchList = (url: string) => async () => (await fetch(url, { headers: { authorization: `Bearer ${token}` } })).arrayBuffer();
    log(`task list: ${LIST_CALLS} sequential GETs each`);
    const listKiln = await timeCalls(fetchList(`${base}${listPath}`), LIST_CALLS, 20);
    const listBare = await timeCalls(fetchList(`${listBase}${listPath}`), LIST_CALLS, 20);
    rows.push({
      id: "list",
      figure: `Task list, ${listBody.tasks.length} tasks in one page (${(JSON.stringify(listBody).length / 1024).toFixed(0)} KB), sequential`,
      kiln: `p50 ${ms(listKiln.p50Ms)} (p99 ${ms(listKiln.p99Ms)})`,
      baseline: `p50 ${ms(listBare.p50Ms)}`,
      ratio: `${(listKiln.p50Ms / listBare.p50Ms).toFixed(1)}× the time`,
      goal: "p50 < 5 ms",
      met: listKiln.p50Ms < 5,
      load: `${listLoad} → ${load1()}`,
    });
  }

  // The bare `ws` server both the fan-out and the memory baselines use, started when first needed.
  let bareServer: { wss: WebSocketServer; url: string } | undefined;
  const bareWs = async (): Promise<{ wss: WebSocketServer; url: string }> => {
    if (bareServer) return bareServer;
    const wss = new WebSocketServer({ host: "127.0.0.1", port: 0 });
    await new Promise<void>((res) => wss.once("listening", () => res()));
    cleanups.push(() => new Promise<void>((res) => (wss.clients.forEach((c) => c.terminate()), wss.close(() => res()))));
    bareServer = { wss, url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}` };
    return bareServer;
  };

  // --- Fan-out: BENCH_SUBSCRIBERS subscribers to one org, a task renamed --------------------------------
  if (wanted("fanout")) {
    log(`fan-out: ${SUBSCRIBERS} subscribers, ${FANOUT_ROUNDS} renames`);
    const fanLoad = load1();
    const subs = await startSubscriberGroup({ kind: "rivet", count: SUBSCRIBERS, url: base, token, orgId });
    const fanMs: number[] = [];
    const patchMs: number[] = [];
    /** Per rename, from the first subscriber having it to the last. */
    const spreadMs: number[] = [];
    for (let i = 0; i < FANOUT_ROUNDS; i++) {
      const mark = `rename-${i}`;
      const sentAt = now();
      const got = subs.expect(mark, sentAt);
      await send("PATCH", `${base}${taskPath}`, token, { title: mark });
      patchMs.push(now() - sentAt);
      const latencies = await got;
      spreadMs.push(Math.max(...latencies) - Math.min(...latencies));
      fanMs.push(...latencies);
    }
    await subs.close();
    const { wss, url: wsUrl } = await bareWs();
    const bare = await startSubscriberGroup({ kind: "ws", count: SUBSCRIBERS, url: wsUrl });
    const bareMs: number[] = [];
    const bareSpreadMs: number[] = [];
    const summary = { ...firstTask, title: "" };
    for (let i = 0; i < FANOUT_ROUNDS; i++) {
      const mark = `rename-${i}`;
      const sentAt = now();
      const got = bare.expect(mark, sentAt);
      const payload = JSON.stringify({ ...summary, title: mark });
      for (const c of wss.clients) c.send(payload);
      const latencies = await got;
      bareSpreadMs.push(Math.max(...latencies) - Math.min(...latencies));
      bareMs.push(...latencies);
    }
    await bare.close();
    const fan = stats(fanMs);
    const fanBare = stats(bareMs);
    rows.push({
      id: "fanout",
      figure: `${SUBSCRIBERS} subscribers to one org: a task rename → every subscriber has it (${FANOUT_ROUNDS} renames)`,
      kiln: `p50 ${ms(fan.p50Ms)}, p99 ${ms(fan.p99Ms)}; the PATCH's 200: p50 ${ms(stats(patchMs).p50Ms)}; first to last subscriber: p50 ${ms(stats(spreadMs).p50Ms)}`,
      baseline: `bare \`ws\` broadcast: p50 ${ms(fanBare.p50Ms)}, p99 ${ms(fanBare.p99Ms)}; first to last: p50 ${ms(stats(bareSpreadMs).p50Ms)}`,
      ratio: `${(fan.p99Ms / fanBare.p99Ms).toFixed(1)}× (p99)`,
      goal: "p99 < 50 ms",
      met: fan.p99Ms < 50,
      load: `${fanLoad} → ${load1()}`,
    });
  }

  // --- Memory of BENCH_WS_CONNECTIONS open subscriptions ----------------------------------------
  if (wanted("memory")) {
    log(`memory: ${WS_CONNECTIONS} open subscriptions`);
    const memLoad = load1();
    const { url: wsUrl } = await bareWs();
    const before = await settledMemory();
    const many = await startSubscriberGroup({ kind: "rivet", count: WS_CONNECTIONS, url: base, token, orgId });
    const after = await settledMemory();
    await many.close();
    await settledMemory();
    const bareBefore = await settledMemory();
    const manyBare = await startSubscriberGroup({ kind: "ws", count: WS_CONNECTIONS, url: wsUrl });
    const bareAfter = await settledMemory();
    await manyBare.close();
    const mb = (b: number) => `${(b / 2 ** 20).toFixed(1)} MB`;
    const grew = { rss: after.rss - before.rss, heap: after.heap - before.heap };
    const bareGrew = { rss: bareAfter.rss - bareBefore.rss, heap: bareAfter.heap - bareBefore.heap };
    const most = Math.max(grew.rss, grew.heap);
    rows.push({
      id: "memory",
      figure: `${WS_CONNECTIONS} open subscriptions to one org: Kiln's memory growth (after GC)`,
      kiln: `RSS ${mb(grew.rss)}, heap ${mb(grew.heap)} (${(most / WS_CONNECTIONS / 1024).toFixed(1)} KB each)`,
      baseline: `bare \`ws\` server: RSS ${mb(bareGrew.rss)}, heap ${mb(bareGrew.heap)}`,
      ratio: `${(grew.heap / Math.max(1, bareGrew.heap)).toFixed(1)}× (heap)`,
      goal: "< 100 MB",
      met: most < 100 * 2 ** 20,
      load: `${memLoad} → ${load1()}`,
    });
  }

  await stop();
  if (process.env.DATABASE_URL_BENCH && wanted("pg")) {
    log("starting Kiln on PostgreSQL (DATABASE_URL_BENCH)");
    await benchMeOnPostgres(process.env.DATABASE_URL_BENCH);
  }

  const out: string[] = [];
  out.push(`Machine: ${machineDescription()}`);
  out.push(`Run: ${new Date().toISOString()}, ${((Date.now() - started) / 1000).toFixed(0)} s; load average (1, 5, 15 min) at start: ${loadAtStart}, at end: ${loadavg().map((l) => l.toFixed(1)).join(" ")}`);
  out.push(`Load figures: autocannon, ${LOAD.connections} connections, ${LOAD.warmupSeconds} s warm-up + ${LOAD.durationSeconds} s; baselines are bare Hono (or \`ws\`) in the same process with the very body Kiln served.\n`);
  out.push(
    table(
      ["Figure", "Kiln", "Baseline", "Kiln / baseline", "Goal", "Met", "Load avg (1 min)", "Reproduce"],
      rows.map((r) => [r.figure, r.kiln, r.baseline, r.ratio, r.goal, r.met === undefined ? "" : r.met ? "yes" : "**no**", r.load, reproduce(r.id)]),
      [2, 4, 5, 7],
    ),
  );
  process.stdout.write(`${out.join("\n")}\n`);
}

runBench(main, cleanups, log);
