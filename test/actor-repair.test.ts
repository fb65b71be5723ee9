import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { keys } from "../shared/keys.js";
import type { TaskSummary } from "../shared/schemas/task.js";
import { api } from "./support/api.js";
import { makeBareRepo } from "./support/git.js";
import { signUp, socketTransport } from "./support/http.js";
import { seedDataDir, startTestKiln, tempDataDir } from "./support/kiln.js";

/** The file-system driver's id for an actor: the first 16 hex digits of sha256 of `[name, key]`. */
function actorId(name: string, key: string[]): string {
  return createHash("sha256").update(JSON.stringify([name, key])).digest("hex").slice(0, 16);
}

/**
 * A kill -9 between RivetKit writing a new actor's state file and its persisted data leaves an
 * actor that can never start. Here a repository's history actor is put in that state by hand
 * (its persisted data removed while Kiln is stopped); the next start must remove it, so the next
 * task on that repository is created, provisioned and recorded in a fresh history.
 */
describe("an actor a kill -9 left half-created", () => {
  it("is removed at the next start and created again when next used", async () => {
    const dataDir = tempDataDir();
    seedDataDir(dataDir);
    const first = await startTestKiln({ dataDir, env: { KILN_SANDBOX_PROVIDER: "local-git" } });
    const t = socketTransport(first.url);
    const user = await signUp(t);
    const orgId = `personal-${user.user.id}`;
    const A = api(t, user.token);
    const repoId = await A.addRepo(orgId, makeBareRepo("half-created"));
    const before = await A.createTask(orgId, { repoId, prompt: "Before the crash" });
    expect((await A.settled(orgId, before.id)).task.lifecycle.state).toBe("ready");
    await first.stop();

    const id = actorId("history", keys.history(orgId, repoId));
    const dbPath = join(dataDir, "actors", "databases", `${id}.db`);
    expect(existsSync(join(dataDir, "actors", "state", id))).toBe(true);
    const db = new Database(dbPath);
    expect(db.prepare("DELETE FROM kv WHERE key = ?").run(Buffer.from([1])).changes).toBe(1);
    db.close();

    const second = await startTestKiln({ dataDir, env: { KILN_SANDBOX_PROVIDER: "local-git" } });
    try {
      const B = api(socketTransport(second.url), user.token);
      expect(existsSync(join(dataDir, "actors", "state", id))).toBe(false);
      const after: TaskSummary = await B.createTask(orgId, { repoId, prompt: "After the crash" });
      expect((await B.settled(orgId, after.id)).task.lifecycle.state).toBe("ready");
      const history = await B.get<{ events: { taskId: string; kind: string }[] }>(`/v1/orgs/${orgId}/repos/${repoId}/history`);
      expect(history.status).toBe(200);
      // A fresh history: the half-created actor's (lost) entries are gone, the new task's is there.
      expect(history.body.events.map((e) => [e.taskId, e.kind])).toContainEqual([after.id, "created"]);
      expect(history.body.events.some((e) => e.taskId === before.id)).toBe(false);
    } finally {
      await second.stop();
    }
  }, 120_000);
});
