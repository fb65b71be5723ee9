import { createHash, randomBytes } from "node:crypto";
import { constants, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from "node:fs";
import { cp } from "node:fs/promises";
import { createRequire } from "node:module";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { PGlite } from "@electric-sql/pglite";
import { drizzle } from "drizzle-orm/pglite";
import { migrate } from "drizzle-orm/pglite/migrator";

export const MIGRATIONS_DIR = join(dirname(fileURLToPath(import.meta.url)), "migrations");

/**
 * Postgres' defaults size shared buffers for a server (PGlite starts with ~160 MB of them), and
 * PGlite touches them all: they were most of Kiln's idle RSS. Kiln's app database holds users,
 * sessions and indexes, a few MB; 16 MB of buffers keeps it all cached.
 */
const MEMORY_SETTINGS = ["shared_buffers=16MB", "wal_buffers=512kB", "temp_buffers=2MB", "max_connections=8"];

const START_PARAMS = [...PGlite.defaultStartParams, ...MEMORY_SETTINGS.flatMap((s) => ["-c", s])];

export async function migratePglite(client: PGlite): Promise<void> {
  await migrate(drizzle(client), { migrationsFolder: MIGRATIONS_DIR });
}

function pglitePackageDir(): string {
  let dir = dirname(createRequire(import.meta.url).resolve("@electric-sql/pglite"));
  while (!existsSync(join(dir, "package.json"))) dir = dirname(dir);
  return dir;
}

/**
 * A new database is a copy of a cached one, already initialized and migrated: initdb and the
 * migrations were most of a first start (~5 s and ~2 s). It lives in node_modules/.cache, per
 * install, named by PGlite's version and the migrations' contents, so an upgrade or a new
 * migration makes a new one.
 */
function templateDir(): string {
  const pgliteDir = pglitePackageDir();
  const hash = createHash("sha256");
  hash.update((JSON.parse(readFileSync(join(pgliteDir, "package.json"), "utf8")) as { version: string }).version);
  const visit = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) visit(path);
      else hash.update(entry.name).update(readFileSync(path));
    }
  };
  visit(MIGRATIONS_DIR);
  return join(resolve(pgliteDir, "../../.cache/kiln"), `pglite-${hash.digest("hex").slice(0, 16)}`);
}

/**
 * Makes the cached database if it is missing. A closed PGlite directory is an ordinary Postgres
 * data directory, so a copy of it is a valid start. Returns null where the cache cannot be
 * written (a read-only install): the caller then runs initdb in place.
 */
export async function ensurePgliteTemplate(): Promise<string | null> {
  const dir = templateDir();
  if (existsSync(join(dir, "PG_VERSION"))) return dir;
  const building = `${dir}.${randomBytes(4).toString("hex")}.tmp`;
  try {
    mkdirSync(dirname(dir), { recursive: true });
    const client = await PGlite.create(building, { startParams: START_PARAMS });
    try {
      await migratePglite(client);
    } finally {
      await client.close();
    }
    try {
      renameSync(building, dir);
    } catch (err) {
      // Another Kiln finished its copy first; theirs is as good as ours.
      if (!existsSync(join(dir, "PG_VERSION"))) throw err;
    }
    return dir;
  } catch {
    return null;
  } finally {
    rmSync(building, { recursive: true, force: true });
  }
}

/**
 * A second copy of the cached database, made in the background after a start that used one: the
 * next new directory takes it with a rename (same filesystem), instead of copying 40 MB on the
 * start's critical path (0.2 s on an idle machine, 1–3 s on a busy disk).
 */
function spareDir(template: string): string {
  return `${template}.spare`;
}

function prepareSpare(template: string): Promise<void> {
  const spare = spareDir(template);
  if (existsSync(spare)) return Promise.resolve();
  // Copies a killed Kiln left half done (a minute is far longer than one takes).
  const cache = dirname(template);
  for (const name of readdirSync(cache)) {
    const path = join(cache, name);
    if (name.startsWith(`${basename(spare)}.`) && name.endsWith(".tmp") && Date.now() - statSync(path).mtimeMs > 60_000) rmSync(path, { recursive: true, force: true });
  }
  const building = `${spare}.${randomBytes(4).toString("hex")}.tmp`;
  return cp(template, building, { recursive: true, mode: constants.COPYFILE_FICLONE })
    .then(() => renameSync(building, spare))
    // Another Kiln made one first, or the cache is not writable: the next start copies.
    .catch(() => rmSync(building, { recursive: true, force: true }));
}

/** `npm run build`: the cached database and its spare, so even the first start on a new directory copies nothing. */
export async function ensurePgliteCache(): Promise<void> {
  const template = await ensurePgliteTemplate();
  if (template) await prepareSpare(template);
}

/** Opens PGlite in `dir`, seeding a new directory from the cached database when it can. */
export async function openPglite(dir: string): Promise<PGlite> {
  if (!existsSync(dir) || readdirSync(dir).length === 0) {
    const template = await ensurePgliteTemplate();
    if (template) {
      rmSync(dir, { recursive: true, force: true });
      try {
        // Atomic: of two Kilns starting at once, one gets the spare and the other copies.
        renameSync(spareDir(template), dir);
      } catch {
        // Copied beside, then renamed: a start killed mid-copy leaves no half database behind.
        const copying = `${dir}.${randomBytes(4).toString("hex")}.tmp`;
        try {
          // A clone where the filesystem has them (APFS, btrfs, XFS); a copy elsewhere (ext4).
          cpSync(template, copying, { recursive: true, mode: constants.COPYFILE_FICLONE });
          renameSync(copying, dir);
        } catch {
          // An unreadable cache (made by another user) only costs the initdb it would have saved.
          rmSync(copying, { recursive: true, force: true });
        }
      }
      void prepareSpare(template);
    }
  }
  return PGlite.create(dir, { startParams: START_PARAMS });
}
