import { describe, expect, it } from "vitest";
import type { TaskSummary } from "../shared/schemas/task.js";
import { api } from "./support/api.js";
import { makeBareRepo } from "./support/git.js";
import { signUp, socketTransport } from "./support/http.js";
import { seedDataDir, spawnKiln, tempDataDir } from "./support/kiln.js";
import { until } from "./support/poll.js";
import { sandboxServersUnder } from "./support/processes.js";

describe("restart safety", () => {
  it("after kill -9 while tasks provision, every task reaches ready or error with a message", async () => {
    const dataDir = tempDataDir();
    seedDataDir(dataDir);
    const first = await spawnKiln({ KILN_DATA_DIR: dataDir });
    const t = socketTransport(first.url);
    const user = await signUp(t);
    const orgId = `personal-${user.user.id}`;
    const A = api(t, user.token);
    const repoId = await A.addRepo(orgId, makeBareRepo());
    const created: TaskSummary[] = [];
    for (let i = 0; i < 6; i++) created.push(await A.createTask(orgId, { repoId, prompt: `Task ${i}` }));
    const before = (await A.get<{ tasks: TaskSummary[] }>(`/v1/orgs/${orgId}/tasks`)).body.tasks;
    await first.kill("SIGKILL");
    // Provisioning takes a few hundred ms per task, so some were certainly mid-way, and the
    // sandbox servers of the others are left running without their Kiln.
    expect(before.some((x) => x.lifecycle.state === "starting")).toBe(true);

    const second = await spawnKiln({ KILN_DATA_DIR: dataDir });
    try {
      const B = api(socketTransport(second.url), user.token);
      const settled = await until(
        () => B.get<{ tasks: TaskSummary[] }>(`/v1/orgs/${orgId}/tasks`),
        (r) => r.status === 200 && r.body.tasks.length === created.length && r.body.tasks.every((x) => x.lifecycle.state !== "starting"),
        { timeoutMs: 40_000, everyMs: 250 },
      );
      for (const task of settled.body.tasks) {
        expect(["ready", "error"]).toContain(task.lifecycle.state);
        if (task.lifecycle.state === "error") expect(task.lifecycle.message).toEqual(expect.any(String));
      }
      // No orphans: every sandbox server under this data directory belongs to the new Kiln.
      const servers = sandboxServersUnder(dataDir);
      expect(servers.every((p) => p.ppid === second.proc.pid)).toBe(true);
      // The index and each task agree: the detail (from the TaskActor) says the same.
      for (const task of settled.body.tasks) {
        const detail = await B.settled(orgId, task.id);
        expect(detail.task.lifecycle.state).toBe(task.lifecycle.state);
      }
    } finally {
      await second.kill();
    }
    // A clean stop takes every sandbox server with it.
    await until(async () => sandboxServersUnder(dataDir).length, (n) => n === 0, { timeoutMs: 10_000 });
  });
});
