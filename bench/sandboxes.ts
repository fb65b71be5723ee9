/**
 * Sandboxes and sessions on the `local` provider (real sandbox-agent processes), each figure
 * next to a baseline measured in the same run on a bare sandbox-agent server driven directly
 * through its SDK: the same work without Kiln.
 *
 *   npx tsx bench/sandboxes.ts            (BENCH_TASKS=20 BENCH_TURNS=20 BENCH_CONCURRENCY=1,4,8)
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "rivetkit/client";
import { SandboxAgent } from "sandbox-agent";
import type { Registry } from "../actors/registry.js";
import { installMockAgent } from "../actors/sandbox/agent/install.js";
import { sandboxAgentBinary } from "../actors/sandbox/local.js";
import { startKiln } from "../server/app.js";
import { loadConfig } from "../server/config.js";
import { createLogger } from "../shared/logger.js";
import type { SessionEvent, SessionSummary } from "../shared/schemas/session.js";
import type { TaskView } from "../shared/schemas/task.js";
import { createBareRepo } from "../test/support/git-fixture.js";
import { sleep } from "./support.js";

const TASKS = Number(process.env.BENCH_TASKS ?? 20);
const TURNS = Number(process.env.BENCH_TURNS ?? 20);
const CONCURRENCY = (process.env.BENCH_CONCURRENCY ?? "1,4,8").split(",").map(Number);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);

// This report's own percentile (index floor(p% · n), so p95 is at hand) and whole-millisecond
// format; ./support.ts's `stats` and `ms` pick and print differently, so they would change its figures.
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
};
const ms = (x: number) => `${x.toFixed(0)} ms`;

/** Baseline: what Kiln's provisioning does, done by hand on a bare server (spawn, health, clone, checkout). */
async function bareProvision(root: string, origin: string, i: number): Promise<{ ms: number; sdk: SandboxAgent; stop(): void; repo: string }> {
  const dir = join(root, `bare-${i}`);
  mkdirSync(join(dir, "work"), { recursive: true });
  mkdirSync(join(dir, "xdg"), { recursive: true });
  await installMockAgent(join(dir, "xdg"));
  const started = performance.now();
  const token = randomBytes(12).toString("hex");
  const port = 20000 + Math.floor(Math.random() * 20000);
  const child = spawn(sandboxAgentBinary(), ["server", "--no-telemetry", "-H", "127.0.0.1", "-p", String(port), "-t", token], {
    cwd: join(dir, "work"),
    env: { PATH: process.env.PATH ?? "", HOME: join(dir, "work"), XDG_DATA_HOME: join(dir, "xdg") },
    stdio: "ignore",
  });
  for (;;) {
    const ok = await fetch(`http://127.0.0.1:${port}/v1/health`, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.ok, () => false);
    if (ok) break;
    await sleep(20);
  }
  const sdk = await SandboxAgent.connect({ baseUrl: `http://127.0.0.1:${port}`, token, skipHealthCheck: true });
  const repo = join(dir, "work", "repo");
  await sdk.runProcess({ command: "git", args: ["clone", "-q", origin, repo], timeoutMs: 60_000 });
  await sdk.runProcess({ command: "git", args: ["checkout", "-q", "-B", `bench-${i}`], cwd: repo });
  return { ms: performance.now() - started, sdk, stop: () => child.kill("SIGKILL"), repo };
}

async function main() {
  const root = mkdtempSync(join(tmpdir(), "kiln-bench-sandboxes-"));
  const origin = createBareRepo(root, "origin");
  const config = loadConfig({ NODE_ENV: "test", PORT: "0", KILN_DATA_DIR: join(root, "kiln"), LOG_LEVEL: "silent" });
  const kiln = await startKiln(config, createLogger("silent"));
  const rows: string[] = [];
  try {
    const headers = { "content-type": "application/json", origin: kiln.url };
    const signUp = await fetch(`${kiln.url}/api/auth/sign-up/email`, {
      method: "POST",
      headers,
      body: JSON.stringify({ email: `bench-${Date.now()}@example.com`, password: "bench-password", name: "Bench" }),
    });
    const { token, user } = (await signUp.json()) as { token: string; user: { id: string } };
    const auth = { ...headers, authorization: `Bearer ${token}` };
    const orgId = `personal-${user.id}`;
    const call = async <T>(method: string, path: string, body?: unknown): Promise<T> =>
      (await (await fetch(`${kiln.url}${path}`, { method, headers: auth, body: body === undefined ? undefined : JSON.stringify(body) })).json()) as T;
    const repoId = (await call<{ repo: { id: string } }>("POST", `/v1/orgs/${orgId}/repos`, { remoteUrl: origin })).repo.id;

    // 1. Task creation to ready, sequentially.
    const toReady: number[] = [];
    const taskIds: string[] = [];
    for (let i = 0; i < TASKS; i++) {
      const t0 = performance.now();
      const { task } = await call<{ task: { id: string } }>("POST", `/v1/orgs/${orgId}/tasks`, { repoId, prompt: `Bench task ${i}` });
      for (;;) {
        const v = await call<TaskView>("GET", `/v1/orgs/${orgId}/tasks/${task.id}`);
        if (v.task.lifecycle.state !== "starting") break;
        await sleep(10);
      }
      toReady.push(performance.now() - t0);
      taskIds.push(task.id);
    }
    const bare: Awaited<ReturnType<typeof bareProvision>>[] = [];
    for (let i = 0; i < Math.min(TASKS, 10); i++) bare.push(await bareProvision(root, origin, i));
    const bareMs = bare.map((b) => b.ms);
    rows.push(`| task creation → ready (n=${TASKS}) | ${ms(pct(toReady, 50))} | ${ms(pct(toReady, 95))} | bare spawn+health+clone+checkout (n=${bare.length}): ${ms(pct(bareMs, 50))} / ${ms(pct(bareMs, 95))} |`);

    // 2. Message to first streamed event, on one session, over a live subscription.
    const client = createClient<Registry>({
      endpoint: `${kiln.url}/api/rivet`,
      disableMetadataLookup: true,
      headers: { authorization: `Bearer ${token}` },
    });
    const taskId = taskIds[0]!;
    const view = await call<TaskView>("GET", `/v1/orgs/${orgId}/tasks/${taskId}`);
    const base = `/v1/orgs/${orgId}/tasks/${taskId}/sessions`;
    const { session } = await call<{ session: SessionSummary }>("POST", base, { agent: "mock" });
    while ((await call<{ session: SessionSummary }>("GET", `${base}/${session.id}`)).session.status !== "ready") await sleep(20);
    const conn = client.taskSession.get(["org", orgId, "repo", view.task.repoId, "task", taskId, "session", session.id], { params: { token } }).connect();
    let waiter: ((e: SessionEvent) => void) | undefined;
    conn.on("sessionEvent", (e) => waiter?.(e));
    await conn.view();
    const firstEvent: number[] = [];
    const fullTurn: number[] = [];
    for (let i = 0; i < TURNS; i++) {
      const t0 = performance.now();
      let first = 0;
      const done = new Promise<void>((resolve) => {
        waiter = (e) => {
          if (!first && e.sender === "agent") first = performance.now() - t0;
          if (e.kind === "turn_ended") resolve();
        };
      });
      await call("POST", `${base}/${session.id}/messages`, { text: `turn ${i}` });
      await done;
      firstEvent.push(first);
      fullTurn.push(performance.now() - t0);
    }
    const bareFirst: number[] = [];
    const bareTurn: number[] = [];
    const bareSdk = bare[0]!;
    const bareSession = await bareSdk.sdk.createSession({ agent: "mock", cwd: bareSdk.repo });
    for (let i = 0; i < TURNS; i++) {
      const t0 = performance.now();
      let first = 0;
      const off = bareSession.onEvent((e) => {
        if (!first && e.sender === "agent") first = performance.now() - t0;
      });
      await bareSession.prompt([{ type: "text", text: `turn ${i}` }]);
      off();
      bareFirst.push(first);
      bareTurn.push(performance.now() - t0);
    }
    rows.push(`| message → first streamed agent event (n=${TURNS}) | ${ms(pct(firstEvent, 50))} | ${ms(pct(firstEvent, 95))} | bare SDK prompt → first event: ${ms(pct(bareFirst, 50))} / ${ms(pct(bareFirst, 95))} |`);
    rows.push(`| message → turn ended, seen by a subscriber (n=${TURNS}) | ${ms(pct(fullTurn, 50))} | ${ms(pct(fullTurn, 95))} | bare SDK prompt → turn ended: ${ms(pct(bareTurn, 50))} / ${ms(pct(bareTurn, 95))} |`);
    await conn.dispose();
    for (const b of bare) b.stop();

    // 3. Concurrent sessions: K sessions on K tasks, each sending turn after turn for SECONDS.
    for (const k of CONCURRENCY) {
      const sessions: { taskId: string; id: string }[] = [];
      for (let i = 0; i < k; i++) {
        const tId = taskIds[i % taskIds.length]!;
        const { session: s } = await call<{ session: SessionSummary }>("POST", `/v1/orgs/${orgId}/tasks/${tId}/sessions`, { agent: "mock" });
        while ((await call<{ session: SessionSummary }>("GET", `/v1/orgs/${orgId}/tasks/${tId}/sessions/${s.id}`)).session.status !== "ready") await sleep(20);
        sessions.push({ taskId: tId, id: s.id });
      }
      const latencies: number[] = [];
      let failures = 0;
      const deadline = performance.now() + SECONDS * 1000;
      await Promise.all(
        sessions.map(async (s) => {
          const p = `/v1/orgs/${orgId}/tasks/${s.taskId}/sessions/${s.id}`;
          while (performance.now() < deadline) {
            const t0 = performance.now();
            const sent = await fetch(`${kiln.url}${p}/messages`, { method: "POST", headers: auth, body: JSON.stringify({ text: "go" }) });
            if (sent.status !== 202) {
              failures += 1;
              await sleep(50);
              continue;
            }
            let last: SessionSummary;
            do {
              await sleep(10);
              last = (await call<{ session: SessionSummary }>("GET", p)).session;
            } while (last.status === "running");
            if (last.lastStopReason !== "end_turn") failures += 1;
            latencies.push(performance.now() - t0);
          }
        }),
      );
      rows.push(`| ${k} concurrent sessions, turns back to back for ${SECONDS} s | ${ms(pct(latencies, 50))} | ${ms(pct(latencies, 95))} | ${(latencies.length / SECONDS).toFixed(1)} turns/s, ${latencies.length} turns, ${failures} failed |`);
    }
    await client.dispose();
  } finally {
    await kiln.close();
    rmSync(root, { recursive: true, force: true });
  }
  console.log("| measure | p50 | p95 | baseline / notes |\n|---|---:|---:|---|");
  for (const r of rows) console.log(r);
  process.exit(0);
}

void main();
