import { rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TaskView } from "../shared/schemas/task.js";
import { api } from "./support/api.js";
import { makeBareRepo } from "./support/git.js";
import { signUp, socketTransport } from "./support/http.js";
import { startTestKiln, type TestKiln } from "./support/kiln.js";

/** What no error body may carry: RivetKit's docs links, actor keys, file paths. */
function expectNoInternals(body: unknown): void {
  const text = JSON.stringify(body);
  expect(text).not.toMatch(/rivet\.dev|rivet\.gg/);
  expect(text).not.toMatch(/Actor not found|taskSession|\["org"/);
  expect(text).not.toMatch(/\/tmp\/|\/sandboxes\/|\.kiln/);
}

describe("errors that agree", () => {
  let kiln: TestKiln;
  let A: ReturnType<typeof api>;
  let orgId: string;
  let taskId: string;

  beforeAll(async () => {
    kiln = await startTestKiln({ env: { KILN_SANDBOX_PROVIDER: "local-git" } });
    const ann = await signUp(socketTransport(kiln.url));
    A = api(socketTransport(kiln.url), ann.token);
    orgId = `personal-${ann.user.id}`;
    const repoId = await A.addRepo(orgId, makeBareRepo());
    taskId = (await A.createTask(orgId, { repoId, prompt: "Errors" })).id;
    expect((await A.settled(orgId, taskId)).task.lifecycle.state).toBe("ready");
  }, 120_000);
  afterAll(async () => {
    await kiln?.stop();
  });

  it("answers an unknown session id with 404 session_not_found and no actor key or library URL", async () => {
    for (const sessionId of ["s_doesnotexist", "x".repeat(65), "x".repeat(500), "bad%20id", "..%2F..%2Fetc"]) {
      for (const [method, suffix] of [["get", ""], ["post", "/stop"], ["get", "/events"], ["del", ""]] as const) {
        const r = await A[method](`/v1/orgs/${orgId}/tasks/${taskId}/sessions/${sessionId}${suffix}`);
        expect(r.status, `${method} ${sessionId}${suffix}`).toBe(404);
        expect(r.body).toMatchObject({ error: "session_not_found", message: expect.any(String) });
        expectNoInternals(r.body);
      }
    }
  });

  it("answers a malformed task id of any length with the same 404 as an unknown one", async () => {
    for (const id of ["t_doesnotexist", "t".repeat(65), "t".repeat(2000), "__proto__"]) {
      const r = await A.get(`/v1/orgs/${orgId}/tasks/${id}`);
      expect(r.status, id).toBe(404);
      expect(r.body).toMatchObject({ error: "task_not_found" });
    }
  });

  it("answers a malformed organization id with the same 403 as one you are not in", async () => {
    for (const id of ["personal-nobody", "o".repeat(200), "%E2%80%AE"]) {
      const r = await A.get(`/v1/orgs/${id}/tasks`);
      expect(r.status, id).toBe(403);
      expect(r.body).toMatchObject({ error: "forbidden" });
    }
  });

  it("maps a sandbox provider's error to its own code and status, never 500, without file paths", async () => {
    // The task's sandbox disappears under it; the next git operation fails in the provider.
    const view = (await A.get<TaskView>(`/v1/orgs/${orgId}/tasks/${taskId}`)).body;
    rmSync(join(kiln.dataDir, "sandboxes", view.task.sandbox!.sandboxId), { recursive: true, force: true });
    const r = await A.post(`/v1/orgs/${orgId}/tasks/${taskId}/branch`, { name: "renamed" });
    expect(r.status).toBe(404);
    expect(r.body).toMatchObject({ error: "sandbox_not_found", message: expect.any(String) });
    expectNoInternals(r.body);
  });
});
