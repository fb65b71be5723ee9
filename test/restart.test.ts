import { describe, expect, it } from "vitest";
import type { SessionEvent, SessionSummary } from "../shared/schemas/session.js";
import type { TaskSummary } from "../shared/schemas/task.js";
import type { CreatedWorker, WorkerView } from "../shared/schemas/worker.js";
import { api } from "./support/api.js";
import { makeBareRepo } from "./support/git.js";
import { signUp, socketTransport } from "./support/http.js";
import { seedDataDir, spawnKiln, tempDataDir, withStartups } from "./support/kiln.js";
import { until } from "./support/poll.js";
import { sandboxServersUnder } from "./support/processes.js";

/**
 * Every task ends ready, including one the kill cut in the middle of RivetKit creating its actor
 * (a half-created actor is removed at the next start and created again: `server/actor-repair.ts`).
 * Returns their ids.
 */
function expectAllReady(tasks: TaskSummary[]): string[] {
  expect(tasks.filter((x) => x.lifecycle.state !== "ready").map((x) => x.lifecycle)).toEqual([]);
  return tasks.map((x) => x.id);
}

describe("restart safety", () => {
  it("after kill -9 while tasks provision, every task resumes to ready", async () => {
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
      // Provisioning is durable and idempotent: what the kill interrupted resumes, it does not fail.
      const ready = expectAllReady(settled.body.tasks);
      // No orphans: every sandbox server under this data directory belongs to the new Kiln.
      const servers = sandboxServersUnder(dataDir);
      expect(servers.every((p) => p.ppid === second.proc.pid)).toBe(true);
      // The index and each task agree: the detail (from the TaskActor) says the same.
      for (const task of settled.body.tasks.filter((x) => ready.includes(x.id))) {
        const detail = await B.settled(orgId, task.id);
        expect(detail.task.lifecycle.state).toBe(task.lifecycle.state);
      }
    } finally {
      await second.kill();
    }
    // A clean stop takes every sandbox server with it.
    await until(async () => sandboxServersUnder(dataDir).length, (n) => n === 0, { timeoutMs: 10_000 });
  }, withStartups(2));

  it("after kill -9 right after the 202s, every accepted task is created, provisioned and in the history once", async () => {
    const dataDir = tempDataDir();
    seedDataDir(dataDir);
    const first = await spawnKiln({ KILN_DATA_DIR: dataDir });
    const t = socketTransport(first.url);
    const user = await signUp(t);
    const orgId = `personal-${user.user.id}`;
    const A = api(t, user.token);
    const repoId = await A.addRepo(orgId, makeBareRepo());
    // The 202 waits only for the org's row and its queued spawn: the TaskActors of the last of
    // these do not exist yet when the process dies.
    const created = await Promise.all(Array.from({ length: 8 }, (_, i) => A.createTask(orgId, { repoId, prompt: `Accepted ${i}` })));
    await first.kill("SIGKILL");

    const second = await spawnKiln({ KILN_DATA_DIR: dataDir });
    try {
      const B = api(socketTransport(second.url), user.token);
      const settled = await until(
        () => B.get<{ tasks: TaskSummary[] }>(`/v1/orgs/${orgId}/tasks`),
        (r) => r.status === 200 && r.body.tasks.length === created.length && r.body.tasks.every((x) => x.lifecycle.state !== "starting"),
        { timeoutMs: 40_000, everyMs: 250 },
      );
      const ready = expectAllReady(settled.body.tasks);
      for (const task of created.filter((x) => ready.includes(x.id))) {
        const detail = await B.settled(orgId, task.id);
        expect(detail.task).toMatchObject({ createdAt: task.createdAt, lifecycle: { state: "ready" } });
      }
      const history = await until(
        () => B.get<{ events: { taskId: string; kind: string }[] }>(`/v1/orgs/${orgId}/repos/${repoId}/history?limit=200`),
        (r) => r.status === 200 && r.body.events.filter((e) => e.kind === "provisioned").length === ready.length,
        { timeoutMs: 20_000 },
      );
      const createdEvents = history.body.events.filter((e) => e.kind === "created").map((e) => e.taskId);
      expect(createdEvents.sort()).toEqual([...ready].sort());
    } finally {
      await second.kill();
    }
  }, withStartups(2));

  it("after kill -9 during an agent turn, the session records the interruption, takes new messages and keeps its context", async () => {
    const dataDir = tempDataDir();
    seedDataDir(dataDir);
    const first = await spawnKiln({ KILN_DATA_DIR: dataDir });
    const user = await signUp(socketTransport(first.url));
    const orgId = `personal-${user.user.id}`;
    const A = api(socketTransport(first.url), user.token);
    const task = await A.createTask(orgId, { repoId: await A.addRepo(orgId, makeBareRepo()), prompt: "Long turn" });
    await A.settled(orgId, task.id);
    const base = `/v1/orgs/${orgId}/tasks/${task.id}/sessions`;
    const session = (await A.post<{ session: SessionSummary }>(base, { agent: "mock" })).body.session;
    await until(() => A.get<{ session: SessionSummary }>(`${base}/${session.id}`), (r) => r.body.session.status === "ready");
    await A.post(`${base}/${session.id}/messages`, { text: "the password is tangerine" });
    await until(() => A.get<{ session: SessionSummary }>(`${base}/${session.id}`), (r) => r.body.session.status === "ready" && r.body.session.lastStopReason === "end_turn");
    await A.post(`${base}/${session.id}/messages`, { text: "sleep 60000" });
    await until(() => A.get<{ events: SessionEvent[] }>(`${base}/${session.id}/events`), (r) => r.body.events.some((e) => e.kind === "agent_message_chunk"));
    await first.kill("SIGKILL");

    const second = await spawnKiln({ KILN_DATA_DIR: dataDir });
    try {
      const B = api(socketTransport(second.url), user.token);
      const recovered = await until(() => B.get<{ session: SessionSummary }>(`${base}/${session.id}`), (r) => r.body.session.status === "ready", { timeoutMs: 30_000 });
      expect(recovered.body.session.lastStopReason).toBe("interrupted");
      const events = (await B.get<{ events: SessionEvent[] }>(`${base}/${session.id}/events`)).body.events;
      expect(events.filter((e) => e.kind === "turn_ended").map((e) => e.text)).toEqual(["end_turn", "interrupted"]);
      // The agent is a new process, but it gets the conversation back from the transcript.
      expect((await B.post(`${base}/${session.id}/messages`, { text: "recall" })).status).toBe(202);
      const after = await until(
        () => B.get<{ events: SessionEvent[] }>(`${base}/${session.id}/events?limit=1000`),
        (r) => r.body.events.filter((e) => e.kind === "turn_ended").length === 3,
        { timeoutMs: 20_000 },
      );
      const lastTurn = after.body.events.slice(after.body.events.findLastIndex((e) => e.kind === "user_message"));
      const reply = lastTurn.filter((e) => e.kind === "agent_message_chunk").map((e) => e.text ?? "").join("");
      expect(reply).toContain("User: the password is tangerine");
      expect(reply).toContain("Assistant: Working on: the password is tangerine");
      expect(reply).toContain("User: sleep 60000");
    } finally {
      await second.kill();
    }
  }, withStartups(2));

  it("after kill -9 while workers provision, every worker resumes to healthy, none stranded", async () => {
    const dataDir = tempDataDir();
    seedDataDir(dataDir);
    const first = await spawnKiln({ KILN_DATA_DIR: dataDir });
    const user = await signUp(socketTransport(first.url));
    const A = api(socketTransport(first.url), user.token);
    const ids: string[] = [];
    // One worker is healthy before the kill: its URL must follow Kiln to the new run's address.
    ids.push((await A.post<CreatedWorker>("/v1/workers", { name: "w0", destination: "cloud" })).body.worker.id);
    await until(() => A.get<WorkerView>(`/v1/workers/${ids[0]}`), (r) => r.body.worker.status === "healthy");
    for (let i = 1; i < 4; i++) ids.push((await A.post<CreatedWorker>("/v1/workers", { name: `w${i}`, destination: "cloud" })).body.worker.id);
    await first.kill("SIGKILL");

    const second = await spawnKiln({ KILN_DATA_DIR: dataDir });
    try {
      const B = api(socketTransport(second.url), user.token);
      for (const id of ids) {
        const done = await until(() => B.get<WorkerView>(`/v1/workers/${id}`), (r) => r.body.worker.status !== "provisioning", { timeoutMs: 30_000 });
        expect(done.body.worker).toMatchObject({ status: "healthy", failure: null });
        expect(done.body.instance?.url?.startsWith(`${second.url}/w/`)).toBe(true);
        expect((await fetch(`${done.body.instance?.url}/health`)).status).toBe(200);
      }
    } finally {
      await second.kill();
    }
  }, withStartups(2));
});
