/**
 * `npm run bench`: Kiln's request and actor-call figures, each measured in one run together
 * with its baseline, printed as markdown tables. See BENCHMARKS.md for recorded results.
 *
 *   npm run bench                                                   # PGlite (default app database)
 *   DATABASE_URL_BENCH=postgres://127.0.0.1:5432/test npm run bench # also /v1/me on PostgreSQL
 *
 * Environment knobs (defaults in brackets): BENCH_CONNECTIONS [10], BENCH_DURATION [10] s,
 * BENCH_WARMUP [2] s, BENCH_CALLS [2000], BENCH_CALL_WARMUP [200], BENCH_PART_CALLS [300].
 */
import { randomBytes } from "node:crypto";
import { userInfo } from "node:os";
import type { AddressInfo } from "node:net";
import pg from "pg";
import { createClient } from "rivetkit/client";
import { WebSocket, WebSocketServer } from "ws";
import { internalParams } from "../actors/auth.js";
import { keys, personalOrgId } from "../shared/keys.js";
import type { Registry } from "../actors/registry.js";
import type { Kiln } from "../server/app.js";
import { bearerBaselineApp, envInt, listen, loadTable, machineDescription, makeLog, ms, partsTable, runBench, runLoad, signUp, startBenchKiln, table, timeCalls, type Cleanups, type LoadKnobs, type Part, type ServedLoad, type Stats } from "./support.js";

const CONNECTIONS = envInt("BENCH_CONNECTIONS", 10);
const DURATION_S = envInt("BENCH_DURATION", 10);
const WARMUP_S = envInt("BENCH_WARMUP", 2);
const CALLS = envInt("BENCH_CALLS", 2000);
const CALL_WARMUP = envInt("BENCH_CALL_WARMUP", 200);
const PART_CALLS = envInt("BENCH_PART_CALLS", 300);
const LOAD: LoadKnobs = { connections: CONNECTIONS, warmupSeconds: WARMUP_S, durationSeconds: DURATION_S };

const cleanups: Cleanups = [];
const log = makeLog("bench");

// ---------------------------------------------------------------------------------------------
// Small helpers

/** Actor calls: BENCH_CALL_WARMUP unmeasured, then BENCH_CALLS timed one after another. */
const timeActorCalls = (fn: () => Promise<unknown>): Promise<Stats> => timeCalls(fn, CALLS, CALL_WARMUP);

/** Counts the HTTP requests RivetKit's remote client makes (it uses the global fetch). */
const fetchCounter = (() => {
  let count = 0;
  const original = globalThis.fetch;
  globalThis.fetch = ((...args: Parameters<typeof fetch>) => {
    count += 1;
    return original(...args);
  }) as typeof fetch;
  return {
    get count() {
      return count;
    },
  };
})();

// ---------------------------------------------------------------------------------------------
// Kiln, its database and a signed-up user

interface BenchKiln {
  kiln: Kiln;
  backend: "pglite" | "postgres";
  stop(): Promise<void>;
}

/** A fresh database on the PostgreSQL named by DATABASE_URL_BENCH (used as the admin URL). */
async function freshPostgres(adminUrl: string): Promise<{ url: string; drop(): Promise<void> }> {
  const admin = new URL(adminUrl);
  // `pg` takes the user from $USER when the URL names none; it is unset in some containers.
  if (!admin.username && !process.env.PGUSER && !process.env.USER) admin.username = userInfo().username;
  const name = `kiln_bench_${randomBytes(5).toString("hex")}`;
  const adminConn = () => new pg.Client({ connectionString: admin.toString() });
  const c = adminConn();
  await c.connect();
  await c.query(`create database ${name}`);
  await c.end();
  const url = new URL(admin.toString());
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const d = adminConn();
      await d.connect();
      await d.query(`drop database if exists ${name} with (force)`);
      await d.end();
    },
  };
}

/** Kiln on PGlite, or on a fresh database on DATABASE_URL_BENCH's PostgreSQL (dropped at stop). */
async function startKilnOn(backend: "pglite" | "postgres"): Promise<BenchKiln> {
  const pgdb = backend === "postgres" ? await freshPostgres(process.env.DATABASE_URL_BENCH ?? "") : undefined;
  try {
    const { kiln, stop } = await startBenchKiln(cleanups, pgdb ? { DATABASE_URL: pgdb.url } : {}, pgdb?.drop);
    return { kiln, backend, stop };
  } catch (err) {
    await pgdb?.drop().catch(() => {});
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------
// Baselines: a bare Hono app and a bare WebSocket echo server

async function wsEcho(): Promise<{ url: string; close(): Promise<void> }> {
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0 });
  await new Promise<void>((res) => wss.once("listening", () => res()));
  wss.on("connection", (ws) => ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary })));
  const { port } = wss.address() as AddressInfo;
  const close = () =>
    new Promise<void>((res) => {
      for (const c of wss.clients) c.terminate();
      wss.close(() => res());
    });
  cleanups.push(close);
  return { url: `ws://127.0.0.1:${port}`, close };
}

// ---------------------------------------------------------------------------------------------
// GET /v1/me under load, and its parts

interface HttpRow {
  label: string;
  result: ServedLoad;
  /** Sequential, in-process timings of the parts of one `/v1/me` request. */
  parts: Part[];
}

/** Where one `/v1/me` goes, one call at a time and without a socket. */
async function meParts(kiln: Kiln, token: string, userId: string): Promise<HttpRow["parts"]> {
  const headers = { authorization: `Bearer ${token}` };
  const n = PART_CALLS;
  const w = Math.ceil(n / 10);
  return [
    {
      label: "whole route, `kiln.app.request(\"/v1/me\")` (no socket)",
      stats: await timeCalls(async () => (await kiln.app.request("/v1/me", { headers })).arrayBuffer(), n, w),
    },
    {
      label: "`auth.api.getSession` with the Bearer token (what a cache miss costs)",
      stats: await timeCalls(() => kiln.auth.api.getSession({ headers: new Headers(headers) }), n, w),
    },
    { label: "`organizations.listForUser` (org_membership index)", stats: await timeCalls(() => kiln.organizations.listForUser(userId), n, w) },
  ];
}

async function benchMe(bk: BenchKiln, label: string): Promise<{ row: HttpRow; body: unknown; token: string }> {
  const { token, userId } = await signUp(bk.kiln.url, "Bench User");
  const headers = { authorization: `Bearer ${token}` };
  const probe = await fetch(`${bk.kiln.url}/v1/me`, { headers });
  if (probe.status !== 200) throw new Error(`GET /v1/me answered ${probe.status}: ${await probe.text()}`);
  const body: unknown = await probe.json();
  log(`GET /v1/me on Kiln (${label}): ${WARMUP_S}s warm-up + ${DURATION_S}s at ${CONNECTIONS} connections`);
  const result = await runLoad(`${bk.kiln.url}/v1/me`, headers, LOAD);
  if (result.non2xx > 0 || result.errors > 0) {
    throw new Error(`Kiln ${label}: ${result.non2xx} non-2xx responses and ${result.errors} errors during the run`);
  }
  log(`parts of /v1/me on ${label}: ${PART_CALLS} sequential in-process calls each`);
  const parts = await meParts(bk.kiln, token, userId);
  return { row: { label, result, parts }, body, token };
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  // RivetKit's remote client logs through its own logger; keep its reconnect chatter off the report.
  process.env.RIVET_LOG_LEVEL ??= "error";
  const started = Date.now();
  const machine = machineDescription();

  // --- 1. GET /v1/me over a real socket ------------------------------------------------------
  log("starting Kiln on PGlite");
  const pglite = await startKilnOn("pglite");
  const me = await benchMe(pglite, "Kiln, PGlite");
  const httpRows: HttpRow[] = [me.row];

  const baseline = await listen(bearerBaselineApp("/v1/me", me.body), cleanups);
  const baselineProbe = await fetch(`${baseline.url}/v1/me`, { headers: { authorization: `Bearer ${me.token}` } });
  const kilnBytes = JSON.stringify(me.body).length;
  const baselineBytes = (await baselineProbe.text()).length;
  log(`GET /v1/me on bare Hono baseline: ${WARMUP_S}s warm-up + ${DURATION_S}s`);
  const baseResult = await runLoad(`${baseline.url}/v1/me`, { authorization: `Bearer ${me.token}` }, LOAD);
  if (baseResult.non2xx > 0 || baseResult.errors > 0) throw new Error("baseline answered non-2xx or errored");
  httpRows.push({ label: "Baseline: bare Hono on @hono/node-server", result: baseResult, parts: [] });

  // --- 2. One OrganizationActor `summary` call -------------------------------------------------
  const { kiln } = pglite;
  const { token, userId } = await signUp(kiln.url, "Bench User");
  const orgKey = keys.organization(personalOrgId(userId));
  const actorRows: { label: string; stats: Stats; note: string }[] = [];

  log(`actor calls: ${CALL_WARMUP} warm-up + ${CALLS} timed, sequential`);
  const noop = async (): Promise<void> => {};
  actorRows.push({ label: "Baseline: `await` of an async no-op function", stats: await timeActorCalls(noop), note: "in process" });

  const inProc = kiln.client.organization.get(orgKey, { params: internalParams() });
  actorRows.push({
    label: "`summary`, in-process client (`kiln.client`)",
    stats: await timeActorCalls(() => inProc.summary()),
    note: "internal params, no HTTP hop",
  });

  const remote = createClient<Registry>({
    endpoint: `${kiln.url}/api/rivet`,
    disableMetadataLookup: true,
    headers: { authorization: `Bearer ${token}` },
  });
  cleanups.push(() => remote.dispose());
  const handle = remote.organization.get(orgKey, { params: { token } });
  await handle.summary(); // resolve the actor before counting requests
  const fetchesBefore = fetchCounter.count;
  const statelessStats = await timeActorCalls(() => handle.summary());
  const fetchesPerCall = (fetchCounter.count - fetchesBefore) / (CALLS + CALL_WARMUP);
  actorRows.push({
    label: "`summary`, remote stateless handle (`handle.summary()`)",
    stats: statelessStats,
    note: `${fetchesPerCall.toFixed(2)} HTTP requests per call; session token verified on each`,
  });

  const conn = handle.connect();
  cleanups.push(() => conn.dispose());
  await conn.summary(); // opens the WebSocket and authenticates once
  actorRows.push({
    label: "`summary`, remote connected (`handle.connect()`, WebSocket)",
    stats: await timeActorCalls(() => conn.summary()),
    note: "token verified once, at connect",
  });

  const httpFloor = await timeActorCalls(async () => {
    const r = await fetch(`${baseline.url}/v1/me`, { headers: { authorization: `Bearer ${token}` } });
    await r.arrayBuffer();
  });
  actorRows.push({ label: "Baseline: `fetch` to the bare Hono `/v1/me`", stats: httpFloor, note: "HTTP round trip floor (undici)" });

  const echo = await wsEcho();
  const ws = new WebSocket(echo.url);
  await new Promise<void>((res, rej) => {
    ws.once("open", () => res());
    ws.once("error", rej);
  });
  const payload = JSON.stringify(me.body);
  const wsFloor = await timeActorCalls(
    () =>
      new Promise<void>((res) => {
        ws.once("message", () => res());
        ws.send(payload);
      }),
  );
  ws.close();
  actorRows.push({ label: "Baseline: `ws` echo of a same-size JSON message", stats: wsFloor, note: "WebSocket round trip floor" });

  await conn.dispose();
  await pglite.stop();

  // --- 1b. GET /v1/me on PostgreSQL, when asked for -------------------------------------------
  if (process.env.DATABASE_URL_BENCH) {
    log("starting Kiln on PostgreSQL (DATABASE_URL_BENCH)");
    const pgKiln = await startKilnOn("postgres");
    const pgMe = await benchMe(pgKiln, "Kiln, PostgreSQL");
    httpRows.splice(1, 0, pgMe.row);
    await pgKiln.stop();
  }

  // --- Report ----------------------------------------------------------------------------------
  const out: string[] = [];
  out.push(`# Kiln benchmarks\n`);
  out.push(`Machine: ${machine}`);
  out.push(`Run: ${new Date().toISOString()}, total ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
  out.push(`## 1. GET /v1/me with a Bearer token (autocannon, ${CONNECTIONS} connections, ${DURATION_S} s after ${WARMUP_S} s warm-up)\n`);
  out.push(loadTable(httpRows));
  const ratio = baseResult.requestsPerSec / me.row.result.requestsPerSec;
  out.push(`\nResponse body: Kiln ${kilnBytes} bytes, baseline ${baselineBytes} bytes. Baseline serves ${ratio.toFixed(1)}× the requests/s of Kiln on PGlite.`);
  out.push(`autocannon keeps latency in whole milliseconds (truncated), so "< 1 ms" means under one millisecond.`);
  out.push(
    `CPU columns: CPU time per wall second over warm-up and run (100% = one core). "server" is the bench process, which serves Kiln and the baseline in turn; autocannon runs in a child process.\n`,
  );
  out.push(`### Where one /v1/me goes (${PART_CALLS} sequential in-process calls each, no concurrency)\n`);
  out.push(partsTable(httpRows.flatMap(({ label, parts }) => parts.map((p) => ({ label: `${label}: ${p.label}`, stats: p.stats })))));
  out.push("");
  out.push(`## 2. OrganizationActor \`summary\` call (${CALLS} sequential calls after ${CALL_WARMUP} warm-up)\n`);
  out.push(
    table(
      ["Call", "p50", "p99", "mean", "max", "note"],
      actorRows.map(({ label, stats: s, note }) => [label, ms(s.p50Ms), ms(s.p99Ms), ms(s.meanMs), ms(s.maxMs), note]),
      [5],
    ),
  );
  process.stdout.write(`${out.join("\n")}\n`);
}

runBench(main, cleanups, log);
