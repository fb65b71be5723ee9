// `npm start`: runs Kiln from one esbuild bundle of server/main.ts (dist/main.js), rebuilt here
// when any source is newer. Compiling the TypeScript of ~100 modules through tsx's loader at
// every start cost more than a second; loading one module costs little. Plain JavaScript because
// it runs before anything is compiled.
//
//   node scripts/start.mjs            build if stale, then run Kiln
//   node scripts/start.mjs --build    build if stale and prepare PGlite's empty database, then exit
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const OUT_DIR = join(ROOT, "dist");
const ENTRIES = { main: "server/main.ts", pglite: "server/db/pglite.ts" };
const SOURCE_DIRS = ["server", "actors", "shared"];
const SOURCE_FILES = ["package.json", "package-lock.json", "tsconfig.json", "scripts/start.mjs"];

function newestSource() {
  let newest = 0;
  const visit = (path) => {
    const st = statSync(path);
    if (st.isDirectory()) {
      for (const name of readdirSync(path)) visit(join(path, name));
    } else if (st.mtimeMs > newest) {
      newest = st.mtimeMs;
    }
  };
  for (const dir of SOURCE_DIRS) visit(join(ROOT, dir));
  for (const file of SOURCE_FILES) if (existsSync(join(ROOT, file))) visit(join(ROOT, file));
  return newest;
}

function isStale() {
  const built = Object.keys(ENTRIES).map((name) => join(OUT_DIR, `${name}.js`));
  if (!built.every((file) => existsSync(file))) return true;
  const oldest = Math.min(...built.map((file) => statSync(file).mtimeMs));
  return newestSource() > oldest;
}

/**
 * Bundles Kiln's own code into dist/; packages stay external and load from node_modules as
 * before. Each module's `import.meta.url` becomes its source file's URL, so paths it resolves
 * from there (migrations, the mock agent, package.json) stay what they are under tsx.
 */
async function build() {
  const { build: esbuild } = await import("esbuild");
  const { readFile } = await import("node:fs/promises");
  const staging = `${OUT_DIR}.${process.pid}.tmp`;
  rmSync(staging, { recursive: true, force: true });
  await esbuild({
    absWorkingDir: ROOT,
    entryPoints: ENTRIES,
    outdir: staging,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    packages: "external",
    sourcemap: "linked",
    logLevel: "warning",
    plugins: [
      {
        name: "source-locations",
        setup(b) {
          b.onLoad({ filter: /\.ts$/ }, async (args) => {
            const source = await readFile(args.path, "utf8");
            const contents = source
              .replaceAll("import.meta.url", JSON.stringify(pathToFileURL(args.path).href))
              .replaceAll("import.meta.dirname", JSON.stringify(dirname(args.path)));
            return { contents, loader: "ts" };
          });
        },
      },
    ],
  });
  // Several Kilns may start at once from one checkout (tests do): each builds aside and renames
  // file by file, so a reader sees an old or a new bundle, never a missing or partial one.
  mkdirSync(OUT_DIR, { recursive: true });
  for (const name of readdirSync(staging)) renameSync(join(staging, name), join(OUT_DIR, name));
  rmSync(staging, { recursive: true, force: true });
}

const buildOnly = process.argv.includes("--build");
let bundled = true;
if (isStale()) {
  try {
    await build();
  } catch (err) {
    if (buildOnly) throw err;
    // A read-only install with sources newer than its bundle still starts, compiling as it goes.
    process.stderr.write(`kiln: could not build dist/ (${err.message}); running the TypeScript sources through tsx\n`);
    bundled = false;
  }
}
if (buildOnly) {
  const { ensurePgliteCache } = await import(pathToFileURL(join(OUT_DIR, "pglite.js")).href);
  await ensurePgliteCache();
} else if (bundled) {
  // Stack traces in logs name the TypeScript sources, not the bundle.
  process.setSourceMapsEnabled(true);
  await import(pathToFileURL(join(OUT_DIR, "main.js")).href);
} else {
  const { register } = await import("tsx/esm/api");
  register();
  await import(pathToFileURL(join(ROOT, "server/main.ts")).href);
}
