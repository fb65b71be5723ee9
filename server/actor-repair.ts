import { existsSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import type { Logger } from "pino";

/** RivetKit 2.2.1's key for an actor's persisted data in its KV database (`KEYS.PERSIST_DATA`). */
const PERSIST_DATA_KEY = Buffer.from([1]);

/**
 * RivetKit 2.2.1's file-system driver creates an actor in two writes: its state file, then its KV
 * database holding the persisted data. A kill -9 between the two leaves an actor that can never
 * start again ("persist data has not been set"), so every call to it fails. Such an actor never
 * ran, so it holds nothing of its own: its files are removed before the driver loads anything,
 * and the next `getOrCreate` creates it again with its input (a task's, from the org's spawn
 * record, which the org re-queues at start). Returns the ids removed.
 */
export function removeHalfCreatedActors(actorsDir: string, logger: Logger): string[] {
  const stateDir = join(actorsDir, "state");
  const dbDir = join(actorsDir, "databases");
  if (!existsSync(stateDir)) return [];
  const removed: string[] = [];
  for (const actorId of readdirSync(stateDir)) {
    // The driver's own temporary files, and anything that is not an actor id, are not ours to judge.
    if (!/^[0-9a-f]{16}$/.test(actorId)) continue;
    const dbPath = join(dbDir, `${actorId}.db`);
    if (hasPersistedData(dbPath)) continue;
    for (const path of [join(stateDir, actorId), dbPath, `${dbPath}-wal`, `${dbPath}-shm`, join(actorsDir, "alarms", actorId)]) rmSync(path, { force: true });
    removed.push(actorId);
  }
  if (removed.length) logger.warn({ actorIds: removed }, "removed actors a kill -9 left half-created; they are created again when next used");
  return removed;
}

function hasPersistedData(dbPath: string): boolean {
  if (!existsSync(dbPath)) return false;
  let db: Database.Database | undefined;
  try {
    db = new Database(dbPath, { fileMustExist: true });
    return db.prepare("SELECT 1 FROM kv WHERE key = ?").get(PERSIST_DATA_KEY) !== undefined;
  } catch (err) {
    // No kv table: the database was created and the kill came before its first write. Anything
    // else (a locked or unreadable file) is left for RivetKit to report, never deleted on a guess.
    return !(err instanceof Error && /no such table/i.test(err.message));
  } finally {
    db?.close();
  }
}
