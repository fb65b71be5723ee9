import { drizzle as drizzlePglite } from "drizzle-orm/pglite";
import { drizzle as drizzlePg } from "drizzle-orm/node-postgres";
import { migrate as migratePg } from "drizzle-orm/node-postgres/migrator";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import pg from "pg";
import { MIGRATIONS_DIR, migratePglite, openPglite } from "./pglite.js";
import { schema } from "./schema.js";

export { MIGRATIONS_DIR };

/** One drizzle type for both drivers: routes and services never care which database runs. */
export type AppDb = PgDatabase<PgQueryResultHKT, typeof schema>;

export interface AppDatabase {
  kind: "pglite" | "postgres";
  db: AppDb;
  /** Applies pending versioned migrations; safe to call any number of times. */
  migrate(): Promise<void>;
  /** Whether the database answered its last probe and is open; read from memory, so /healthz costs no query. */
  healthy(): boolean;
  close(): Promise<void>;
}

/** How often the database is probed for /healthz. */
const PROBE_MS = 5_000;

/** Probes `ping` in the background and remembers the answer; `closed()` overrides it at once. */
function healthProbe(ping: () => Promise<unknown>, closed: () => boolean): { healthy(): boolean; stop(): void } {
  let ok = true;
  const timer = setInterval(() => {
    if (closed()) return;
    ping().then(
      () => (ok = true),
      () => (ok = false),
    );
  }, PROBE_MS);
  timer.unref();
  return { healthy: () => ok && !closed(), stop: () => clearInterval(timer) };
}

/** Opens the app database: PostgreSQL when a URL is given, else PGlite kept in `pgliteDir`. */
export async function openAppDatabase(opts: { databaseUrl?: string; pgliteDir: string }): Promise<AppDatabase> {
  if (opts.databaseUrl) {
    const pool = new pg.Pool({ connectionString: opts.databaseUrl, max: 10 });
    // An idle client losing its server must not crash the process; the next query reports it.
    pool.on("error", () => {});
    const db = drizzlePg(pool, { schema });
    const probe = healthProbe(() => pool.query("select 1"), () => pool.ended);
    return {
      kind: "postgres",
      db: db as unknown as AppDb,
      migrate: () => migratePg(db, { migrationsFolder: MIGRATIONS_DIR }),
      healthy: probe.healthy,
      close: async () => {
        probe.stop();
        await pool.end();
      },
    };
  }
  const client = await openPglite(opts.pgliteDir);
  const db = drizzlePglite(client, { schema });
  const probe = healthProbe(() => client.query("select 1"), () => client.closed);
  return {
    kind: "pglite",
    db: db as unknown as AppDb,
    migrate: () => migratePglite(client),
    healthy: probe.healthy,
    close: async () => {
      probe.stop();
      await client.close();
    },
  };
}
