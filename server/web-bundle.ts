import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { build, version as esbuildVersion } from "esbuild";
import type { Logger } from "pino";

/** The repository root: the page's sources are in `web/`, the client it runs on in `shared/`. */
const ROOT = resolve(import.meta.dirname, "..");
const ENTRY = join(ROOT, "web/main.tsx");

export interface WebAsset {
  /** Content hash, part of the URL so the asset can be cached forever. */
  hash: string;
  body: string;
}

export interface WebBundle {
  js: WebAsset;
  css: WebAsset;
}

/** What a cache file holds: the bundle and the inputs it was built from, each with its hash. */
interface CacheEntry {
  key: string;
  inputs: Record<string, string>;
  bundle: WebBundle;
}

const sha = (data: string | Buffer) => createHash("sha256").update(data).digest("hex");
const OPTIONS_KEY = sha(JSON.stringify({ esbuildVersion, target: "es2022", v: 1 }));

/** Hash of each input file; null when one is gone (the cache is then stale). */
function hashInputs(paths: string[]): Record<string, string> | null {
  const out: Record<string, string> = {};
  for (const p of paths) {
    try {
      out[p] = sha(readFileSync(join(ROOT, p)));
    } catch {
      return null;
    }
  }
  return out;
}

function sameInputs(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}

async function bundle(): Promise<{ bundle: WebBundle; inputs: string[] }> {
  const result = await build({
    entryPoints: [ENTRY],
    absWorkingDir: ROOT,
    bundle: true,
    minify: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    jsx: "automatic",
    jsxImportSource: "preact",
    outdir: "out",
    write: false,
    metafile: true,
    logLevel: "silent",
    legalComments: "none",
    define: { "process.env.NODE_ENV": '"production"' },
  });
  const file = (ext: string) => result.outputFiles.find((f) => f.path.endsWith(ext))?.text ?? "";
  const js = file(".js");
  const css = file(".css");
  return {
    bundle: { js: { hash: sha(js).slice(0, 16), body: js }, css: { hash: sha(css).slice(0, 16), body: css } },
    inputs: Object.keys(result.metafile.inputs),
  };
}

/**
 * The workbench page's JavaScript and CSS, bundled with esbuild from `web/`. A bundle is kept in
 * `cacheDir` with the hash of every file it was built from, so a start whose sources are unchanged
 * reads it back instead of bundling again (hashing the inputs is a few milliseconds).
 */
export async function loadWebBundle(cacheDir: string, logger: Logger): Promise<WebBundle> {
  const cacheFile = join(cacheDir, "web-bundle.json");
  try {
    const cached = JSON.parse(readFileSync(cacheFile, "utf8")) as CacheEntry;
    const now = cached.key === OPTIONS_KEY ? hashInputs(Object.keys(cached.inputs)) : null;
    if (now && sameInputs(now, cached.inputs)) return cached.bundle;
  } catch {
    // No cache yet, or an unreadable one: build.
  }
  const started = performance.now();
  const built = await bundle();
  const inputs = hashInputs(built.inputs);
  logger.info({ ms: Math.round(performance.now() - started), bytes: built.bundle.js.body.length }, "bundled the workbench page");
  if (inputs) {
    try {
      mkdirSync(cacheDir, { recursive: true });
      // Written whole, then renamed: two Kilns sharing the directory never read half a file.
      const tmp = `${cacheFile}.${process.pid}.tmp`;
      writeFileSync(tmp, JSON.stringify({ key: OPTIONS_KEY, inputs, bundle: built.bundle } satisfies CacheEntry));
      renameSync(tmp, cacheFile);
    } catch (err) {
      logger.warn({ err }, "could not cache the workbench bundle; it is rebuilt at each start");
    }
  }
  return built.bundle;
}
