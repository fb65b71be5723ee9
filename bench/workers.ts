/**
 * `npx tsx bench/workers.ts`: cloud workers on the `local` provisioner (one real sandbox-agent
 * server per worker), against an in-process Kiln on PGlite over a real socket, each figure next
 * to a baseline measured in the same run. See "Cloud workers" in BENCHMARKS.md.
 *
 * What it does:
 *   1. Creates BENCH_WORKERS cloud workers one after another (after BENCH_WORKER_WARMUP unmeasured
 *      ones): `POST /v1/workers {name, destination: "cloud"}` → 202, then polls
 *      `GET /v1/workers/:id` every BENCH_POLL_MS until `worker.status` is `healthy`, then
 *      `GET {instance.url}/health` until 200. Then deletes them one after another
 *      (`DELETE /v1/workers/:id` → 204, then polls until the GET answers 404) and checks that no
 *      sandbox-agent server is left under the worker's directory.
 *   2. BENCH_CONCURRENT_ROUNDS rounds of BENCH_WORKER_CONCURRENCY workers created at once, polled
 *      every BENCH_CONCURRENT_POLL_MS each, then deleted at once.
 *   3. Baseline: BENCH_BARE bare sandbox-agent servers spawned by hand from the same process
 *      (the provider's steps: directory, mock agent install, spawn, `GET /v1/health` polled every
 *      BENCH_POLL_MS), without Kiln, then killed.
 *   4. `GET /v1/workers/:id` under load (autocannon in a child process, bench/load.ts), against a
 *      bare Hono route of the same shape answering the same JSON body; then the route's parts in
 *      process. This runs while the workers of 1 are up, before they are deleted.
 *
 * Environment knobs (defaults in brackets): BENCH_WORKERS [20], BENCH_WORKER_WARMUP [2],
 * BENCH_WORKER_CONCURRENCY [8], BENCH_CONCURRENT_ROUNDS [2] (0 skips), BENCH_POLL_MS [10],
 * BENCH_CONCURRENT_POLL_MS [50], BENCH_BARE [10], BENCH_CONNECTIONS [16], BENCH_DURATION [5] s,
 * BENCH_WARMUP [2] s, BENCH_PART_CALLS [200], BENCH_WORKER_TIMEOUT [60] s.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { eq } from "drizzle-orm";
import { internalParams } from "../actors/auth.js";
import { keys } from "../shared/keys.js";
import { installMockAgent } from "../actors/sandbox/agent/install.js";
import { freePort, stopChild } from "../actors/sandbox/child-process.js";
import { sandboxAgentBinary } from "../actors/sandbox/local.js";
import type { Kiln } from "../server/app.js";
import { workerIndex } from "../server/db/schema.js";
import type { CreatedWorker, WorkerView } from "../shared/schemas/worker.js";
import { sandboxServersUnder } from "../test/support/processes.js";
import { bearerBaselineApp, envInt, listen, loadTable, machineDescription, makeLog, ms, partsTable, runBench, runLoad, signUp, sleep, startBenchKiln, stats, table, timeCalls, type Cleanups, type LoadKnobs, type Part, type ServedLoad } from "./support.js";

const WORKERS = Math.max(1, envInt("BENCH_WORKERS", 20));
const WORKER_WARMUP = envInt("BENCH_WORKER_WARMUP", 2);
const CONCURRENCY = Math.max(1, envInt("BENCH_WORKER_CONCURRENCY", 8));
const CONCURRENT_ROUNDS = envInt("BENCH_CONCURRENT_ROUNDS", 2);
const POLL_MS = Math.max(1, envInt("BENCH_POLL_MS", 10));
const CONCURRENT_POLL_MS = Math.max(1, envInt("BENCH_CONCURRENT_POLL_MS", 50));
const BARE = envInt("BENCH_BARE", 10);
const CONNECTIONS = Math.max(1, envInt("BENCH_CONNECTIONS", 16));
const DURATION_S = Math.max(1, envInt("BENCH_DURATION", 5));
const WARMUP_S = envInt("BENCH_WARMUP", 2);
const PART_CALLS = Math.max(1, envInt("BENCH_PART_CALLS", 200));
const WORKER_TIMEOUT_MS = Math.max(1, envInt("BENCH_WORKER_TIMEOUT", 60)) * 1000;
const LOAD: LoadKnobs = { connections: CONNECTIONS, warmupSeconds: WARMUP_S, durationSeconds: DURATION_S };

const cleanups: Cleanups = [];
const log = makeLog("bench:workers");

// ---------------------------------------------------------------------------------------------
// Small helpers

const now = () => performance.now();
const load = () => loadavg().map((v) => v.toFixed(2)).join(" / ");

/** sandbox-agent server processes under the bench's directories (every one of them is ours). */
function leftovers(roots: string[]): number[] {
  return roots.flatMap((r) => sandboxServersUnder(r).map((p) => p.pid));
}

/** ./support.ts's `runLoad` with this bench's knobs; any non-2xx, error or timeout fails the bench. */
async function loadWithoutFailures(url: string, headers: Record<string, string>): Promise<ServedLoad> {
  const result = await runLoad(url, headers, LOAD);
  if (result.non2xx > 0 || result.errors > 0 || result.timeouts > 0) {
    throw new Error(`${url}: ${result.non2xx} non-2xx, ${result.errors} errors, ${result.timeouts} timeouts under load`);
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
// Workers through Kiln's API

interface Api {
  kiln: Kiln;
  base: string;
  orgId: string;
  token: string;
  dataDir: string;
}

interface Created {
  id: string;
  /** POST sent → 202 received. */
  acceptedMs: number;
  /** POST sent → first GET /v1/workers/:id that says `healthy`. */
  healthyMs: number;
  /** POST sent → first GET {instance.url}/health that answers 200. */
  health200Ms: number;
  /** Server clock: the WorkerActor's createdAt → its updatedAt when it was marked healthy. */
  serverMs: number;
  polls: number;
  instanceUrl: string;
  /** Server clock, from the actor's createdAt: its SandboxInstanceActor created (the workflow reached `create-instance`). */
  sandboxCreatedMs: number;
  /** Server clock, from the actor's createdAt: the sandbox-agent server spawned (its `server.json` rewritten with the pid). */
  spawnedMs: number;
}

async function request(api: Api, method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${api.base}${path}`, {
    method,
    headers: { authorization: `Bearer ${api.token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as unknown) : null };
}

/** Creates one cloud worker and waits until its instance's /health answers 200. */
async function createWorker(api: Api, name: string, pollMs: number): Promise<Created> {
  const t0 = now();
  const res = await request(api, "POST", "/v1/workers", { name, destination: "cloud" });
  const acceptedMs = now() - t0;
  if (res.status !== 202) throw new Error(`POST /v1/workers answered ${res.status}: ${JSON.stringify(res.body)}`);
  const id = (res.body as CreatedWorker).worker.id;
  let polls = 0;
  let view: WorkerView;
  for (;;) {
    if (now() - t0 > WORKER_TIMEOUT_MS) throw new Error(`worker ${id} not healthy after ${WORKER_TIMEOUT_MS / 1000} s`);
    const r = await request(api, "GET", `/v1/workers/${id}`);
    polls += 1;
    if (r.status !== 200) throw new Error(`GET /v1/workers/${id} answered ${r.status}: ${JSON.stringify(r.body)}`);
    view = r.body as WorkerView;
    if (view.worker.status === "healthy") break;
    if (view.worker.status !== "provisioning") throw new Error(`worker ${id} is ${view.worker.status}: ${JSON.stringify(view.worker.failure)}`);
    await sleep(pollMs);
  }
  const healthyMs = now() - t0;
  const url = view.instance?.url;
  if (!url) throw new Error(`healthy worker ${id} has no instance url`);
  for (;;) {
    if (now() - t0 > WORKER_TIMEOUT_MS) throw new Error(`worker ${id}: ${url}/health not 200 after ${WORKER_TIMEOUT_MS / 1000} s`);
    const h = await fetch(`${url}/health`);
    await h.arrayBuffer();
    if (h.status === 200) break;
    await sleep(pollMs);
  }
  const health200Ms = now() - t0;
  // Where the server-side time went, read after the clock stopped: the sandbox actor's createdAt
  // and the mtime of the server's meta file, which the provider rewrites right after spawn().
  const createdAt = Date.parse(view.worker.createdAt);
  const serverMs = Date.parse(view.worker.updatedAt) - createdAt;
  const sandbox = await api.kiln.client.sandboxInstance.get(keys.sandbox(api.orgId, view.instance?.provider ?? "local", id), { params: internalParams() }).describe();
  const sandboxCreatedMs = Date.parse(sandbox.createdAt) - createdAt;
  const spawnedMs = statSync(join(api.dataDir, "sandboxes", id, "server.json")).mtimeMs - createdAt;
  return { id, acceptedMs, healthyMs, health200Ms, serverMs, polls, instanceUrl: url, sandboxCreatedMs, spawnedMs };
}

interface Deleted {
  /** DELETE sent → 204. */
  acceptedMs: number;
  /** DELETE sent → first GET /v1/workers/:id that answers 404 (teardown finished). */
  goneMs: number;
}

/** Deletes a worker, waits until it is gone, and checks that its server process and directory are gone. */
async function deleteWorker(api: Api, w: Created, pollMs: number): Promise<Deleted> {
  const t0 = now();
  const res = await request(api, "DELETE", `/v1/workers/${w.id}`);
  const acceptedMs = now() - t0;
  if (res.status !== 204) throw new Error(`DELETE /v1/workers/${w.id} answered ${res.status}: ${JSON.stringify(res.body)}`);
  for (;;) {
    if (now() - t0 > WORKER_TIMEOUT_MS) throw new Error(`worker ${w.id} not gone after ${WORKER_TIMEOUT_MS / 1000} s`);
    const r = await request(api, "GET", `/v1/workers/${w.id}`);
    if (r.status === 404) break;
    await sleep(pollMs);
  }
  const goneMs = now() - t0;
  const dir = join(api.dataDir, "sandboxes", w.id);
  const left = sandboxServersUnder(dir);
  if (left.length) throw new Error(`worker ${w.id} is gone but its sandbox-agent server is not (pids ${left.map((p) => p.pid).join(", ")})`);
  if (existsSync(dir)) throw new Error(`worker ${w.id} is gone but its directory ${dir} is not`);
  const health = await fetch(`${w.instanceUrl}/health`);
  await health.arrayBuffer();
  if (health.status !== 503) throw new Error(`deleted worker ${w.id}: /health answered ${health.status}, expected 503`);
  return { acceptedMs, goneMs };
}

// ---------------------------------------------------------------------------------------------
// Baseline: a bare sandbox-agent server, spawned the way the local provider spawns it

interface Bare {
  /** mkdir + mock agent install + spawn + first 200 from /v1/health. */
  totalMs: number;
  /** spawn() called → first 200 from /v1/health. */
  spawnToHealthMs: number;
  /** How long the spawn() call itself blocked the event loop. */
  spawnSyncMs: number;
  child: ChildProcess;
}

async function bareServer(root: string, i: number): Promise<Bare> {
  const t0 = now();
  const dir = join(root, `bare-${i}`);
  mkdirSync(join(dir, "work"), { recursive: true });
  mkdirSync(join(dir, "xdg"), { recursive: true });
  await installMockAgent(join(dir, "xdg"));
  const token = randomBytes(24).toString("hex");
  const port = await freePort();
  const tSpawn = now();
  const child = spawn(sandboxAgentBinary(), ["server", "--no-telemetry", "-H", "127.0.0.1", "-p", String(port), `--token=${token}`], {
    cwd: join(dir, "work"),
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: join(dir, "work"), XDG_DATA_HOME: join(dir, "xdg"), LANG: "C.UTF-8" },
    stdio: "ignore",
  });
  const spawnSyncMs = now() - tSpawn;
  for (;;) {
    if (now() - tSpawn > WORKER_TIMEOUT_MS) {
      child.kill("SIGKILL");
      throw new Error(`bare sandbox-agent ${i} not healthy after ${WORKER_TIMEOUT_MS / 1000} s`);
    }
    if (child.exitCode !== null) throw new Error(`bare sandbox-agent ${i} exited ${child.exitCode} while starting`);
    const ok = await fetch(`http://127.0.0.1:${port}/v1/health`, { headers: { authorization: `Bearer ${token}` } }).then(
      async (r) => (await r.arrayBuffer(), r.ok),
      () => false,
    );
    if (ok) break;
    await sleep(POLL_MS);
  }
  const end = now();
  return { totalMs: end - t0, spawnToHealthMs: end - tSpawn, spawnSyncMs, child };
}



// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const started = Date.now();
  const machine = machineDescription();
  const loadAtStart = load();

  log("starting Kiln on PGlite, provisioner and sandbox provider local");
  const { kiln, dataDir, stop } = await startBenchKiln(cleanups, { KILN_SANDBOX_PROVIDER: "local", PROVISIONER_MODE: "local" });
  const bareRoot = mkdtempSync(join(tmpdir(), "kiln-bench-workers-bare-"));
  const bareChildren: ChildProcess[] = [];
  cleanups.push(() => rmSync(bareRoot, { recursive: true, force: true }));
  cleanups.push(async () => void (await Promise.all(bareChildren.map(stopChild))));
  const roots = [dataDir, bareRoot];

  const { token, userId } = await signUp(kiln.url, "Bench User", "workers");
  const orgId = `personal-${userId}`;
  const api: Api = { kiln, base: kiln.url, orgId, token, dataDir };

  // --- 1. Sequential creation, then deletion ----------------------------------------------------
  if (WORKER_WARMUP > 0) {
    log(`${WORKER_WARMUP} warm-up workers (created, then deleted; not counted)`);
    for (let i = 0; i < WORKER_WARMUP; i++) await deleteWorker(api, await createWorker(api, `warmup-${i}`, POLL_MS), POLL_MS);
  }
  log(`creating ${WORKERS} cloud workers one after another (poll every ${POLL_MS} ms)`);
  const seq: Created[] = [];
  const seqCpu0 = process.cpuUsage();
  const seqT0 = now();
  for (let i = 0; i < WORKERS; i++) {
    const w = await createWorker(api, `bench-${i}`, POLL_MS);
    const expected = `${kiln.url}/w/${orgId}/${w.id}`;
    if (w.instanceUrl !== expected) throw new Error(`instance.url is ${w.instanceUrl}, expected ${expected}`);
    seq.push(w);
    if ((i + 1) % 5 === 0) log(`  ${i + 1}/${WORKERS}: last one healthy after ${ms(w.health200Ms)}`);
  }
  const seqWallMs = now() - seqT0;
  const seqCpu = process.cpuUsage(seqCpu0);
  const seqCpuPct = ((seqCpu.user + seqCpu.system) / 1000 / seqWallMs) * 100;
  const aliveServers = sandboxServersUnder(join(dataDir, "sandboxes")).length;
  log(`${aliveServers} sandbox-agent servers running for ${WORKERS} workers`);

  // --- 4. GET /v1/workers/:id under load, while those workers exist -----------------------------
  const target = seq[0]!;
  const headers = { authorization: `Bearer ${token}` };
  const probe = await fetch(`${kiln.url}/v1/workers/${target.id}`, { headers });
  if (probe.status !== 200) throw new Error(`GET /v1/workers/:id answered ${probe.status}`);
  const body = (await probe.json()) as WorkerView;
  const kilnBytes = JSON.stringify(body).length;
  log(`GET /v1/workers/:id on Kiln: ${WARMUP_S}s warm-up + ${DURATION_S}s at ${CONNECTIONS} connections`);
  const kilnLoad = await loadWithoutFailures(`${kiln.url}/v1/workers/${target.id}`, headers);
  const baseline = await listen(bearerBaselineApp("/v1/workers/:id", body), cleanups);
  const baseProbe = await fetch(`${baseline.url}/v1/workers/${target.id}`, { headers });
  const baselineBytes = (await baseProbe.text()).length;
  log(`GET /v1/workers/:id on the bare Hono baseline: ${WARMUP_S}s warm-up + ${DURATION_S}s`);
  const baseLoad = await loadWithoutFailures(`${baseline.url}/v1/workers/${target.id}`, headers);

  log(`parts of GET /v1/workers/:id: ${PART_CALLS} sequential in-process calls each`);
  const w = Math.ceil(PART_CALLS / 10);
  const parts: Part[] = [
    {
      label: "whole route, `kiln.app.request(\"/v1/workers/:id\")` (no socket)",
      stats: await timeCalls(async () => (await kiln.app.request(`/v1/workers/${target.id}`, { headers })).arrayBuffer(), PART_CALLS, w),
    },
    { label: "`auth.api.getSession` with the Bearer token (what a cache miss costs)", stats: await timeCalls(() => kiln.auth.api.getSession({ headers: new Headers(headers) }), PART_CALLS, w) },
    {
      label: "worker_index row by id (on a cache miss: the route's `select … limit 1`)",
      stats: await timeCalls(() => kiln.db.db.select().from(workerIndex).where(eq(workerIndex.workerId, target.id)).limit(1), PART_CALLS, w),
    },
    {
      label: "the org's view of the worker (on a cache miss: OrganizationActor `getWorker`, from its state)",
      stats: await timeCalls(() => kiln.client.organization.get(keys.organization(orgId), { params: internalParams() }).getWorker(target.id), PART_CALLS, w),
    },
    { label: "`organizations.isMember` (org_membership index)", stats: await timeCalls(() => kiln.organizations.isMember(orgId, userId), PART_CALLS, w) },
    {
      label: "For comparison: `kiln.app.request(\"/w/:orgId/:workerId/health\")`, the public instance health (no auth)",
      stats: await timeCalls(async () => (await kiln.app.request(new URL(target.instanceUrl).pathname + "/health")).arrayBuffer(), PART_CALLS, w),
    },
    {
      label: "Baseline: bare Hono route, `app.request` (no socket)",
      stats: await timeCalls(async () => (await bearerBaselineApp("/v1/workers/:id", body).request(`/v1/workers/${target.id}`, { headers })).arrayBuffer(), PART_CALLS, w),
    },
  ];
  await baseline.close();

  log(`deleting the ${WORKERS} workers one after another`);
  const seqDeleted: Deleted[] = [];
  for (const wk of seq) seqDeleted.push(await deleteWorker(api, wk, POLL_MS));
  const afterSeq = sandboxServersUnder(join(dataDir, "sandboxes"));
  if (afterSeq.length) throw new Error(`sandbox-agent servers left after deleting every worker: ${afterSeq.map((p) => p.pid).join(", ")}`);

  // --- 2. Concurrent creation -----------------------------------------------------------------
  const conc: Created[] = [];
  const concDeleted: Deleted[] = [];
  const concWalls: number[] = [];
  for (let round = 0; round < CONCURRENT_ROUNDS; round++) {
    log(`round ${round + 1}/${CONCURRENT_ROUNDS}: ${CONCURRENCY} workers at once (each polled every ${CONCURRENT_POLL_MS} ms)`);
    const t0 = now();
    const batch = await Promise.all(Array.from({ length: CONCURRENCY }, (_, i) => createWorker(api, `conc-${round}-${i}`, CONCURRENT_POLL_MS)));
    concWalls.push(now() - t0);
    conc.push(...batch);
    concDeleted.push(...(await Promise.all(batch.map((wk) => deleteWorker(api, wk, CONCURRENT_POLL_MS)))));
  }
  const afterConc = sandboxServersUnder(join(dataDir, "sandboxes"));
  if (afterConc.length) throw new Error(`sandbox-agent servers left after the concurrent rounds: ${afterConc.map((p) => p.pid).join(", ")}`);

  // --- 3. Baseline: bare sandbox-agent servers -------------------------------------------------
  const bare: Bare[] = [];
  if (BARE > 0) {
    log(`baseline: ${BARE} bare sandbox-agent servers (mkdir, mock agent, spawn, /v1/health every ${POLL_MS} ms)`);
    for (let i = 0; i < BARE; i++) {
      const b = await bareServer(bareRoot, i);
      bareChildren.push(b.child);
      bare.push(b);
    }
    await Promise.all(bareChildren.map(stopChild));
  }

  // --- Teardown check --------------------------------------------------------------------------
  await stop();
  await Promise.all(bareChildren.map(stopChild));
  const left = leftovers(roots);
  if (left.length) throw new Error(`sandbox-agent processes left after the bench: ${left.join(", ")}`);
  log("Kiln stopped; no sandbox-agent process left under the bench's directories");

  // --- Report ----------------------------------------------------------------------------------
  const row = (label: string, xs: number[], note = ""): string[] => {
    const s = stats(xs);
    return [label, String(s.n), ms(s.p50Ms), ms(s.p95Ms), ms(s.maxMs), ms(s.meanMs), note];
  };
  const out: string[] = [];
  out.push(`# Kiln benchmarks: cloud workers (local provisioner)\n`);
  out.push(`Machine: ${machine}`);
  out.push(`Run: ${new Date().toISOString()}, total ${((Date.now() - started) / 1000).toFixed(0)} s`);
  out.push(`Load average (1 / 5 / 15 min): ${loadAtStart} at start, ${load()} at end\n`);

  out.push(`## 1. Creating a cloud worker: \`POST /v1/workers\` → healthy\n`);
  const rows: string[][] = [
    row("sequential: POST → 202", seq.map((x) => x.acceptedMs)),
    row("sequential: POST → `GET /v1/workers/:id` says healthy", seq.map((x) => x.healthyMs), `polled every ${POLL_MS} ms; ${(seq.reduce((a, x) => a + x.polls, 0) / seq.length).toFixed(1)} GETs per worker`),
    row("sequential: POST → `GET {instance.url}/health` 200", seq.map((x) => x.health200Ms), "the headline figure"),
    row("sequential: server clock, actor createdAt → marked healthy", seq.map((x) => x.serverMs), "worker.updatedAt − worker.createdAt; no polling, 1 ms clock"),
  ];
  if (conc.length) {
    rows.push(row(`${CONCURRENCY} at once: POST → 202`, conc.map((x) => x.acceptedMs), `${CONCURRENT_ROUNDS} round${CONCURRENT_ROUNDS === 1 ? "" : "s"}`));
    rows.push(row(`${CONCURRENCY} at once: POST → \`/health\` 200`, conc.map((x) => x.health200Ms), `polled every ${CONCURRENT_POLL_MS} ms each; all ${CONCURRENCY} healthy after ${concWalls.map((x) => ms(x)).join(", ")}`));
    rows.push(row(`${CONCURRENCY} at once: server clock, createdAt → marked healthy`, conc.map((x) => x.serverMs)));
  }
  if (bare.length) {
    rows.push(row("Baseline: bare sandbox-agent, spawn() → `/v1/health` 200", bare.map((b) => b.spawnToHealthMs), `polled every ${POLL_MS} ms; same process, no Kiln`));
    rows.push(row("Baseline: bare mkdir + mock agent install + spawn → health", bare.map((b) => b.totalMs), "the local provider's steps"));
    rows.push(row("Baseline: the spawn() call itself (event loop blocked)", bare.map((b) => b.spawnSyncMs)));
  }
  rows.push(row("sequential: DELETE → 204", seqDeleted.map((x) => x.acceptedMs)));
  rows.push(row("sequential: DELETE → `GET /v1/workers/:id` 404 (torn down)", seqDeleted.map((x) => x.goneMs), "server process and directory checked gone"));
  if (concDeleted.length) rows.push(row(`${CONCURRENCY} at once: DELETE → 404`, concDeleted.map((x) => x.goneMs)));
  out.push(table(["Measure", "n", "p50", "p95", "max", "mean", "note"], rows, [6]));
  out.push(`\n### Where the server-side time of one creation goes (server clock, from the WorkerActor's createdAt, p50 / p95)\n`);
  const seg = (label: string, xs: number[], note: string) => {
    const s = stats(xs);
    return [label, ms(s.p50Ms), ms(s.p95Ms), note];
  };
  const segRows = (runLabel: string, xs: Created[]) => [
    seg(`${runLabel}: actor created → SandboxInstanceActor created`, xs.map((x) => x.sandboxCreatedMs), "the rest of the POST, the queue message, workflow steps `provision-started` (after the `removed` markers), start of step `advance`"),
    seg(`${runLabel}: → sandbox-agent spawned`, xs.map((x) => x.spawnedMs - x.sandboxCreatedMs), "in `advance`: sandbox `create` (mkdir, token, mock agent install), then `ensure` up to spawn()"),
    seg(`${runLabel}: → marked healthy`, xs.map((x) => x.serverMs - x.spawnedMs), "health wait in `ensureServer`, end of `advance`, step `mark-healthy` with its push to the OrganizationActor"),
  ];
  out.push(
    table(
      ["Segment", "p50", "p95", "what runs"],
      [...segRows("sequential", seq), ...(conc.length ? segRows(`${CONCURRENCY} at once`, conc) : [])],
      [3],
    ),
  );
  out.push(
    `\n"spawned" is the mtime of the sandbox's \`server.json\`, which the local provider rewrites with the pid right after spawn(). Segments are p50s of each segment, so they need not add up to the totals above.`,
  );
  out.push(
    `\nSequential creation: ${WORKERS} workers in ${(seqWallMs / 1000).toFixed(1)} s, bench process CPU ${seqCpuPct.toFixed(0)}% of a core meanwhile (Kiln, its actors and the polling client; sandbox-agent runs in its own processes). ${aliveServers} sandbox-agent servers were running once all ${WORKERS} existed. ${WORKER_WARMUP} warm-up worker${WORKER_WARMUP === 1 ? " was" : "s were"} created and deleted first and ${WORKER_WARMUP === 1 ? "is" : "are"} not counted.\n`,
  );

  out.push(`## 2. \`GET /v1/workers/:id\` with a Bearer token (autocannon, ${CONNECTIONS} connections, ${DURATION_S} s after ${WARMUP_S} s warm-up)\n`);
  out.push(
    loadTable([
      { label: "Kiln, PGlite", result: kilnLoad },
      { label: "Baseline: bare Hono on @hono/node-server, same body", result: baseLoad },
    ]),
  );
  out.push(
    `\nResponse body: Kiln ${kilnBytes} bytes, baseline ${baselineBytes} bytes. The baseline serves ${(baseLoad.requestsPerSec / kilnLoad.requestsPerSec).toFixed(1)}× Kiln's requests/s. autocannon keeps whole milliseconds (truncated). CPU is CPU time per wall second over warm-up and run (100% = one core); "server" is the bench process.\n`,
  );
  out.push(`### Where one \`GET /v1/workers/:id\` goes (${PART_CALLS} sequential in-process calls each)\n`);
  out.push(partsTable(parts));
  process.stdout.write(`${out.join("\n")}\n`);
}

runBench(main, cleanups, log);
