/**
 * `npx tsx bench/page.ts`: the workbench page on localhost, in headless Chromium (Debian's
 * `/usr/bin/chromium`, or `KILN_CHROMIUM`), against an in-process Kiln on PGlite. See "The
 * workbench page" in BENCHMARKS.md.
 *
 * What it measures:
 *   1. The bundle: raw and gzipped size of the script and the stylesheet as served, and the time
 *      to bundle `web/` with esbuild into an empty cache directory, then from that cache
 *      (BENCH_BUILDS each).
 *   2. Load to first live task list: a user whose org has BENCH_TASKS tasks (on the `local-git`
 *      provider, so the tasks are cheap) opens `/` BENCH_LOADS times, each in a fresh browser
 *      context (empty HTTP cache, the session token already in localStorage). An init script
 *      records `performance.now()` (milliseconds since navigation start) when the list first
 *      shows every task while the header says "Live", i.e. the subscription is open and the REST
 *      read it triggered has rendered. The time to the first rendered task list alone is reported
 *      beside it.
 *   3. Baseline, in the same run and the same browser: a bare Hono page of the same shape (HTML,
 *      one script, one JSON read of the same task list rendered as list items), no framework,
 *      no subscription, no authentication.
 *
 * Knobs (defaults in brackets): BENCH_TASKS [50], BENCH_LOADS [20], BENCH_LOAD_WARMUP [3],
 * BENCH_BUILDS [5].
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { Hono } from "hono";
import { chromium, type Browser } from "playwright-core";
import pino from "pino";
import { loadWebBundle } from "../server/web-bundle.js";
import { createBareRepo } from "../test/support/git-fixture.js";
import { envInt, listen, machineDescription, makeLog, ms, runBench, signUp, startBenchKiln, stats, table, timed, type Cleanups, type Stats } from "./support.js";

const TASKS = Math.max(1, envInt("BENCH_TASKS", 50));
const LOADS = Math.max(1, envInt("BENCH_LOADS", 20));
const LOAD_WARMUP = envInt("BENCH_LOAD_WARMUP", 3);
const BUILDS = Math.max(1, envInt("BENCH_BUILDS", 5));
const CHROMIUM = process.env.KILN_CHROMIUM ?? "/usr/bin/chromium";

const cleanups: Cleanups = [];
const log = makeLog("bench:page");

const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;
const statRow = (label: string, s: Stats) => [label, String(s.n), ms(s.p50Ms), ms(s.p95Ms), ms(s.meanMs), ms(s.maxMs)];

/** Records, in the page, when `ready()` first holds: `window.__kilnBench = { firstList, live }`. */
function marker(expected: number): string {
  return `(() => {
    const mark = { firstList: null, live: null };
    window.__kilnBench = mark;
    const check = () => {
      const items = document.querySelectorAll('[aria-label="Tasks"] li').length;
      if (items >= ${expected} && mark.firstList === null) mark.firstList = performance.now();
      if (items >= ${expected} && document.querySelector('.status.online') && mark.live === null) mark.live = performance.now();
      if (mark.live !== null) observer.disconnect();
    };
    const observer = new MutationObserver(check);
    document.addEventListener("DOMContentLoaded", () => { observer.observe(document.body, { subtree: true, childList: true, attributes: true }); check(); });
  })();`;
}

interface Loaded {
  firstList: number;
  live: number;
}

async function loadOnce(browser: Browser, url: string, init: string, expected: number): Promise<Loaded> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  try {
    await context.addInitScript(init);
    await context.addInitScript(marker(expected));
    const page = await context.newPage();
    await page.goto(url);
    await page.waitForFunction(() => (window as unknown as { __kilnBench?: { live: number | null } }).__kilnBench?.live != null, null, { timeout: 60_000 });
    return await page.evaluate(() => (window as unknown as { __kilnBench: Loaded }).__kilnBench);
  } finally {
    await context.close();
  }
}

async function loads(browser: Browser, url: string, init: string, expected: number): Promise<{ firstList: Stats; live: Stats }> {
  for (let i = 0; i < LOAD_WARMUP; i++) await loadOnce(browser, url, init, expected);
  const firstList: number[] = [];
  const live: number[] = [];
  for (let i = 0; i < LOADS; i++) {
    const r = await loadOnce(browser, url, init, expected);
    firstList.push(r.firstList);
    live.push(r.live);
  }
  return { firstList: stats(firstList), live: stats(live) };
}

/** The baseline: one HTML page, one script, one JSON read, rendered as list items; "live" as soon as rendered. */
function baselineApp(tasks: unknown[]): Hono {
  const body = JSON.stringify({ tasks });
  const script = `fetch("/tasks").then((r) => r.json()).then(({ tasks }) => {
    const ul = document.createElement("ul");
    ul.setAttribute("aria-label", "Tasks");
    for (const t of tasks) { const li = document.createElement("li"); li.textContent = t.title + " " + t.branch; ul.append(li); }
    const s = document.createElement("span"); s.className = "status online"; s.textContent = "Live";
    document.body.append(s, ul);
  });`;
  const app = new Hono();
  app.get("/", (c) => c.html(`<!doctype html><html><head><meta charset="utf-8"><title>baseline</title><script type="module" src="/app.js"></script></head><body></body></html>`));
  app.get("/app.js", (c) => c.body(script, 200, { "content-type": "text/javascript" }));
  app.get("/tasks", (c) => c.body(body, 200, { "content-type": "application/json" }));
  return app;
}

async function main(): Promise<void> {
  log(`machine: ${machineDescription()}`);

  // 1. The bundle.
  const quiet = pino({ level: "silent" });
  const cold: number[] = [];
  const cached: number[] = [];
  let bundle: Awaited<ReturnType<typeof loadWebBundle>> | undefined;
  for (let i = 0; i < BUILDS; i++) {
    const dir = mkdtempSync(join(tmpdir(), "kiln-bench-web-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    cold.push(await timed(async () => (bundle = await loadWebBundle(dir, quiet))));
    cached.push(await timed(() => loadWebBundle(dir, quiet)));
  }
  if (!bundle) throw new Error("no bundle");
  const js = Buffer.byteLength(bundle.js.body);
  const css = Buffer.byteLength(bundle.css.body);
  const jsGz = gzipSync(bundle.js.body, { level: 9 }).length;
  const cssGz = gzipSync(bundle.css.body, { level: 9 }).length;

  // 2. Kiln with a user, a repository and TASKS tasks.
  const { kiln } = await startBenchKiln(cleanups, { KILN_SANDBOX_PROVIDER: "local-git" });
  const { token } = await signUp(kiln.url, "Page Bench", "page");
  const auth = { authorization: `Bearer ${token}`, "content-type": "application/json" };
  const me = (await (await fetch(`${kiln.url}/v1/me`, { headers: auth })).json()) as { organizations: { id: string }[] };
  const orgId = me.organizations[0]?.id ?? "";
  const repoRoot = mkdtempSync(join(tmpdir(), "kiln-bench-repo-"));
  cleanups.push(() => rmSync(repoRoot, { recursive: true, force: true }));
  const repo = (await (await fetch(`${kiln.url}/v1/orgs/${orgId}/repos`, { method: "POST", headers: auth, body: JSON.stringify({ remoteUrl: createBareRepo(repoRoot, "bench") }) })).json()) as { repo: { id: string } };
  for (let i = 0; i < TASKS; i++) {
    const res = await fetch(`${kiln.url}/v1/orgs/${orgId}/tasks`, { method: "POST", headers: auth, body: JSON.stringify({ repoId: repo.repo.id, prompt: `Bench task ${i}` }) });
    if (res.status !== 202) throw new Error(`create task: ${res.status} ${await res.text()}`);
  }
  const page = (await (await fetch(`${kiln.url}/v1/orgs/${orgId}/tasks?limit=${TASKS}`, { headers: auth })).json()) as { tasks: unknown[] };
  log(`${TASKS} tasks created; loading the page ${LOAD_WARMUP} + ${LOADS} times`);

  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--headless", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  cleanups.push(() => browser.close());
  const kilnLoads = await loads(browser, `${kiln.url}/#/orgs/${encodeURIComponent(orgId)}`, `localStorage.setItem("kiln.session-token", ${JSON.stringify(token)});`, TASKS);

  // 3. Baseline.
  const bare = await listen(baselineApp(page.tasks), cleanups);
  const bareLoads = await loads(browser, bare.url, "", TASKS);

  process.stdout.write(`## The workbench page (\`bench/page.ts\`)\n\nMachine: ${machineDescription()}\n\n`);
  process.stdout.write(
    table(
      ["Asset", "raw", "gzipped (as served)"],
      [
        ["script", kb(js), kb(jsGz)],
        ["stylesheet", kb(css), kb(cssGz)],
      ],
      [0],
    ) + "\n\n",
  );
  process.stdout.write(table(["Bundling `web/`", "n", "p50", "p95", "mean", "max"], [statRow("esbuild, empty cache", stats(cold)), statRow("from the cache (inputs hashed)", stats(cached))], [0]) + "\n\n");
  process.stdout.write(
    table(
      [`Load, ${TASKS} tasks, fresh context each`, "n", "p50", "p95", "mean", "max"],
      [
        statRow("Kiln: first task list rendered", kilnLoads.firstList),
        statRow("Kiln: first live task list", kilnLoads.live),
        statRow("baseline: bare Hono page, one JSON read", bareLoads.live),
      ],
      [0],
    ) + "\n",
  );
}

runBench(main, cleanups, log);
