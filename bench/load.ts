/**
 * Load generator, run as a child process by `runLoad` in bench/support.ts (for bench/run.ts and
 * bench/workers.ts) so that autocannon and the server under test do not share one event loop (on
 * a 2-core machine each gets a core).
 *
 * Usage: node --import tsx bench/load.ts '<LoadSpec as JSON>'
 * Prints one line of JSON (LoadResult) on stdout.
 */
import { readFileSync } from "node:fs";
import autocannon from "autocannon";

export interface LoadSpec {
  url: string;
  headers: Record<string, string>;
  /**
   * Device polls (bench/devices.ts): a JSON file of `[token, workerId][]`. Each request is then a
   * `POST` with the next device's token and `{"worker_id"}` body, so the load spreads over them all.
   */
  devicesFile?: string;
  /**
   * Signed webhook deliveries (bench/github.ts): each request is a `POST` of this body with these
   * headers, plus `header` set to a value unique to the request (GitHub's delivery id).
   */
  unique?: { body: string; header: string };
  connections: number;
  /** Requests per second over all connections (autocannon's `overallRate`); unset: as fast as answered. */
  overallRate?: number;
  warmupSeconds: number;
  durationSeconds: number;
}

export interface LoadResult {
  requestsPerSec: number;
  requestsTotal: number;
  latencyMeanMs: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  latencyMaxMs: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  durationSeconds: number;
  /** CPU time of this load-generator process over warm-up and run, per wall second (100% = one core). */
  loadCpuPct: number;
}

function run(opts: autocannon.Options): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    autocannon(opts, (err, result) => (err ? reject(err) : resolve(result)));
  });
}

function devicePolls(file: string): autocannon.Request {
  const devices = JSON.parse(readFileSync(file, "utf8")) as [string, string][];
  let next = 0;
  return {
    method: "POST",
    setupRequest: (req) => {
      const [token, workerId] = devices[next++ % devices.length]!;
      return { ...req, method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: `{"worker_id":"${workerId}"}` };
    },
  };
}

function uniqueDeliveries(spec: { body: string; header: string }): autocannon.Request {
  const prefix = `${process.pid}-${Date.now().toString(36)}`;
  let next = 0;
  return {
    method: "POST",
    setupRequest: (req) => ({ ...req, method: "POST", headers: { ...req.headers, [spec.header]: `${prefix}-${next++}` }, body: spec.body }),
  };
}

async function main(): Promise<void> {
  const arg = process.argv[2];
  if (!arg) throw new Error("usage: load.ts '<json spec>'");
  const spec = JSON.parse(arg) as LoadSpec;
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const base: autocannon.Options = { url: spec.url, headers: spec.headers, connections: spec.connections, pipelining: 1 };
  if (spec.overallRate) base.overallRate = spec.overallRate;
  if (spec.devicesFile) base.requests = [devicePolls(spec.devicesFile)];
  if (spec.unique) base.requests = [uniqueDeliveries(spec.unique)];
  if (spec.warmupSeconds > 0) await run({ ...base, duration: spec.warmupSeconds });
  const r = await run({ ...base, duration: spec.durationSeconds });
  const cpu = process.cpuUsage(cpu0);
  const wallUs = Number(process.hrtime.bigint() - t0) / 1e3;
  const out: LoadResult = {
    requestsPerSec: r.requests.average,
    requestsTotal: r.requests.total,
    latencyMeanMs: r.latency.mean,
    latencyP50Ms: r.latency.p50,
    latencyP99Ms: r.latency.p99,
    latencyMaxMs: r.latency.max,
    non2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
    durationSeconds: r.duration,
    loadCpuPct: ((cpu.user + cpu.system) / wallUs) * 100,
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
