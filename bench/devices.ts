/**
 * The Mac app's device API under load (issue 11): idle polls with many registered devices beside
 * bare Hono returning the same body, trigger → claimed on the device's next poll, and RSS.
 *
 *   npx tsx bench/devices.ts        (knobs: BENCH_DEVICES [10000], BENCH_DEVICES_PER_USER [100], BENCH_CONNECTIONS [50],
 *                                    BENCH_DURATION [10], BENCH_WARMUP [3], BENCH_MINT_CONCURRENCY [16],
 *                                    BENCH_TRIGGERS [30], BENCH_STEADY [45] s)
 *
 * After the idle-poll load and the triggers, every device polls at its own cadence (each every
 * `next_poll_seconds`, so BENCH_DEVICES / 10 polls a second) for BENCH_STEADY seconds, longer than
 * RivetKit's 30 s sleep timeout: the RSS then is that of 10,000 polling devices whose actors sleep.
 */
import { loadavg } from "node:os";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Hono } from "hono";
import type { ClaimedRun, WatcherSummary } from "../shared/schemas/watcher.js";
import {
  envInt,
  listen,
  loadTable,
  machineDescription,
  makeLog,
  ms,
  runBench,
  runLoad,
  signUp,
  startBenchKiln,
  stats,
  table,
  timed,
  type Cleanups,
} from "./support.js";

const DEVICES = envInt("BENCH_DEVICES", 10_000);
const PER_USER = Math.max(1, envInt("BENCH_DEVICES_PER_USER", 100));
const CONNECTIONS = envInt("BENCH_CONNECTIONS", 50);
const DURATION = envInt("BENCH_DURATION", 10);
const WARMUP = envInt("BENCH_WARMUP", 3);
const MINT_CONCURRENCY = Math.max(1, envInt("BENCH_MINT_CONCURRENCY", 16));
const TRIGGERS = envInt("BENCH_TRIGGERS", 30);
const STEADY = envInt("BENCH_STEADY", 45);
/** What an idle poll answers: each device polls this often. */
const NEXT_POLL_SECONDS = 10;
const load = () => loadavg().map((v) => v.toFixed(1)).join(", ");
/** Server CPU per request, from the share of a core the serving process used and its request rate. */
const cpuPerRequest = (r: { serverCpuPct: number; requestsPerSec: number }) => (r.requestsPerSec > 0 ? `${((r.serverCpuPct / 100 / r.requestsPerSec) * 1e6).toFixed(0)} µs` : "n/a");

const log = makeLog("devices");
const cleanups: Cleanups = [];
const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MB`;
/** RSS and V8's used heap (not collected first: the heap figure includes garbage not yet collected). */
const mem = (m: NodeJS.MemoryUsage) => [mb(m.rss), mb(m.heapUsed)];

/** A POST; a connection the server closed as it was reused (keep-alive race) is tried again, up to 3 times. */
async function post<T>(url: string, token: string, body?: unknown, attempt = 1): Promise<{ status: number; body: T }> {
  let res: Response;
  try {
    res = await fetch(url, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json", origin: new URL(url).origin },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    if (attempt >= 3) throw err;
    log(`retrying a POST after: ${(err as Error).message} (${String((err as { cause?: unknown }).cause)})`);
    return post(url, token, body, attempt + 1);
  }
  return { status: res.status, body: (await res.json()) as T };
}

/** Runs `fn` over `items` with at most `limit` at once. */
async function pool<T>(items: T[], limit: number, fn: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        await fn(items[i]!, i);
      }
    }),
  );
}

async function main(): Promise<void> {
  log(`machine: ${machineDescription()}`);
  const rss0 = process.memoryUsage();
  const { kiln, dataDir } = await startBenchKiln(cleanups);
  const base = kiln.url;
  const rssStarted = process.memoryUsage();

  const users: { token: string; userId: string }[] = [];
  for (let i = 0; i < Math.ceil(DEVICES / PER_USER); i++) users.push(await signUp(base, `User ${i}`, "dev"));
  log(`${users.length} users signed up`);

  const devices: [string, string][] = new Array(DEVICES);
  const t0 = Date.now();
  await pool(
    Array.from({ length: DEVICES }, (_, i) => i),
    MINT_CONCURRENCY,
    async (i) => {
      const user = users[Math.floor(i / PER_USER)]!;
      const minted = await post<{ worker_id: string; access_token: string }>(`${base}/v1/devices/mint-token`, user.token, { platform: "macos" });
      if (minted.status !== 201) throw new Error(`mint: ${minted.status} ${JSON.stringify(minted.body)}`);
      const first = await post(`${base}/api/workers/poll`, minted.body.access_token, { worker_id: minted.body.worker_id, platform: "macos", app_version: "1.0.0" });
      if (first.status !== 200) throw new Error(`first poll: ${first.status}`);
      devices[i] = [minted.body.access_token, minted.body.worker_id];
      if ((i + 1) % 1000 === 0) log(`${i + 1} devices minted and registered (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
    },
  );
  const registerSeconds = (Date.now() - t0) / 1000;
  log(`${DEVICES} devices registered in ${registerSeconds.toFixed(0)} s (load average ${load()})`);
  const devicesFile = join(dataDir, "bench-devices.json");
  writeFileSync(devicesFile, JSON.stringify(devices));
  const rssRegistered = process.memoryUsage();

  // Steady state: a Mac app polls every `next_poll_seconds`. Touch every device once right before
  // the load, as its own poll would have (each is then on the device board; its actor may sleep).
  await pool(devices, MINT_CONCURRENCY, async ([token, workerId]) => {
    const r = await post(`${base}/api/workers/poll`, token, { worker_id: workerId });
    if (r.status !== 200) throw new Error(`poll: ${r.status}`);
  });
  const idleBody = (await post<unknown>(`${base}/api/workers/poll`, devices[0]![0], { worker_id: devices[0]![1] })).body;
  log(`idle body: ${JSON.stringify(idleBody)}; polling ${DEVICES} devices with ${CONNECTIONS} connections from ${Math.round(performance.now())} ms`);
  const knobs = { connections: CONNECTIONS, warmupSeconds: WARMUP, durationSeconds: DURATION };
  const loadBefore = load();
  const kilnLoad = await runLoad(`${base}/api/workers/poll`, {}, { devicesFile, ...knobs });
  const rssPolled = process.memoryUsage();
  log(`idle-poll load done at ${Math.round(performance.now())} ms: ${kilnLoad.requestsPerSec.toFixed(0)} req/s`);

  // Baseline: bare Hono, same route and method, a Bearer check, the same idle body.
  const bare = new Hono().post("/api/workers/poll", async (c) => {
    if (!c.req.header("authorization")?.startsWith("Bearer ")) return c.json({ error: "unauthorized" }, 401);
    const body = (await c.req.json()) as { worker_id?: string };
    if (!body.worker_id) return c.json({ error: "invalid_request" }, 400);
    return c.json(idleBody);
  });
  const baseline = await listen(bare, cleanups);
  const bareLoad = await runLoad(`${baseline.url}/api/workers/poll`, {}, { devicesFile, ...knobs });

  // Trigger → claimed: one device, its default watcher; the poll right after the trigger's answer claims it.
  // The first user's default watcher, pinned to whichever of their devices registered first.
  const orgId = `personal-${users[0]!.userId}`;
  const watchers = (await (await fetch(`${base}/v1/orgs/${orgId}/watchers`, { headers: { authorization: `Bearer ${users[0]!.token}` } })).json()) as { watchers: WatcherSummary[] };
  const watcher = watchers.watchers.find((w) => w.deviceWorkerId !== null);
  const pinned = devices.find(([, id]) => id === watcher?.deviceWorkerId);
  if (!watcher || !pinned) throw new Error(`no pinned default watcher among ${JSON.stringify(watchers.watchers)}`);
  const [token, workerId] = pinned;
  const triggerMs: number[] = [];
  const claimMs: number[] = [];
  const totalMs: number[] = [];
  for (let i = 0; i < TRIGGERS; i++) {
    let runId = "";
    const t = await timed(async () => {
      triggerMs.push(await timed(async () => {
        const r = await post<{ run_id: string }>(`${base}/api/workers/me/watchers/${watcher.id}/trigger`, token);
        if (r.status !== 200) throw new Error(`trigger: ${r.status} ${JSON.stringify(r.body)}`);
        runId = r.body.run_id;
      }));
      claimMs.push(await timed(async () => {
        const r = await post<ClaimedRun>(`${base}/api/workers/poll`, token, { worker_id: workerId });
        if (r.body.run_id !== runId) throw new Error(`the next poll did not claim ${runId}: ${JSON.stringify(r.body)}`);
      }));
    });
    totalMs.push(t);
    await post(`${base}/api/workers/me/runs/${runId}/complete-watcher`, token, { worker_id: workerId, output: "ok" });
  }

  // Steady state: every device polls once per `next_poll_seconds`, past the actors' sleep timeout.
  const steadyRate = Math.max(1, Math.round(DEVICES / NEXT_POLL_SECONDS));
  log(`steady state: ${steadyRate} polls/s for ${STEADY} s`);
  const steady = STEADY > 0 ? await runLoad(`${base}/api/workers/poll`, {}, { devicesFile, connections: CONNECTIONS, overallRate: steadyRate, warmupSeconds: 0, durationSeconds: STEADY }) : null;
  const rssSteady = process.memoryUsage();
  const loadAfter = load();

  const out: string[] = [];
  out.push(`Machine: ${machineDescription()}. ${DEVICES} devices in ${users.length} personal orgs, minted and registered in ${registerSeconds.toFixed(0)} s (${MINT_CONCURRENCY} at once).`);
  out.push("");
  out.push(`### Idle polls, ${DEVICES} registered devices, ${CONNECTIONS} connections, ${WARMUP} s warm-up then ${DURATION} s`);
  out.push("");
  out.push(
    loadTable([
      { label: "Kiln `POST /api/workers/poll` (each request another device's token)", result: kilnLoad },
      { label: "Baseline: bare Hono, same route, Bearer check, same body", result: bareLoad },
    ]),
  );
  out.push("");
  out.push(`Non-2xx: Kiln ${kilnLoad.non2xx}, baseline ${bareLoad.non2xx}; errors ${kilnLoad.errors} / ${bareLoad.errors}.`);
  out.push("");
  out.push(
    `Kiln / bare Hono: **${(kilnLoad.requestsPerSec / bareLoad.requestsPerSec).toFixed(2)}×** the requests/s. Server CPU per request: Kiln ${cpuPerRequest(kilnLoad)}, bare Hono ${cpuPerRequest(bareLoad)}. Load average (1, 5, 15 min) before the load: ${loadBefore}; at the end: ${loadAfter}.`,
  );
  out.push("");
  out.push(`### Trigger → claimed on the next poll (${TRIGGERS} times, one device)`);
  out.push("");
  const row = (label: string, v: number[]) => {
    const s = stats(v);
    return [label, String(s.n), ms(s.p50Ms), ms(s.p95Ms), ms(s.maxMs)];
  };
  out.push(table(["Measure", "n", "p50", "p95", "max"], [row("trigger (200)", triggerMs), row("next poll (claims the run)", claimMs), row("trigger → claimed", totalMs)]));
  out.push("");
  out.push("### Memory (RSS of the process running Kiln)");
  out.push("");
  out.push(
    table(
      ["When", "RSS", "V8 heap used"],
      [
        ["before Kiln started", ...mem(rss0)],
        ["Kiln started", ...mem(rssStarted)],
        [`${DEVICES} devices minted and registered`, ...mem(rssRegistered)],
        ["after the idle-poll load (every device polled)", ...mem(rssPolled)],
        ...(steady ? [[`after ${STEADY} s of every device polling every ${NEXT_POLL_SECONDS} s (steady state; DeviceActors asleep)`, ...mem(rssSteady)]] : []),
      ],
    ),
  );
  if (steady) {
    out.push("");
    out.push(
      `Steady state: ${steady.requestsPerSec.toFixed(0)} polls/s asked (${steadyRate}), p50 ${steady.latencyP50Ms} ms, p99 ${steady.latencyP99Ms} ms, max ${steady.latencyMaxMs} ms, non-2xx ${steady.non2xx}, server CPU ${steady.serverCpuPct.toFixed(0)}% (${cpuPerRequest(steady)} a poll, counting all of the process's work in that window: actors going to sleep, \`last_seen_at\` writes).`,
    );
  }
  process.stdout.write(`${out.join("\n")}\n`);
}

runBench(main, cleanups, log);
