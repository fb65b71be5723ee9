/**
 * CPU profile of one hot route under load: Kiln in this process, autocannon in a child.
 *
 *   node --cpu-prof --cpu-prof-dir=/tmp/kiln-prof --import tsx bench/profile.ts me
 *   npx tsx bench/profile-summary.ts /tmp/kiln-prof/<file>.cpuprofile
 *
 * Routes: `me`, `org`, `worker`, `task`, `tasks` (the list, BENCH_TASKS tasks, `?limit=1000`),
 * `create` (POST /tasks back to back, BENCH_TASKS of them), `devices` (idle device polls,
 * `POST /api/workers/poll`, each request the next of BENCH_DEVICES [500] registered devices, as
 * bench/devices.ts drives them). Knobs: BENCH_TASKS [200],
 * BENCH_CONNECTIONS [10], BENCH_DURATION [10] s, BENCH_WARMUP [2] s, DATABASE_URL (PostgreSQL
 * instead of PGlite). The profile covers the whole process; setup is a small share of it, and
 * the summary can be cut to the load window with PROFILE_FROM_MS.
 */
import { createBareRepo } from "../test/support/git-fixture.js";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { envInt, makeLog, runBench, runLoad, signUp, startBenchKiln, timed, type Cleanups } from "./support.js";

const cleanups: Cleanups = [];
const log = makeLog("profile");
const route = process.argv[2] ?? "me";
const TASKS = envInt("BENCH_TASKS", 200);

async function main(): Promise<void> {
  process.env.RIVET_LOG_LEVEL ??= "error";
  const env: Record<string, string> = { KILN_SANDBOX_PROVIDER: "local-git" };
  if (process.env.DATABASE_URL) env.DATABASE_URL = process.env.DATABASE_URL;
  const { kiln } = await startBenchKiln(cleanups, env);
  const { token, userId } = await signUp(kiln.url, "Profile User");
  const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" };
  const me = (await (await fetch(`${kiln.url}/v1/me`, { headers })).json()) as { organizations: { id: string }[] };
  const orgId = me.organizations[0]?.id ?? `personal-${userId}`;
  const post = async (path: string, body: unknown) => {
    const res = await fetch(`${kiln.url}${path}`, { method: "POST", headers, body: JSON.stringify(body) });
    if (res.status >= 300) throw new Error(`POST ${path}: ${res.status} ${await res.text()}`);
    return res.json() as Promise<Record<string, { id: string }>>;
  };

  let url = `${kiln.url}/v1/me`;
  if (route === "org") url = `${kiln.url}/v1/orgs/${orgId}`;
  if (route === "worker") {
    const created = await post("/v1/workers", { name: "profiled", destination: "local", workspacePath: "/tmp/w" });
    url = `${kiln.url}/v1/workers/${created.worker?.id ?? ""}`;
  }
  if (route === "task" || route === "tasks" || route === "create") {
    const root = mkdtempSync(join(tmpdir(), "kiln-profile-remote-"));
    cleanups.push(() => rmSync(root, { recursive: true, force: true }));
    const repo = (await post(`/v1/orgs/${orgId}/repos`, { remoteUrl: createBareRepo(root) })).repo?.id ?? "";
    const count = route === "task" ? 1 : TASKS;
    log(`creating ${count} tasks from ${Math.round(performance.now())} ms`);
    const samples: number[] = [];
    let first = "";
    for (let i = 0; i < count; i++) {
      samples.push(
        await timed(async () => {
          const id = (await post(`/v1/orgs/${orgId}/tasks`, { repoId: repo, prompt: `Task ${i}` })).task?.id ?? "";
          first ||= id;
        }),
      );
    }
    samples.sort((a, b) => a - b);
    log(`until ${Math.round(performance.now())} ms: POST /tasks p50 ${samples[Math.floor(samples.length / 2)]?.toFixed(1)} ms over ${count}`);
    if (route === "create") return;
    url = route === "task" ? `${kiln.url}/v1/orgs/${orgId}/tasks/${first}` : `${kiln.url}/v1/orgs/${orgId}/tasks?limit=1000`;
  }
  if (route === "devices") {
    const count = envInt("BENCH_DEVICES", 500);
    const devices: [string, string][] = [];
    const tokens = [token];
    log(`registering ${count} devices from ${Math.round(performance.now())} ms`);
    const device = async (i: number) => {
      // 100 devices a user, as bench/devices.ts has them.
      if (i % 100 === 0 && i > 0) tokens.push((await signUp(kiln.url, `Profile User ${i}`)).token);
      const userToken = tokens[tokens.length - 1]!;
      const call = async (path: string, bearer: string, body: unknown) => {
        const res = await fetch(`${kiln.url}${path}`, { method: "POST", headers: { authorization: `Bearer ${bearer}`, "content-type": "application/json" }, body: JSON.stringify(body) });
        if (res.status >= 300) throw new Error(`POST ${path}: ${res.status} ${await res.text()}`);
        return (await res.json()) as { worker_id: string; access_token: string };
      };
      const minted = await call("/v1/devices/mint-token", userToken, { platform: "macos" });
      await call("/api/workers/poll", minted.access_token, { worker_id: minted.worker_id, platform: "macos", app_version: "1.0.0" });
      devices.push([minted.access_token, minted.worker_id]);
    };
    for (let i = 0; i < count; i++) await device(i);
    const dir = mkdtempSync(join(tmpdir(), "kiln-profile-devices-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const devicesFile = join(dir, "devices.json");
    writeFileSync(devicesFile, JSON.stringify(devices));
    log(`idle-poll load on ${count} devices from ${Math.round(performance.now())} ms`);
    const result = await runLoad(`${kiln.url}/api/workers/poll`, {}, {
      devicesFile,
      connections: envInt("BENCH_CONNECTIONS", 50),
      warmupSeconds: envInt("BENCH_WARMUP", 2),
      durationSeconds: envInt("BENCH_DURATION", 10),
    });
    const cpuUs = ((result.serverCpuPct / 100 / result.requestsPerSec) * 1e6).toFixed(0);
    log(`devices: ${result.requestsPerSec.toFixed(0)} polls/s, p50 ${result.latencyP50Ms} ms, non-2xx ${result.non2xx}, server CPU ${result.serverCpuPct.toFixed(0)}% (${cpuUs} µs a poll), until ${Math.round(performance.now())} ms`);
    return;
  }
  const probe = await fetch(url, { headers });
  if (probe.status !== 200) throw new Error(`GET ${url}: ${probe.status} ${await probe.text()}`);
  log(`load on ${url} from ${Math.round(performance.now())} ms`);
  const result = await runLoad(url, { authorization: headers.authorization }, {
    connections: envInt("BENCH_CONNECTIONS", 10),
    warmupSeconds: envInt("BENCH_WARMUP", 2),
    durationSeconds: envInt("BENCH_DURATION", 10),
  });
  log(`${route}: ${result.requestsPerSec.toFixed(0)} req/s, p50 ${result.latencyP50Ms} ms, non-2xx ${result.non2xx}, server CPU ${result.serverCpuPct.toFixed(0)}%`);
}

runBench(main, cleanups, log);
