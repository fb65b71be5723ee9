/**
 * The GitHub App (issue 10): a full sync of a large fake installation (time, peak RSS), and
 * webhook ingest (signed deliveries to 202) beside bare Hono doing the same HMAC check with
 * @octokit/webhooks on the same body, in the same run.
 *
 *   npx tsx bench/github.ts     (knobs: BENCH_REPOS (500), BENCH_PULLS (2000), BENCH_MEMBERS (150),
 *                                BENCH_CONNECTIONS (16), BENCH_DURATION (10), BENCH_WARMUP (2))
 *
 * The fake GitHub runs in its own process (bench/github-fake.ts), so its CPU and memory are not Kiln's.
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { Webhooks } from "@octokit/webhooks";
import examples from "@octokit/webhooks-examples";
import { Hono } from "hono";
import { internalParams } from "../actors/auth.js";
import { keys } from "../shared/keys.js";
import type { GitHubStatus } from "../shared/schemas/github.js";
import type { FakeSpec } from "./github-fake.js";
import { GitHubIndex } from "../server/github/gateway.js";
import { envInt, listen, loadTable, machineDescription, makeLog, ms, partsTable, runBench, runLoad, sleep, startBenchKiln, table, timeCalls, type Cleanups } from "./support.js";

const REPOS = envInt("BENCH_REPOS", 500);
const PULLS = envInt("BENCH_PULLS", 2000);
const MEMBERS = envInt("BENCH_MEMBERS", 150);
const CONNECTIONS = envInt("BENCH_CONNECTIONS", 16);
const DURATION = envInt("BENCH_DURATION", 10);
const WARMUP = envInt("BENCH_WARMUP", 2);
const PARTS = envInt("BENCH_PARTS", 200);

const SECRET = "bench-webhook-secret";
const PATH = "/api/rivet/app/webhooks/github";
const SYNC_INSTALLATION = 8001;
const SYNC_ACCOUNT = { id: 6001, login: "bigcorp", type: "Organization" as const };
const INGEST_INSTALLATION = 8002;
const INGEST_ACCOUNT = { id: 6002, login: "hookcorp", type: "Organization" as const };

const log = makeLog("github");
const cleanups: Cleanups = [];
const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MB`;

type Payload = Record<string, unknown>;

function example(event: string, action?: string): Payload {
  const group = (examples as { name: string; examples: Payload[] }[]).find((e) => e.name === event);
  const found = group?.examples.find((p) => action === undefined || p.action === action);
  if (!found) throw new Error(`no example ${event}.${action ?? ""}`);
  return structuredClone(found);
}

function installationCreated(id: number, account: { id: number; login: string; type: string }): Payload {
  const p = example("installation", "created");
  const inst = p.installation as Payload;
  inst.id = id;
  inst.account = { ...(inst.account as object), ...account };
  return p;
}

async function startFake(spec: FakeSpec): Promise<{ url: string; appId: string; privateKey: string }> {
  const root = join(import.meta.dirname, "..");
  const child = spawn(process.execPath, ["--import", "tsx", join(root, "bench/github-fake.ts"), JSON.stringify(spec)], { cwd: root, stdio: ["pipe", "pipe", "inherit"] });
  cleanups.push(() => {
    child.stdin.end();
    child.kill();
  });
  return new Promise((resolve, reject) => {
    let out = "";
    child.once("exit", (code) => reject(new Error(`the fake GitHub exited ${String(code)}`)));
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      const line = out.split("\n")[0];
      if (out.includes("\n") && line) resolve(JSON.parse(line) as { url: string; appId: string; privateKey: string });
    });
  });
}

/** A signed delivery; a connection the server closed as it was reused (keep-alive race) is tried again, up to 3 times. */
async function deliver(base: string, event: string, payload: unknown, id: string, attempt = 1): Promise<number> {
  const body = JSON.stringify(payload);
  let res: Response;
  try {
    res = await fetch(`${base}${PATH}`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-github-event": event, "x-github-delivery": id, "x-hub-signature-256": await new Webhooks({ secret: SECRET }).sign(body) },
      body,
    });
  } catch (err) {
    if (attempt >= 3) throw err;
    log(`retrying a delivery after: ${(err as Error).message} (${String((err as { cause?: unknown }).cause)})`);
    return deliver(base, event, payload, id, attempt + 1);
  }
  await res.body?.cancel();
  return res.status;
}

async function main(): Promise<void> {
  log(`machine: ${machineDescription()}`);
  const fake = await startFake({
    installations: [
      { id: SYNC_INSTALLATION, account: SYNC_ACCOUNT, repos: REPOS, pulls: PULLS, bigRepos: Math.min(10, Math.floor(REPOS / 10)), perBigRepo: Math.min(150, Math.floor(PULLS / 20)), members: MEMBERS },
      { id: INGEST_INSTALLATION, account: INGEST_ACCOUNT, repos: 1, pulls: 0, bigRepos: 0, perBigRepo: 0, members: 2 },
    ],
  });
  const rss0 = process.memoryUsage().rss;
  const { kiln } = await startBenchKiln(cleanups, {
    GITHUB_APP_ID: fake.appId,
    GITHUB_APP_PRIVATE_KEY: fake.privateKey,
    GITHUB_WEBHOOK_SECRET: SECRET,
    GITHUB_API_URL: fake.url,
  });
  const base = kiln.url;
  const status = async (orgId: string): Promise<GitHubStatus> => kiln.client.githubState.get(keys.githubState(orgId), { params: internalParams() }).status();
  const settled = async (orgId: string, done: (s: GitHubStatus) => boolean, timeoutMs: number): Promise<GitHubStatus> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const s = await status(orgId).catch(() => null);
      if (s && done(s)) return s;
      if (Date.now() > deadline) throw new Error(`timed out: ${JSON.stringify(s)}`);
      await sleep(50);
    }
  };

  // --- Full sync of a large installation -------------------------------------------------------
  const rssStarted = process.memoryUsage().rss;
  let peak = rssStarted;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 25);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  if ((await deliver(base, "installation", installationCreated(SYNC_INSTALLATION, SYNC_ACCOUNT), "sync-install")) !== 202) throw new Error("install: not 202");
  const synced = await settled(`gh-${SYNC_ACCOUNT.id}`, (s) => s.sync.finishedAt !== null && !s.sync.running, 30 * 60_000);
  const syncMs = performance.now() - t0;
  const syncCpu = process.cpuUsage(cpu0);
  clearInterval(sampler);
  const rssSynced = process.memoryUsage().rss;
  if (synced.sync.error || synced.sync.repositories !== REPOS || synced.sync.pullRequests !== PULLS) throw new Error(`sync incomplete: ${JSON.stringify(synced.sync)}`);
  log(`sync: ${(syncMs / 1000).toFixed(1)} s, peak RSS ${mb(peak)}`);

  // --- Webhook ingest ---------------------------------------------------------------------------
  if ((await deliver(base, "installation", installationCreated(INGEST_INSTALLATION, INGEST_ACCOUNT), "ingest-install")) !== 202) throw new Error("install: not 202");
  const ingestOrg = `gh-${INGEST_ACCOUNT.id}`;
  const before = await settled(ingestOrg, (s) => s.sync.finishedAt !== null && !s.sync.running, 60_000);
  // A completed check run on some head commit: the most frequent delivery a busy org receives.
  const run = example("check_run", "completed");
  run.installation = { id: INGEST_INSTALLATION };
  Object.assign(run.check_run as object, { head_sha: "6113728f27ae82c7b1a177c8d03f9e96e0adf246", name: "build", status: "completed", conclusion: "success" });
  const body = JSON.stringify(run);
  const signature = await new Webhooks({ secret: SECRET }).sign(body);
  const headers = { "content-type": "application/json", "x-github-event": "check_run", "x-hub-signature-256": signature, "user-agent": "GitHub-Hookshot/bench" };
  // Where one delivery goes, each part timed alone, one call after another.
  const verifier = new Webhooks({ secret: SECRET });
  const index = new GitHubIndex(kiln.db.db);
  const ingestState = kiln.client.githubState.get(keys.githubState(ingestOrg), { params: internalParams() });
  let seq = 0;
  const parts = [
    { label: "@octokit/webhooks `verify` (HMAC-SHA256 of the body)", stats: await timeCalls(() => verifier.verify(body, signature), PARTS, 20) },
    { label: "installation → org (`github_installation`, app database)", stats: await timeCalls(() => index.orgFor(INGEST_INSTALLATION), PARTS, 20) },
    { label: "`receiveDelivery` (actor SQLite insert + queue send, in-process client)", stats: await timeCalls(() => ingestState.receiveDelivery({ id: `part-${seq++}`, event: "check_run", action: "completed", payload: body }), PARTS, 20) },
    {
      label: "the same through a new `getOrCreate` handle each time (as the route does)",
      stats: await timeCalls(
        () => kiln.client.githubState.getOrCreate(keys.githubState(ingestOrg), { params: internalParams(), createWithInput: { orgId: ingestOrg } }).receiveDelivery({ id: `part-${seq++}`, event: "check_run", action: "completed", payload: body }),
        PARTS,
        20,
      ),
    },
    { label: "the whole `POST`, one at a time over HTTP", stats: await timeCalls(() => deliver(base, "check_run", run, `post-${seq++}`), PARTS, 20) },
  ];

  const knobs = { connections: CONNECTIONS, warmupSeconds: WARMUP, durationSeconds: DURATION, unique: { body, header: "x-github-delivery" } };
  const kilnLoad = await runLoad(`${base}${PATH}`, headers, knobs);
  // The queue is first in, first out: once a delivery sent after the load is processed, every one before it is.
  const tDrain = performance.now();
  if ((await deliver(base, "check_run", run, "after-the-load")) !== 202) throw new Error("marker delivery: not 202");
  const state = kiln.client.githubState.get(keys.githubState(ingestOrg), { params: internalParams() });
  let drained = true;
  for (const deadline = Date.now() + 30 * 60_000; ; await sleep(50)) {
    if ((await state.deliveryStatus("after-the-load"))?.status === "processed") break;
    if (Date.now() > deadline) {
      drained = false;
      break;
    }
  }
  const drainMs = performance.now() - tDrain;
  const after = await status(ingestOrg);
  const processed = after.deliveries.processed - before.deliveries.processed;

  // Baseline: bare Hono, the same route, headers checked, the same @octokit/webhooks verify on the raw body, 202.
  const webhooks = new Webhooks({ secret: SECRET });
  const bare = new Hono().post(PATH, async (c) => {
    const sig = c.req.header("x-hub-signature-256");
    const id = c.req.header("x-github-delivery");
    if (!sig || !id || !c.req.header("x-github-event")) return c.json({ error: "invalid_request" }, 400);
    const raw = await c.req.text();
    if (!(await webhooks.verify(raw, sig))) return c.json({ error: "unauthorized" }, 401);
    JSON.parse(raw);
    return c.json({ accepted: true }, 202);
  });
  const baseline = await listen(bare, cleanups);
  const bareLoad = await runLoad(`${baseline.url}${PATH}`, headers, knobs);

  const out: string[] = [];
  out.push(`Machine: ${machineDescription()}.`);
  out.push("");
  out.push(`### Full sync: ${REPOS} repositories, ${PULLS} open pull requests, ${MEMBERS} members`);
  out.push("");
  out.push(
    table(
      ["Measure", "Value"],
      [
        ["`installation.created` → sync finished", `${(syncMs / 1000).toFixed(1)} s`],
        ["Kiln process CPU during the sync", `${((syncCpu.user + syncCpu.system) / 1e6).toFixed(1)} s`],
        ["RSS before Kiln started", mb(rss0)],
        ["RSS, Kiln started", mb(rssStarted)],
        ["peak RSS during the sync (sampled every 25 ms)", mb(peak)],
        ["RSS after the sync", mb(rssSynced)],
      ],
    ),
  );
  out.push("");
  out.push(`### Webhook ingest: signed \`check_run\` deliveries (${body.length} bytes), ${CONNECTIONS} connections, ${WARMUP} s warm-up then ${DURATION} s`);
  out.push("");
  out.push(
    loadTable([
      { label: `Kiln \`POST ${PATH}\` (verify, route, record durably, 202)`, result: kilnLoad },
      { label: "Baseline: bare Hono, same route, same @octokit/webhooks verify, 202", result: bareLoad },
    ]),
  );
  out.push("");
  out.push(`Where one delivery goes (${PARTS} sequential calls each, after 20 unmeasured; the workflow processes the earlier ones meanwhile):`);
  out.push("");
  out.push(partsTable(parts));
  out.push("");
  const cpuPer = (r: typeof kilnLoad) => (r.requestsPerSec > 0 ? ms(((r.serverCpuPct / 100) * 1000) / r.requestsPerSec) : "n/a");
  out.push(`Server CPU per delivery: Kiln ${cpuPer(kilnLoad)}, baseline ${cpuPer(bareLoad)} (the processing that follows each 202 included for Kiln).`);
  out.push("");
  out.push(`Non-2xx: Kiln ${kilnLoad.non2xx}, baseline ${bareLoad.non2xx}; errors ${kilnLoad.errors} / ${bareLoad.errors}.`);
  out.push(
    drained
      ? `Processing (GitHubStateActor's workflow, after the 202s): ${processed} deliveries (warm-up included) were all processed ${(drainMs / 1000).toFixed(1)} s after the load ended; failed: ${after.deliveries.failed - before.deliveries.failed}.`
      : "Processing did not finish within 30 minutes of the load.",
  );
  process.stdout.write(`${out.join("\n")}\n`);
}

runBench(main, cleanups, log);
