/**
 * Where the memory of many registered devices goes: Kiln in this process, N devices minted and
 * registered, then (after their DeviceActors sleep) a forced GC and the breakdown of
 * `process.memoryUsage()`; optionally a heap snapshot.
 *
 *   node --expose-gc --import tsx bench/devices-memory.ts      (knobs: BENCH_DEVICES [2000],
 *     BENCH_DEVICES_PER_USER [100], BENCH_MINT_CONCURRENCY [16], BENCH_SLEEP_WAIT [40] s,
 *     BENCH_ROUNDS [1]: register BENCH_DEVICES that many times, measuring after each,
 *     BENCH_HEAP_SNAPSHOT=<dir> to write snapshots before and after,
 *     BENCH_MALLOC_TRIM=1: at the end, have gdb call glibc's malloc_trim(0) in this process, to tell
 *     memory malloc holds free (fragmentation) from memory still in use)
 */
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { writeHeapSnapshot } from "node:v8";
import { join } from "node:path";
import { envInt, makeLog, runBench, signUp, sleep, startBenchKiln, type Cleanups } from "./support.js";

const DEVICES = envInt("BENCH_DEVICES", 2000);
const PER_USER = Math.max(1, envInt("BENCH_DEVICES_PER_USER", 100));
const CONCURRENCY = Math.max(1, envInt("BENCH_MINT_CONCURRENCY", 16));
const SLEEP_WAIT = envInt("BENCH_SLEEP_WAIT", 40);
const SNAPSHOTS = process.env.BENCH_HEAP_SNAPSHOT;
const ROUNDS = Math.max(1, envInt("BENCH_ROUNDS", 1));
const log = makeLog("devices-memory");
const cleanups: Cleanups = [];
const mb = (b: number) => (b / 2 ** 20).toFixed(1);

function gc(): void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (!g) throw new Error("run with node --expose-gc");
  g();
  g();
}

function memory(label: string): NodeJS.MemoryUsage {
  gc();
  const m = process.memoryUsage();
  log(`${label}: ${mappings()}`);
  log(`${label}: rss ${mb(m.rss)} MB, heapTotal ${mb(m.heapTotal)}, heapUsed ${mb(m.heapUsed)}, external ${mb(m.external)}, arrayBuffers ${mb(m.arrayBuffers)}`);
  return m;
}

/** The largest mappings by RSS (Linux): the V8 heap, WebAssembly memories, malloc arenas. */
function mappings(): string {
  let text: string;
  try {
    text = readFileSync("/proc/self/smaps", "utf8");
  } catch {
    return "(no /proc/self/smaps)";
  }
  const maps: { name: string; size: number; rss: number }[] = [];
  let cur: { name: string; size: number; rss: number } | null = null;
  for (const line of text.split("\n")) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      cur = { name: head[3] || "[anon]", size: (parseInt(head[2]!, 16) - parseInt(head[1]!, 16)) / 1024, rss: 0 };
      maps.push(cur);
    } else if (cur && line.startsWith("Rss:")) cur.rss = Number(/\d+/.exec(line)?.[0] ?? 0);
  }
  const byKind = new Map<string, number>();
  for (const m of maps) {
    const kind = m.name === "[anon]" ? (m.size >= 1_000_000 ? "anon >= 1 GB (wasm?)" : m.size >= 60_000 && m.size <= 66_000 ? "anon 64 MB (malloc arena?)" : "anon other") : m.name.includes(".node") ? "native addons" : m.name.startsWith("/") ? "files" : m.name;
    byKind.set(kind, (byKind.get(kind) ?? 0) + m.rss);
  }
  return [...byKind].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${(v / 1024).toFixed(1)} MB`).join(", ");
}

async function post<T>(url: string, token: string, body: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(url, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json", origin: new URL(url).origin }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as T };
}

async function main(): Promise<void> {
  process.env.RIVET_LOG_LEVEL ??= "error";
  const { kiln } = await startBenchKiln(cleanups);
  const users: { token: string }[] = [];
  for (let i = 0; i < Math.ceil(DEVICES / PER_USER); i++) users.push(await signUp(kiln.url, `User ${i}`, "mem"));
  await sleep(SLEEP_WAIT * 1000);
  const before = memory(`${users.length} users, no devices`);
  if (SNAPSHOTS) log(`snapshot ${writeHeapSnapshot(join(SNAPSHOTS, "before.heapsnapshot"))}`);
  let after = before;
  for (let round = 1; round <= ROUNDS; round++) {
    let next = 0;
    const t0 = Date.now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < DEVICES) {
          const i = next++;
          const user = users[Math.floor(i / PER_USER)]!;
          const minted = await post<{ worker_id: string; access_token: string }>(`${kiln.url}/v1/devices/mint-token`, user.token, { platform: "macos" });
          if (minted.status !== 201) throw new Error(`mint: ${minted.status}`);
          const first = await post(`${kiln.url}/api/workers/poll`, minted.body.access_token, { worker_id: minted.body.worker_id, platform: "macos", app_version: "1.0.0" });
          if (first.status !== 200) throw new Error(`poll: ${first.status}`);
        }
      }),
    );
    log(`round ${round}: ${DEVICES} devices registered in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    memory(`round ${round}: registered (actors awake)`);
    await sleep(SLEEP_WAIT * 1000);
    after = memory(`round ${round}: ${SLEEP_WAIT} s later (actors asleep)`);
    const per = (k: keyof NodeJS.MemoryUsage) => `${(((after[k] as number) - (before[k] as number)) / (DEVICES * round) / 1024).toFixed(1)} KB`;
    log(`round ${round}: per device since the start: rss ${per("rss")}, heapUsed ${per("heapUsed")}, external ${per("external")}, arrayBuffers ${per("arrayBuffers")}`);
  }
  if (process.env.BENCH_MALLOC_TRIM === "1") {
    await new Promise<void>((res) => execFile("gdb", ["-p", String(process.pid), "-batch", "-ex", "call (int)malloc_trim(0)"], () => res()));
    memory("after malloc_trim(0)");
  }
  if (SNAPSHOTS) log(`snapshot ${writeHeapSnapshot(join(SNAPSHOTS, "after.heapsnapshot"))}`);
}

runBench(main, cleanups, log);
