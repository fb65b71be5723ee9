/**
 * `npx tsx bench/tasks.ts`: the Foundry core at 1,000 tasks, measured in one run with its
 * baseline and printed as markdown tables. See "Tasks (Foundry core)" in BENCHMARKS.md.
 *
 *   npx tsx bench/tasks.ts
 *   node --expose-gc --import tsx bench/tasks.ts   # same; gc is also enabled at runtime when missing
 *
 * What it does, against an in-process Kiln on PGlite over a real socket:
 *   1. Creates BENCH_TASKS tasks one after another with `POST /v1/orgs/:orgId/tasks` (202 latency),
 *      then waits until none is `starting` (each provisions a real `git clone` with local-git).
 *      Last of all, BENCH_TASKS_CONCURRENT more in another org, BENCH_TASK_CONCURRENCY requests in flight.
 *   2. `GET /v1/orgs/:orgId/tasks` with BENCH_TASKS tasks in the org, against a bare Hono route
 *      serving the same JSON body, then the parts of that route in process.
 *   3. Process memory before the tasks exist, right after they are all ready, with every TaskActor
 *      woken by a GET, and after BENCH_IDLE_WAIT seconds idle (RivetKit's default sleep timeout is 30 s);
 *      then how long a GET of a task takes when its actor was asleep and when it is awake.
 *
 * Environment knobs (defaults in brackets): BENCH_TASKS [1000], BENCH_TASKS_CONCURRENT [200]
 * (0 skips the concurrent run; 200 keeps the whole run under 5 minutes), BENCH_TASK_CONCURRENCY [8],
 * BENCH_LIST_CALLS [200], BENCH_LIST_WARMUP [20], BENCH_IDLE_WAIT [40] s (0 skips the idle wait),
 * BENCH_WAKE_PROBES [50], BENCH_READY_TIMEOUT [300] s, BENCH_SANDBOX_PROVIDER [local-git] (Kiln's
 * KILN_SANDBOX_PROVIDER; `local` starts one sandbox-agent server per task).
 */
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, realpathSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { internalParams } from "../actors/auth.js";
import { keys, personalOrgId } from "../shared/keys.js";
import type { TaskSummary } from "../shared/schemas/task.js";
import { createBareRepo, git } from "../test/support/git-fixture.js";
import { bearerBaselineApp, envInt, listen, machineDescription, makeLog, ms, runBench, signUp as signUpUser, sleep, startBenchKiln, stats, table, timeCalls, timed, type Cleanups, type Stats } from "./support.js";

const TASKS = Math.max(1, envInt("BENCH_TASKS", 1000));
const CONCURRENT_TASKS = envInt("BENCH_TASKS_CONCURRENT", 200);
const CONCURRENCY = Math.max(1, envInt("BENCH_TASK_CONCURRENCY", 8));
const LIST_CALLS = Math.max(1, envInt("BENCH_LIST_CALLS", 200));
const LIST_WARMUP = envInt("BENCH_LIST_WARMUP", 20);
const IDLE_WAIT_S = envInt("BENCH_IDLE_WAIT", 40);
const WAKE_PROBES = envInt("BENCH_WAKE_PROBES", 50);
const READY_TIMEOUT_S = envInt("BENCH_READY_TIMEOUT", 300);
/** local-git: a sandbox is a directory and each git command a child process of Kiln's own process. */
const SANDBOX_PROVIDER = process.env.BENCH_SANDBOX_PROVIDER || "local-git";
/** Tasks created (in their own org) before the "before" memory figure, so first-use code loading is not counted per task. */
const WARM_TASKS = 5;
/** The list is paged; the timed GET asks for one page holding every task (up to the 1,000 maximum). */
const LIST_QUERY = `?limit=${Math.min(TASKS, 1_000)}`;
const POLL_MS = 1000;
/** Resolution of the event-loop delay histogram; it records whole timer intervals, so this is subtracted. */
const LOOP_RESOLUTION_MS = 2;

const cleanups: Cleanups = [];
const log = makeLog("bench:tasks");

// ---------------------------------------------------------------------------------------------
// Report formatting (the rest is in ./support.ts)

function secs(msValue: number): string {
  return `${(msValue / 1000).toFixed(1)} s`;
}

function mb(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MB`;
}

function kb(bytes: number): string {
  return `${(bytes / 1024).toFixed(1)} KB`;
}

// ---------------------------------------------------------------------------------------------
// Memory and CPU

/** `global.gc`, enabled at runtime when the process was not started with --expose-gc. */
const gc: (() => void) | undefined = (() => {
  const existing = (globalThis as { gc?: () => void }).gc;
  if (typeof existing === "function") return existing;
  try {
    setFlagsFromString("--expose-gc");
    const fn: unknown = runInNewContext("gc");
    return typeof fn === "function" ? (fn as () => void) : undefined;
  } catch {
    return undefined;
  }
})();

interface Mem {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  /** Memory outside the JS heap that V8 knows of (ArrayBuffers: PGlite's and SQLite's WASM memory, buffers). */
  external: number;
  /** Open file descriptors (Linux). */
  fds: number;
  /**
   * Awake actors: RivetKit's file-system driver keeps each awake actor's KV store open as a SQLite
   * file (`<dataDir>/actors/.../<actorId>.db`, plus -wal and -shm) and closes it when the actor sleeps.
   */
  openActorDbs: number;
  /** Synchronous part of `child_process.spawn("true")`, median of 11: fork cost, which grows with the process's mappings. */
  spawnMs: number;
}

function openFds(actorsDir: string): { fds: number; openActorDbs: number } {
  try {
    const fds = readdirSync("/proc/self/fd");
    let openActorDbs = 0;
    for (const fd of fds) {
      try {
        const target = readlinkSync(`/proc/self/fd/${fd}`);
        if (target.startsWith(actorsDir) && target.endsWith(".db")) openActorDbs += 1;
      } catch {
        // closed meanwhile
      }
    }
    return { fds: fds.length, openActorDbs };
  } catch {
    return { fds: Number.NaN, openActorDbs: Number.NaN };
  }
}

function spawnCostMs(): number {
  const samples: number[] = [];
  for (let i = 0; i < 11; i++) {
    const t0 = performance.now();
    spawn("true", [], { stdio: "ignore" }).unref();
    samples.push(performance.now() - t0);
  }
  return stats(samples).p50Ms;
}

async function memory(actorsDir: string): Promise<Mem> {
  if (gc) {
    for (let i = 0; i < 3; i++) {
      gc();
      await sleep(100);
    }
  }
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, ...openFds(actorsDir), spawnMs: spawnCostMs() };
}

const CLK_TCK = (() => {
  try {
    return Number.parseInt(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim(), 10) || 100;
  } catch {
    return 100;
  }
})();

/** CPU seconds of this process and of its waited-for children (the git processes), Linux only for children. */
function cpuNow(): { selfS: number; childrenS: number } {
  const u = process.cpuUsage();
  let childrenS = Number.NaN;
  try {
    // Fields after the ")" of /proc/self/stat: cutime and cstime are the 14th and 15th.
    const rest = readFileSync("/proc/self/stat", "utf8").split(") ")[1]?.split(" ") ?? [];
    childrenS = (Number(rest[13]) + Number(rest[14])) / CLK_TCK;
  } catch {
    // not Linux
  }
  return { selfS: (u.user + u.system) / 1e6, childrenS };
}

function cpuSince(start: { selfS: number; childrenS: number }, wallMs: number): { selfPct: number; childrenPct: number } {
  const now = cpuNow();
  return {
    selfPct: ((now.selfS - start.selfS) / (wallMs / 1000)) * 100,
    childrenPct: ((now.childrenS - start.childrenS) / (wallMs / 1000)) * 100,
  };
}

// ---------------------------------------------------------------------------------------------
// A git remote: a bare repository with one commit on main, in its own temporary directory

function makeRemote(): string {
  const root = mkdtempSync(join(tmpdir(), "kiln-bench-git-"));
  cleanups.push(() => rmSync(root, { recursive: true, force: true }));
  return createBareRepo(root);
}

// ---------------------------------------------------------------------------------------------
// Kiln and its REST API

interface User {
  token: string;
  userId: string;
  orgId: string;
  headers: Record<string, string>;
}

async function signUp(baseUrl: string, name: string): Promise<User> {
  const { token, userId } = await signUpUser(baseUrl, name, name);
  return { token, userId, orgId: personalOrgId(userId), headers: { authorization: `Bearer ${token}` } };
}

async function addRepo(baseUrl: string, user: User, remoteUrl: string): Promise<string> {
  const res = await fetch(`${baseUrl}/v1/orgs/${user.orgId}/repos`, {
    method: "POST",
    headers: { ...user.headers, "content-type": "application/json" },
    body: JSON.stringify({ remoteUrl }),
  });
  if (res.status !== 201 && res.status !== 200) throw new Error(`add repo: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { repo: { id: string } }).repo.id;
}

async function createTask(baseUrl: string, user: User, repoId: string, n: number): Promise<TaskSummary> {
  const res = await fetch(`${baseUrl}/v1/orgs/${user.orgId}/tasks`, {
    method: "POST",
    headers: { ...user.headers, "content-type": "application/json" },
    body: JSON.stringify({ repoId, prompt: `Task ${n}` }),
  });
  if (res.status !== 202) throw new Error(`create task ${n}: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { task: TaskSummary }).task;
}

/** Every task, page by page (a page holds at most 1,000); `bytes` is the first page's size. */
async function listTasks(baseUrl: string, user: User): Promise<{ tasks: TaskSummary[]; bytes: number }> {
  const tasks: TaskSummary[] = [];
  let bytes = 0;
  let cursor: string | null = null;
  do {
    const res: Response = await fetch(`${baseUrl}/v1/orgs/${user.orgId}/tasks${LIST_QUERY}${cursor ? `&cursor=${cursor}` : ""}`, { headers: user.headers });
    const text = await res.text();
    if (res.status !== 200) throw new Error(`list tasks: ${res.status} ${text.slice(0, 500)}`);
    const page = JSON.parse(text) as { tasks: TaskSummary[]; nextCursor: string | null };
    tasks.push(...page.tasks);
    bytes ||= Buffer.byteLength(text);
    cursor = page.nextCursor;
  } while (cursor);
  return { tasks, bytes };
}

interface Creation {
  label: string;
  count: number;
  concurrency: number;
  latency: Stats;
  wallMs: number;
  /** From the first request until no task is `starting`. */
  settledMs: number;
  /** From the last 202 until no task is `starting`. */
  drainMs: number;
  readyAtLast202: number;
  ready: number;
  errors: string[];
  timedOut: boolean;
  cpuSelfPct: number;
  cpuChildrenPct: number;
  /** 202 latency of the first and the last 100 requests (in completion order). */
  firstHundred: Stats;
  lastHundred: Stats;
  /** Event-loop delay while creating and provisioning, beyond the histogram's timer interval. */
  loopDelay: { p50Ms: number; p99Ms: number; maxMs: number };
  ids: string[];
}

/** Creates `count` tasks with `concurrency` requests in flight, then polls the list until none is `starting`. */
async function createTasks(baseUrl: string, user: User, repoId: string, count: number, concurrency: number, label: string): Promise<Creation> {
  const samples: number[] = [];
  const ids: string[] = [];
  let next = 0;
  const loop = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
  loop.enable();
  const cpu0 = cpuNow();
  const t0 = performance.now();
  const worker = async () => {
    for (let n = next++; n < count; n = next++) {
      let task: TaskSummary | undefined;
      samples.push(
        await timed(async () => {
          task = await createTask(baseUrl, user, repoId, n + 1);
        }),
      );
      if (task) ids.push(task.id);
      if (samples.length % 100 === 0) log(`  ${label}: ${samples.length}/${count} created after ${secs(performance.now() - t0)}`);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const tLast = performance.now();
  let first = true;
  let readyAtLast202 = 0;
  let list: TaskSummary[] = [];
  let timedOut = false;
  for (;;) {
    list = (await listTasks(baseUrl, user)).tasks;
    const starting = list.filter((t) => t.lifecycle.state === "starting").length;
    if (first) {
      readyAtLast202 = list.filter((t) => t.lifecycle.state === "ready").length;
      first = false;
    }
    if (starting === 0 && list.length >= count) break;
    if (performance.now() - tLast > READY_TIMEOUT_S * 1000) {
      timedOut = true;
      break;
    }
    log(`  ${label}: ${starting} of ${list.length} still starting`);
    await sleep(POLL_MS);
  }
  const tDone = performance.now();
  const cpu = cpuSince(cpu0, tDone - t0);
  loop.disable();
  return {
    label,
    count,
    concurrency,
    latency: stats(samples),
    wallMs: tLast - t0,
    settledMs: tDone - t0,
    drainMs: tDone - tLast,
    readyAtLast202,
    ready: list.filter((t) => t.lifecycle.state === "ready").length,
    errors: list.filter((t) => t.lifecycle.state === "error").map((t) => `${t.id}: ${t.lifecycle.message ?? ""}`),
    timedOut,
    cpuSelfPct: cpu.selfPct,
    cpuChildrenPct: cpu.childrenPct,
    loopDelay: {
      p50Ms: Math.max(0, loop.percentile(50) / 1e6 - LOOP_RESOLUTION_MS),
      p99Ms: Math.max(0, loop.percentile(99) / 1e6 - LOOP_RESOLUTION_MS),
      maxMs: Math.max(0, loop.max / 1e6 - LOOP_RESOLUTION_MS),
    },
    firstHundred: stats(samples.slice(0, 100)),
    lastHundred: stats(samples.slice(-100)),
    ids,
  };
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  process.env.RIVET_LOG_LEVEL ??= "error";
  const started = Date.now();
  const machine = `${machineDescription()}, ${git(".", "--version")}`;
  if (!gc) log("global.gc is unavailable: memory figures are taken without a forced GC");
  const load = () => loadavg().map((v) => v.toFixed(2)).join(" / ");
  // Other work on the machine skews every figure here; the load average before and after shows it.
  const loadAtStart = load();

  const remote = makeRemote();
  log("starting Kiln on PGlite");
  const { kiln, dataDir } = await startBenchKiln(cleanups, { KILN_SANDBOX_PROVIDER: SANDBOX_PROVIDER });
  const base = kiln.url;
  const actorsDir = join(realpathSync(dataDir), "actors");

  // Warm-up in its own org, so the code paths of task creation and provisioning are loaded
  // before the "before" memory figure and are not counted per task.
  const warm = await signUp(base, "warm");
  const warmRepo = await addRepo(base, warm, remote);
  const warmRun = await createTasks(base, warm, warmRepo, WARM_TASKS, 1, "warm-up");
  if (warmRun.ready !== WARM_TASKS) throw new Error(`warm-up tasks did not become ready: ${warmRun.errors.join("; ")}`);
  await listTasks(base, warm);

  const user = await signUp(base, "bench");
  const repoId = await addRepo(base, user, remote);
  await listTasks(base, user);
  const memBefore = await memory(actorsDir);
  log(`memory before: rss ${mb(memBefore.rss)}, heapUsed ${mb(memBefore.heapUsed)}`);

  // --- 1. Create TASKS tasks, one request at a time -------------------------------------------
  log(`creating ${TASKS} tasks sequentially`);
  const seq = await createTasks(base, user, repoId, TASKS, 1, "sequential");
  log(`sequential: ${seq.ready} ready, ${seq.errors.length} failed, settled after ${secs(seq.settledMs)}`);
  const memReady = await memory(actorsDir);
  log(`memory after provisioning: rss ${mb(memReady.rss)}, heapUsed ${mb(memReady.heapUsed)}`);

  // --- 2. List TASKS tasks ------------------------------------------------------------------
  const probe = await listTasks(base, user);
  if (probe.tasks.length !== TASKS) throw new Error(`list returned ${probe.tasks.length} tasks, expected ${TASKS}`);
  const listBody = { tasks: probe.tasks.slice(0, 1_000), nextCursor: null };
  const listUrl = `${base}/v1/orgs/${user.orgId}/tasks${LIST_QUERY}`;
  const fetchList = async (url: string) => (await fetch(url, { headers: user.headers })).arrayBuffer();
  log(`GET /v1/orgs/:orgId/tasks on Kiln: ${LIST_WARMUP} warm-up + ${LIST_CALLS} timed`);
  const kilnList = await timeCalls(() => fetchList(listUrl), LIST_CALLS, LIST_WARMUP);

  const baseline = await listen(bearerBaselineApp("/v1/orgs/:orgId/tasks", listBody), cleanups);
  const baselineUrl = `${baseline.url}/v1/orgs/${user.orgId}/tasks${LIST_QUERY}`;
  const baselineBytes = (await (await fetch(baselineUrl, { headers: user.headers })).arrayBuffer()).byteLength;
  log("GET on the bare Hono baseline");
  const baseList = await timeCalls(() => fetchList(baselineUrl), LIST_CALLS, LIST_WARMUP);

  log("parts of the list route, in process");
  const partN = Math.min(LIST_CALLS, 100);
  const partW = Math.ceil(partN / 10);
  const reqHeaders = new Headers(user.headers);
  const orgHandle = kiln.client.organization.get(keys.organization(user.orgId), { params: internalParams(user.userId) });
  const listParts: { label: string; stats: Stats }[] = [
    {
      label: 'whole route, `kiln.app.request(".../tasks")` (no socket)',
      stats: await timeCalls(async () => (await kiln.app.request(`/v1/orgs/${user.orgId}/tasks${LIST_QUERY}`, { headers: user.headers })).arrayBuffer(), partN, partW),
    },
    { label: "`auth.api.getSession` with the Bearer token (what a cache miss costs)", stats: await timeCalls(() => kiln.auth.api.getSession({ headers: reqHeaders }), partN, partW) },
    { label: "`organizations.isMember` (org_membership index)", stats: await timeCalls(() => kiln.organizations.isMember(user.orgId, user.userId), partN, partW) },
    { label: "OrganizationActor `listTasks`, in-process client", stats: await timeCalls(() => orgHandle.listTasks({ limit: 1_000 }), partN, partW) },
    {
      label: "OrganizationActor `listTasks({ limit: 1 })`: same query and sort, one row back",
      stats: await timeCalls(() => orgHandle.listTasks({ limit: 1 }), partN, partW),
    },
    { label: "OrganizationActor `summary` (no SQL, small result)", stats: await timeCalls(() => orgHandle.summary(), partN, partW) },
    { label: "`JSON.stringify` of the response body", stats: await timeCalls(async () => JSON.stringify(listBody), partN, partW) },
  ];

  // --- 3. Memory with every task awake, then once idle ------------------------------------------
  // At a few creates per second, the first tasks have slept (30 s idle) long before the last is
  // ready. A GET of each task wakes its TaskActor, so the next figure has all of them awake.
  const getTask = (id: string) => fetchList(`${base}/v1/orgs/${user.orgId}/tasks/${id}`);
  log(`waking all ${TASKS} task actors with GET /v1/orgs/:orgId/tasks/:taskId`);
  const awakeBefore = (await memory(actorsDir)).openActorDbs;
  const wakeAllT0 = performance.now();
  const wakeAllSamples: number[] = [];
  for (const id of seq.ids) wakeAllSamples.push(await timed(() => getTask(id)));
  const wakeAll = { stats: stats(wakeAllSamples), wallMs: performance.now() - wakeAllT0, awakeBefore };
  const memAwake = await memory(actorsDir);
  const tAwake = performance.now();
  log(`memory with all awake: rss ${mb(memAwake.rss)}, heapUsed ${mb(memAwake.heapUsed)}, ${memAwake.openActorDbs} actor dbs open`);

  let memIdle: Mem | undefined;
  let idleAfterS = 0;
  let wakeCold: Stats | undefined;
  let wakeWarm: Stats | undefined;
  if (IDLE_WAIT_S > 0) {
    const waitMs = IDLE_WAIT_S * 1000 - (performance.now() - tAwake);
    if (waitMs > 0) {
      log(`waiting ${secs(waitMs)} so idle actors can sleep`);
      await sleep(waitMs);
    }
    idleAfterS = (performance.now() - tAwake) / 1000;
    memIdle = await memory(actorsDir);
    log(`memory after idle: rss ${mb(memIdle.rss)}, heapUsed ${mb(memIdle.heapUsed)}, ${memIdle.openActorDbs} actor dbs open`);
    if (WAKE_PROBES > 0) {
      // A GET of one task reaches its TaskActor: slow the first time if the actor was asleep.
      const probeIds = seq.ids.filter((_, i) => i % Math.max(1, Math.floor(seq.ids.length / WAKE_PROBES)) === 0).slice(0, WAKE_PROBES);
      const cold: number[] = [];
      for (const id of probeIds) cold.push(await timed(() => getTask(id)));
      const warmSamples: number[] = [];
      for (const id of probeIds) warmSamples.push(await timed(() => getTask(id)));
      wakeCold = stats(cold);
      wakeWarm = stats(warmSamples);
    }
  }

  // --- 1b. More tasks with CONCURRENCY requests in flight, in another org -----------------------
  let conc: Creation | undefined;
  if (CONCURRENT_TASKS > 0) {
    const other = await signUp(base, "conc");
    const otherRepo = await addRepo(base, other, remote);
    log(`creating ${CONCURRENT_TASKS} tasks, ${CONCURRENCY} in flight, in another org`);
    conc = await createTasks(base, other, otherRepo, CONCURRENT_TASKS, CONCURRENCY, `concurrency ${CONCURRENCY}`);
    log(`concurrent: ${conc.ready} ready, ${conc.errors.length} failed, settled after ${secs(conc.settledMs)}`);
  }

  // --- Report ----------------------------------------------------------------------------------
  const out: string[] = [];
  out.push(`# Kiln benchmarks: tasks (Foundry core)\n`);
  out.push(`Machine: ${machine}`);
  out.push(`Run: ${new Date().toISOString()}, total ${((Date.now() - started) / 1000).toFixed(0)} s; gc ${gc ? "forced before each memory figure" : "not available"}`);
  out.push(`Load average (1 / 5 / 15 min): ${loadAtStart} at start, ${load()} at end\n`);

  out.push(`## 1. Creating tasks: \`POST /v1/orgs/:orgId/tasks\` → 202, then provisioning (sandbox provider ${SANDBOX_PROVIDER}, one \`git clone\` each)\n`);
  const runs = [seq, ...(conc ? [conc] : [])];
  out.push(
    table(
      ["Run", "tasks", "202 p50", "202 p99", "202 mean", "202 max", "202 p50, first / last 100", "creates/s", "ready at last 202", "all settled after", "ready / failed", "CPU: Kiln / git children", "event-loop delay p50 / p99 / max"],
      runs.map((r) => [
        r.concurrency === 1 ? "sequential (1 in flight)" : `${r.concurrency} in flight`,
        String(r.count),
        ms(r.latency.p50Ms),
        ms(r.latency.p99Ms),
        ms(r.latency.meanMs),
        ms(r.latency.maxMs),
        `${ms(r.firstHundred.p50Ms)} / ${ms(r.lastHundred.p50Ms)}`,
        (r.count / (r.wallMs / 1000)).toFixed(1),
        String(r.readyAtLast202),
        `${secs(r.settledMs)}${r.timedOut ? " (timed out)" : ""}`,
        `${r.ready} / ${r.errors.length}`,
        `${r.cpuSelfPct.toFixed(0)}% / ${Number.isFinite(r.cpuChildrenPct) ? `${r.cpuChildrenPct.toFixed(0)}%` : "n/a"}`,
        `${ms(r.loopDelay.p50Ms)} / ${ms(r.loopDelay.p99Ms)} / ${ms(r.loopDelay.maxMs)}`,
      ]),
    ),
  );
  out.push(
    `\n"creates/s" is tasks / wall time of the create loop. "ready at last 202" is how many were ready at the first poll after it. "all settled" runs from the first request until a poll (every ${POLL_MS} ms) finds no task \`starting\` (${runs.map((r) => `${secs(r.drainMs)} after the last 202 for ${r.concurrency === 1 ? "sequential" : `${r.concurrency} in flight`}`).join(", ")}). CPU is CPU time per wall second over that whole span (100% = one core); "git children" are the processes Kiln waited for (local-git's git and rm; from /proc/self/stat). Event-loop delay is perf_hooks \`monitorEventLoopDelay\` over the same span, less its ${LOOP_RESOLUTION_MS} ms timer interval.`,
  );
  if (conc) out.push(`The ${conc.concurrency}-in-flight run is in another org, after section 3, with the first ${TASKS} tasks asleep in the same process.`);
  for (const r of runs) {
    if (r.errors.length) out.push(`\n${r.label}: ${r.errors.length} tasks failed, e.g. ${r.errors.slice(0, 3).map((e) => (e.split("\n")[0] ?? "").slice(0, 200)).join(" | ")}`);
  }
  out.push("");

  out.push(`## 2. \`GET /v1/orgs/:orgId/tasks\` with ${TASKS} tasks in the org (${LIST_CALLS} sequential requests after ${LIST_WARMUP} warm-up)\n`);
  out.push(
    table(
      ["Target", "p50", "p99", "mean", "max", "body"],
      [
        ["Kiln, PGlite", ms(kilnList.p50Ms), ms(kilnList.p99Ms), ms(kilnList.meanMs), ms(kilnList.maxMs), kb(probe.bytes)],
        ["Baseline: bare Hono on @hono/node-server, same body", ms(baseList.p50Ms), ms(baseList.p99Ms), ms(baseList.meanMs), ms(baseList.maxMs), kb(baselineBytes)],
      ],
    ),
  );
  out.push(`\nKiln takes ${(kilnList.p50Ms / baseList.p50Ms).toFixed(1)}× the baseline's p50. ${TASKS} summaries, ${(probe.bytes / TASKS).toFixed(0)} bytes each.\n`);
  out.push(`### Where one list request goes (${partN} sequential in-process calls each)\n`);
  out.push(table(["Part", "p50", "p99", "mean"], listParts.map((p) => [p.label, ms(p.stats.p50Ms), ms(p.stats.p99Ms), ms(p.stats.meanMs)])));
  out.push("");

  out.push(`## 3. Process memory of ${TASKS} idle tasks\n`);
  const memRows: string[][] = [];
  const signed = (v: number, f: (x: number) => string) => (v < 0 ? `−${f(-v)}` : `+${f(v)}`);
  const memRow = (label: string, m: Mem) => [
    label,
    mb(m.rss),
    m === memBefore ? "" : `${signed(m.rss - memBefore.rss, mb)} (${signed((m.rss - memBefore.rss) / TASKS, kb)}/task)`,
    mb(m.heapUsed),
    m === memBefore ? "" : `${signed(m.heapUsed - memBefore.heapUsed, mb)} (${signed((m.heapUsed - memBefore.heapUsed) / TASKS, kb)}/task)`,
    mb(m.external),
    String(m.openActorDbs),
    String(m.fds),
    ms(m.spawnMs),
  ];
  memRows.push(memRow(`before: org with 0 tasks (${WARM_TASKS} warm-up tasks in another org)`, memBefore));
  memRows.push(memRow(`right after all ${TASKS} are ready`, memReady));
  memRows.push(memRow(`all ${TASKS} woken by a GET each`, memAwake));
  if (memIdle) memRows.push(memRow(`then ${idleAfterS.toFixed(0)} s idle (sleep timeout is 30 s)`, memIdle));
  out.push(table(["When", "RSS", "Δ RSS", "heapUsed", "Δ heapUsed", "external", "awake actors", "open fds", "spawn() sync"], memRows));
  out.push(
    `\nEach figure is taken after ${gc ? "three forced GCs" : "no forced GC"}. Δ is against the first row, per task over ${TASKS}. "awake actors" counts the actor KV files (\`<dataDir>/actors/**/*.db\`) the process has open: RivetKit's file-system driver opens one per awake actor (with its -wal and -shm) and closes it when the actor sleeps; it includes the org, repository and history actors. "spawn() sync" is how long one \`child_process.spawn("true")\` blocks the event loop (median of 11); local-git spawns a process for each git command.`,
  );
  out.push(
    `\nWaking all ${TASKS} (${wakeAll.awakeBefore} actors awake before), one \`GET /v1/orgs/:orgId/tasks/:taskId\` at a time: p50 ${ms(wakeAll.stats.p50Ms)}, p99 ${ms(wakeAll.stats.p99Ms)}, ${secs(wakeAll.wallMs)} in all.`,
  );
  if (wakeCold && wakeWarm) {
    out.push(
      `\n\`GET /v1/orgs/:orgId/tasks/:taskId\` on ${wakeCold.n} of the tasks after the idle wait: first request p50 ${ms(wakeCold.p50Ms)} (p99 ${ms(wakeCold.p99Ms)}), second request p50 ${ms(wakeWarm.p50Ms)} (p99 ${ms(wakeWarm.p99Ms)}). A first request much slower than the second means the actor had gone to sleep and was woken.`,
    );
  }
  process.stdout.write(`${out.join("\n")}\n`);
}

runBench(main, cleanups, log);
