/**
 * The hot paths answer from memory (memberships, worker and task views, task pages), and a change
 * is still seen on the very next request in the same process: a removed member, a deleted worker,
 * a renamed task. Each test reads first (filling the caches), changes, then reads again.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TaskPage } from "../shared/schemas/task.js";
import { api } from "./support/api.js";
import { databaseBackends } from "./support/db.js";
import { makeBareRepo } from "./support/git.js";
import { signUp, socketTransport, type SignedUp } from "./support/http.js";
import { startTestKiln, type TestKiln } from "./support/kiln.js";
import { until } from "./support/poll.js";

const backends = await databaseBackends();

describe.each(backends)("hot paths on %s", (backend) => {
  let kiln: TestKiln;
  let owner: SignedUp;
  let other: SignedUp;
  let orgId: string;

  beforeAll(async () => {
    kiln = await startTestKiln({ backend, env: { KILN_SANDBOX_PROVIDER: "local-git" } });
    const t = socketTransport(kiln.url);
    owner = await signUp(t, { name: "Olga" });
    other = await signUp(t, { name: "Otto" });
    orgId = `personal-${owner.user.id}`;
  });
  afterAll(async () => {
    await kiln?.stop();
  });

  const as = (u: SignedUp) => api(socketTransport(kiln.url), u.token);
  const orgIdsOf = async (u: SignedUp) => ((await as(u).get<{ organizations: { id: string }[] }>("/v1/me")).body.organizations ?? []).map((o) => o.id);

  it("admits an added member and refuses a removed one on the next request", async () => {
    // Cached as "not a member" first: the addition must drop that.
    expect((await as(other).get(`/v1/orgs/${orgId}`)).status).toBe(403);
    expect(await orgIdsOf(other)).not.toContain(orgId);

    await kiln.organizations.upsertMember(orgId, { userId: other.user.id, name: "Otto", email: other.user.email, role: "member" });
    expect(await orgIdsOf(other)).toContain(orgId);
    expect((await as(other).get(`/v1/orgs/${orgId}`)).status).toBe(200);
    expect((await as(other).get(`/v1/orgs/${orgId}/tasks`)).status).toBe(200);

    await kiln.organizations.removeMember(orgId, other.user.id);
    expect((await as(other).get(`/v1/orgs/${orgId}`)).status).toBe(403);
    expect((await as(other).get(`/v1/orgs/${orgId}/tasks`)).status).toBe(403);
    expect(await orgIdsOf(other)).not.toContain(orgId);
    // The owner's own entry was dropped too and reads the same.
    expect(await orgIdsOf(owner)).toEqual([orgId]);
  });

  it("shows a worker's rename on the next read and refuses it once deleted", async () => {
    const created = await as(owner).post<{ worker: { id: string } }>("/v1/workers", { name: "before", destination: "local", workspacePath: "/tmp/w" });
    expect(created.status).toBe(201);
    const id = created.body.worker.id;
    expect((await as(owner).get<{ worker: { name: string } }>(`/v1/workers/${id}`)).body.worker.name).toBe("before");
    expect((await as(other).get(`/v1/workers/${id}`)).status).toBe(404);

    expect((await as(owner).patch(`/v1/workers/${id}`, { name: "after" })).status).toBe(200);
    expect((await as(owner).get<{ worker: { name: string } }>(`/v1/workers/${id}`)).body.worker.name).toBe("after");

    expect((await as(owner).del(`/v1/workers/${id}`)).status).toBe(204);
    // A local worker has no instance to tear down: deleting ends at once, in the background.
    const seen = await until(
      () => as(owner).get<{ worker: { status: string } }>(`/v1/workers/${id}`),
      (r) => r.status !== 200 || r.body.worker.status !== "deleting",
      { everyMs: 20 },
    );
    expect(seen.status).toBe(404);
  });

  it("shows a task's rename on the next read of the task and of the list", async () => {
    const me = as(owner);
    const repoId = await me.addRepo(orgId, makeBareRepo());
    const task = await me.createTask(orgId, { repoId, prompt: "Cache me" });
    const read = async () => (await me.get<{ task: { title: string } }>(`/v1/orgs/${orgId}/tasks/${task.id}`)).body.task.title;
    const listed = async () => (await me.get<TaskPage>(`/v1/orgs/${orgId}/tasks`)).body.tasks.find((t) => t.id === task.id)?.title;
    expect(await read()).toBe("Cache me");
    expect(await listed()).toBe("Cache me");

    // Provisioning (workflow steps, not actions) ends: once the list says so, so does the task.
    const state = async () => (await me.get<{ task: { lifecycle: { state: string } } }>(`/v1/orgs/${orgId}/tasks/${task.id}`)).body.task.lifecycle.state;
    expect(await state()).toBe("starting");
    await until(
      async () => (await me.get<TaskPage>(`/v1/orgs/${orgId}/tasks`)).body.tasks.find((t) => t.id === task.id)?.lifecycle.state,
      (s) => s !== "starting",
      { everyMs: 20 },
    );
    expect(await state()).toBe("ready");

    expect((await me.patch(`/v1/orgs/${orgId}/tasks/${task.id}`, { title: "Renamed" })).status).toBe(200);
    expect(await read()).toBe("Renamed");
    expect(await listed()).toBe("Renamed");
    expect((await as(other).get(`/v1/orgs/${orgId}/tasks/${task.id}`)).status).toBe(403);
  });
});
