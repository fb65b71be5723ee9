import { readdirSync } from "node:fs";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { MIGRATIONS_DIR, openAppDatabase, type AppDatabase } from "../server/db/index.js";
import { createPostgresDatabase, databaseBackends } from "./support/db.js";
import { tempDataDir } from "./support/kiln.js";

const backends = await databaseBackends();
const migrationFiles = readdirSync(MIGRATIONS_DIR).filter((f) => f.endsWith(".sql"));

/** Both drivers answer raw queries with `{ rows }`. */
function rows<T>(result: unknown): T[] {
  return (result as { rows: T[] }).rows;
}

async function tables(db: AppDatabase): Promise<string[]> {
  const res = await db.db.execute(sql`select table_name from information_schema.tables where table_schema = 'public' order by table_name`);
  return rows<{ table_name: string }>(res).map((r) => r.table_name);
}

async function appliedCount(db: AppDatabase): Promise<number> {
  const res = await db.db.execute(sql`select count(*)::int as n from drizzle.__drizzle_migrations`);
  return Number(rows<{ n: number }>(res)[0]?.n);
}

describe.each(backends)("migrations on %s", (backend) => {
  it("apply from empty, then again as a no-op, keeping data", async () => {
    const pg = backend === "postgres" ? await createPostgresDatabase() : undefined;
    const db = await openAppDatabase({ databaseUrl: pg?.url, pgliteDir: `${tempDataDir()}/pglite` });
    try {
      await db.migrate();
      expect(await tables(db)).toEqual(["account", "device_index", "github_installation", "github_member", "org_invitation", "org_membership", "personal_access_token", "session", "user", "verification", "watcher_index", "worker_index"]);
      expect(await appliedCount(db)).toBe(migrationFiles.length);
      await db.db.execute(sql`insert into "user" (id, name, email) values ('u1', 'U', 'u1@example.com')`);

      await db.migrate();
      await db.migrate();
      expect(await appliedCount(db)).toBe(migrationFiles.length);
      const users = rows<{ id: string }>(await db.db.execute(sql`select id from "user"`));
      expect(users).toEqual([{ id: "u1" }]);
    } finally {
      await db.close();
      await pg?.drop();
    }
  });
});
