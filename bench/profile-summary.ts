/**
 * Top self-time of a `.cpuprofile` (from `node --cpu-prof`), by function and by package.
 *
 *   npx tsx bench/profile-summary.ts <file.cpuprofile> [top=25]
 *
 * PROFILE_FROM_MS / PROFILE_TO_MS cut the profile to a window (ms since the profile started),
 * e.g. the load window bench/profile.ts prints.
 */
import { readFileSync } from "node:fs";

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
}

const file = process.argv[2];
if (!file) throw new Error("usage: profile-summary.ts <file.cpuprofile> [top]");
const top = Number(process.argv[3] ?? 25);
const prof = JSON.parse(readFileSync(file, "utf8")) as Profile;
const from = Number(process.env.PROFILE_FROM_MS ?? 0) * 1000;
const to = Number(process.env.PROFILE_TO_MS ?? Number.POSITIVE_INFINITY) * 1000;
const byId = new Map(prof.nodes.map((n) => [n.id, n]));

/** The package (or area of Kiln) a script URL belongs to. */
function area(url: string): string {
  if (!url) return "(native / V8)";
  const nm = url.lastIndexOf("node_modules/");
  if (nm >= 0) {
    const rest = url.slice(nm + 13).split("/");
    return rest[0]?.startsWith("@") ? `${rest[0]}/${rest[1]}` : (rest[0] ?? url);
  }
  if (url.startsWith("node:")) return url;
  const m = /\/(server|actors|shared|bench)\//.exec(url);
  return m ? `kiln ${m[1]}` : url;
}

const selfByFn = new Map<string, number>();
const selfByArea = new Map<string, number>();
let t = 0;
let total = 0;
prof.samples.forEach((id, i) => {
  t += prof.timeDeltas[i] ?? 0;
  if (t < from || t > to) return;
  const n = byId.get(id);
  if (!n) return;
  const { functionName, url, lineNumber } = n.callFrame;
  if (functionName === "(idle)" || functionName === "(program)") return;
  total += 1;
  const fn = `${functionName || "(anonymous)"} ${url ? `${url.replace(/^.*node_modules\//, "").replace(/^file:\/\/.*\/(server|actors|shared|bench)\//, "$1/")}:${lineNumber + 1}` : ""}`;
  selfByFn.set(fn, (selfByFn.get(fn) ?? 0) + 1);
  const a = functionName === "(garbage collector)" ? "(garbage collector)" : area(url);
  selfByArea.set(a, (selfByArea.get(a) ?? 0) + 1);
});

const pct = (n: number) => `${((n / total) * 100).toFixed(1)}%`;
const rows = (m: Map<string, number>) => [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, top);
process.stdout.write(`busy samples: ${total}\n\nby package:\n`);
for (const [k, v] of rows(selfByArea)) process.stdout.write(`  ${pct(v).padStart(6)}  ${k}\n`);
process.stdout.write(`\nby function (self):\n`);
for (const [k, v] of rows(selfByFn)) process.stdout.write(`  ${pct(v).padStart(6)}  ${k}\n`);
