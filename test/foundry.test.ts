import { existsSync, readFileSync, renameSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { internalParams } from "../actors/auth.js";
import type { HistoryEvent, Repo, RuntimeIssue, TaskDetail, TaskSummary, TaskView, Workbench } from "../shared/schemas/task.js";
import { api } from "./support/api.js";
import { git, makeBareRepo, workingCopy } from "./support/git.js";
import { signUp, socketTransport, type SignedUp } from "./support/http.js";
import { startTestKiln, type TestKiln } from "./support/kiln.js";
import { until } from "./support/poll.js";
import { sandboxServersUnder } from "./support/processes.js";
import { rivetClient } from "./support/rivet.js";

describe("repositories, tasks and history", () => {
  let kiln: TestKiln;
  let ann: SignedUp;
  let ben: SignedUp;
  let outsider: SignedUp;
  let orgId: string;
  let remote: string;
  let A: ReturnType<typeof api>;
  let B: ReturnType<typeof api>;
  let repoId: string;

  beforeAll(async () => {
    kiln = await startTestKiln();
    const t = socketTransport(kiln.url);
    [ann, ben, outsider] = [await signUp(t, { name: "Ann" }), await signUp(t, { name: "Ben" }), await signUp(t, { name: "Out" })];
    orgId = `personal-${ann.user.id}`;
    // Until GitHub membership lands, a second member is added the way Kiln's own code will.
    await kiln.organizations.upsertMember(orgId, { userId: ben.user.id, name: "Ben", email: ben.user.email, role: "member" });
    A = api(t, ann.token);
    B = api(t, ben.token);
    remote = makeBareRepo();
    repoId = await A.addRepo(orgId, remote);
  });
  afterAll(() => kiln?.stop());

  const sandboxDir = (taskId: string) => workingCopy(kiln.dataDir, taskId);

  describe("organization settings", () => {
    it("lets the owner pick where task sandboxes run; members cannot, and unconfigured or unknown providers are refused", async () => {
      const org = await A.get<{ organization: { sandboxProvider: string | null } }>(`/v1/orgs/${orgId}`);
      expect(org.status).toBe(200);
      expect(org.body.organization.sandboxProvider).toBeNull();

      const byMember = await B.patch(`/v1/orgs/${orgId}/settings`, { sandboxProvider: "local-git" });
      expect(byMember.status).toBe(403);
      const notConfigured = await A.patch(`/v1/orgs/${orgId}/settings`, { sandboxProvider: "daytona" });
      expect(notConfigured).toMatchObject({ status: 400, body: { error: "provider_not_configured" } });
      expect((await A.patch(`/v1/orgs/${orgId}/settings`, { sandboxProvider: "fly" })).body).toMatchObject({ error: "invalid_request" });
      expect((await A.patch(`/v1/orgs/${orgId}/settings`, { sandboxProvider: "local", extra: 1 })).status).toBe(400);
      expect((await A.get(`/v1/orgs/${orgId}`)).body).toMatchObject({ organization: { sandboxProvider: null } });

      const set = await A.patch<{ organization: { sandboxProvider: string | null } }>(`/v1/orgs/${orgId}/settings`, { sandboxProvider: "local" });
      expect(set).toMatchObject({ status: 200, body: { organization: { sandboxProvider: "local" } } });
      const reset = await A.patch<{ organization: { sandboxProvider: string | null } }>(`/v1/orgs/${orgId}/settings`, { sandboxProvider: null });
      expect(reset.body.organization.sandboxProvider).toBeNull();
    });
  });

  describe("repositories", () => {
    it("adds a repo once per remote: the same remote, however spelled, gives the same repo", async () => {
      const again = await A.post<{ repo: Repo }>(`/v1/orgs/${orgId}/repos`, { remoteUrl: `file://${remote}/` });
      expect(again.status).toBe(200);
      expect(again.body.repo.id).toBe(repoId);
      expect(again.body.repo.defaultBranch).toBe("main");
      const list = await B.get<{ repos: Repo[] }>(`/v1/orgs/${orgId}/repos`);
      expect(list.body.repos.map((r) => r.id)).toEqual([repoId]);
    });

    it("refuses an unreachable remote with 422 repo_unreachable, adding nothing", async () => {
      const r = await A.post(`/v1/orgs/${orgId}/repos`, { remoteUrl: join(remote, "..", "missing.git") });
      expect(r.status).toBe(422);
      expect(r.body).toMatchObject({ error: "repo_unreachable", message: expect.stringContaining("missing.git") });
      expect((await A.get<{ repos: Repo[] }>(`/v1/orgs/${orgId}/repos`)).body.repos).toHaveLength(1);
    });

    it("validates the body with 400 invalid_request", async () => {
      const r = await A.post(`/v1/orgs/${orgId}/repos`, { remoteUrl: "" });
      expect(r.status).toBe(400);
      expect(r.body).toMatchObject({ error: "invalid_request", details: [expect.objectContaining({ path: ["remoteUrl"] })] });
      expect((await A.post(`/v1/orgs/${orgId}/repos`, { remoteUrl: "not a url at all" })).status).toBe(400);
    });
  });

  describe("tasks", () => {
    it("creates a task at once (202, starting), which then provisions to ready on its own branch", async () => {
      const created = await A.post<{ task: TaskSummary }>(`/v1/orgs/${orgId}/tasks`, { repoId, prompt: "Fix the login bug!\nIt fails on Safari." });
      expect(created.status).toBe(202);
      const task = created.body.task;
      expect(task).toMatchObject({ title: "Fix the login bug!", branch: "fix-the-login-bug", lifecycle: { state: "starting" } });
      const view = await A.settled(orgId, task.id);
      expect(view.task.lifecycle).toEqual({ phase: "ready", state: "ready", label: "Ready", message: null });
      expect(view.task.sandbox).toEqual({ provider: "local", sandboxId: task.id });
      expect(git(sandboxDir(task.id), "rev-parse", "--abbrev-ref", "HEAD")).toBe("fix-the-login-bug");
      expect(git(sandboxDir(task.id), "log", "--format=%s")).toBe("initial commit");
    });

    it("sanitizes a given branch and suffixes one already taken in the repo", async () => {
      const first = await A.createTask(orgId, { repoId, prompt: "p", branch: "Feature: Über Cool!!" });
      expect(first.branch).toBe("feature-uber-cool");
      const second = await B.createTask(orgId, { repoId, prompt: "p", branch: "feature-uber-cool" });
      expect(second.branch).toBe("feature-uber-cool-2");
      expect(second.createdBy).toBe(ben.user.id);
      await Promise.all([A.settled(orgId, first.id), A.settled(orgId, second.id)]);
    });

    it("lists summaries for every member from the organization's index", async () => {
      const t = await A.createTask(orgId, { repoId, prompt: "List me", title: "Listed task" });
      const list = await B.get<{ tasks: TaskSummary[] }>(`/v1/orgs/${orgId}/tasks`);
      expect(list.status).toBe(200);
      expect(list.body.tasks.map((x) => x.id)).toContain(t.id);
      expect(list.body.tasks.find((x) => x.id === t.id)?.title).toBe("Listed task");
      await A.settled(orgId, t.id);
      const after = await B.get<{ tasks: TaskSummary[] }>(`/v1/orgs/${orgId}/tasks`);
      expect(after.body.tasks.find((x) => x.id === t.id)?.lifecycle.state).toBe("ready");
    });

    it("pages the task list newest first, without skipping or repeating a task", async () => {
      for (let i = 0; i < 3; i++) await A.createTask(orgId, { repoId, prompt: `Paged task ${i}` });
      type Page = { tasks: TaskSummary[]; nextCursor: string | null };
      const all = (await A.get<Page>(`/v1/orgs/${orgId}/tasks?limit=1000`)).body;
      expect(all.nextCursor).toBeNull();
      expect(all.tasks.length).toBeGreaterThanOrEqual(4);
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const page: Page = (await B.get<Page>(`/v1/orgs/${orgId}/tasks?limit=2${cursor ? `&cursor=${cursor}` : ""}`)).body;
        expect(page.tasks.length).toBeLessThanOrEqual(2);
        seen.push(...page.tasks.map((t) => t.id));
        cursor = page.nextCursor;
      } while (cursor);
      expect(seen).toEqual(all.tasks.map((t) => t.id));
      const createdAt = all.tasks.map((t) => t.createdAt);
      expect(createdAt).toEqual([...createdAt].sort().reverse());

      expect((await A.get(`/v1/orgs/${orgId}/tasks?cursor=not-a-cursor`)).body).toMatchObject({ error: "invalid_request" });
      expect((await A.get(`/v1/orgs/${orgId}/tasks?limit=0`)).status).toBe(400);
      expect((await A.get(`/v1/orgs/${orgId}/tasks?limit=1001`)).status).toBe(400);
    });

    it("rejects a task for an unknown repo (404) and an invalid body (400)", async () => {
      const missing = await A.post(`/v1/orgs/${orgId}/tasks`, { repoId: "r_nope", prompt: "x" });
      expect(missing.status).toBe(404);
      expect(missing.body).toMatchObject({ error: "repo_not_found" });
      const invalid = await A.post(`/v1/orgs/${orgId}/tasks`, { repoId, prompt: "" });
      expect(invalid.status).toBe(400);
      expect((await A.get(`/v1/orgs/${orgId}/tasks/t_does_not_exist`)).status).toBe(404);
    });

    it("renames a task, recorded in history", async () => {
      const t = await A.createTask(orgId, { repoId, prompt: "Old name" });
      const r = await B.patch<TaskView>(`/v1/orgs/${orgId}/tasks/${t.id}`, { title: "New name" });
      expect(r.status).toBe(200);
      expect(r.body.task.title).toBe("New name");
      const history = await A.get<{ events: HistoryEvent[] }>(`/v1/orgs/${orgId}/repos/${repoId}/history?taskId=${t.id}`);
      expect(history.body.events.map((e) => e.kind)).toContain("named");
      expect(history.body.events.find((e) => e.kind === "named")?.actorUserId).toBe(ben.user.id);
    });

    it("renames the branch with git in the working copy; invalid names get 400, taken ones 409", async () => {
      const t = await A.createTask(orgId, { repoId, prompt: "Branch me" });
      await A.settled(orgId, t.id);
      const ok = await A.post<TaskView>(`/v1/orgs/${orgId}/tasks/${t.id}/branch`, { name: "feat/renamed" });
      expect(ok.status).toBe(200);
      expect(ok.body.task.branch).toBe("feat/renamed");
      // As sandbox-agent sees it: `git branch` through its process API, via the task's SandboxInstanceActor.
      const sandbox = kiln.client.sandboxInstance.get(["org", orgId, "sandbox", "local", t.id], { params: internalParams() });
      const branches = await sandbox.exec({ command: "git", args: ["branch", "--format=%(refname:short)"], cwd: "repo" });
      expect(branches.exitCode).toBe(0);
      expect(branches.stdout.trim().split("\n")).toEqual(expect.arrayContaining(["feat/renamed"]));
      expect(branches.stdout).not.toContain("branch-me");

      const bad = await A.post(`/v1/orgs/${orgId}/tasks/${t.id}/branch`, { name: "has space..lock" });
      expect(bad.status).toBe(400);
      expect(bad.body).toMatchObject({ error: "invalid_request" });
      const existsInGit = await A.post(`/v1/orgs/${orgId}/tasks/${t.id}/branch`, { name: "main" });
      expect(existsInGit.status).toBe(409);
      const other = await A.createTask(orgId, { repoId, prompt: "Other", branch: "taken-elsewhere" });
      const takenByTask = await A.post(`/v1/orgs/${orgId}/tasks/${t.id}/branch`, { name: other.branch });
      expect(takenByTask.status).toBe(409);
      expect(takenByTask.body).toMatchObject({ error: "conflict" });
      const history = await A.get<{ events: HistoryEvent[] }>(`/v1/orgs/${orgId}/repos/${repoId}/history?taskId=${t.id}&limit=10`);
      expect(history.body.events.map((e) => e.kind)).toEqual(["branch_renamed", "provisioned", "created"]);
    });

    it("brings a crashed sandbox-agent back when the task next needs it", async () => {
      const t = await A.createTask(orgId, { repoId, prompt: "Crash my server" });
      await A.settled(orgId, t.id);
      const metaPath = join(kiln.dataDir, "sandboxes", t.id, "server.json");
      const before = (JSON.parse(readFileSync(metaPath, "utf8")) as { pid: number }).pid;
      try {
        process.kill(before, "SIGKILL");
      } catch (err) {
        // Already gone (a slow server can be replaced under load): the crash is what we want anyway.
        expect((err as NodeJS.ErrnoException).code).toBe("ESRCH");
      }
      await until(async () => sandboxServersUnder(kiln.dataDir).some((p) => p.pid === before), (alive) => !alive);
      const renamed = await A.post<TaskView>(`/v1/orgs/${orgId}/tasks/${t.id}/branch`, { name: "after-crash" });
      expect(renamed.status).toBe(200);
      const after = (JSON.parse(readFileSync(metaPath, "utf8")) as { pid: number }).pid;
      expect(after).not.toBe(before);
      expect(sandboxServersUnder(kiln.dataDir).map((p) => p.pid)).toContain(after);
      expect(git(sandboxDir(t.id), "rev-parse", "--abbrev-ref", "HEAD")).toBe("after-crash");
    });

    it("archives a task, and kills one: its sandbox is destroyed", async () => {
      const a = await A.createTask(orgId, { repoId, prompt: "Archive me" });
      const k = await A.createTask(orgId, { repoId, prompt: "Kill me" });
      await Promise.all([A.settled(orgId, a.id), A.settled(orgId, k.id)]);
      expect((await A.post(`/v1/orgs/${orgId}/tasks/${a.id}/archive`)).status).toBe(202);
      expect((await A.del(`/v1/orgs/${orgId}/tasks/${k.id}`)).status).toBe(202);
      const archived = await until(() => A.get<TaskView>(`/v1/orgs/${orgId}/tasks/${a.id}`), (r) => r.body.task.lifecycle.state === "archived");
      expect(archived.body.task.lifecycle.phase).toBe("archived");
      const killed = await until(() => A.get<TaskView>(`/v1/orgs/${orgId}/tasks/${k.id}`), (r) => r.body.task.lifecycle.phase === "killed");
      expect(killed.body.task).toMatchObject({ killed: true, sandbox: null });
      expect(existsSync(join(kiln.dataDir, "sandboxes", k.id))).toBe(false);
      expect(existsSync(sandboxDir(a.id))).toBe(true);
      const kinds = (await A.get<{ events: HistoryEvent[] }>(`/v1/orgs/${orgId}/repos/${repoId}/history?limit=200`)).body.events;
      expect(kinds.filter((e) => e.taskId === a.id).map((e) => e.kind)).toContain("archived");
      expect(kinds.filter((e) => e.taskId === k.id).map((e) => e.kind)).toContain("killed");
      expect((await A.post(`/v1/orgs/${orgId}/tasks/${a.id}/archive`)).status).toBe(409);
    });
  });

  describe("workbench state is per user", () => {
    it("keeps each member's drafts and unread flags apart on the same task", async () => {
      const t = await A.createTask(orgId, { repoId, prompt: "Shared task" });
      const base = `/v1/orgs/${orgId}/tasks/${t.id}/sessions/s1`;
      expect((await A.put(`${base}/draft`, { text: "Ann's draft" })).status).toBe(200);
      expect((await B.put(`${base}/draft`, { text: "Ben's draft" })).status).toBe(200);
      await A.post(`${base}/unread`);
      await B.post(`${base}/read`);
      const annView = (await A.get<TaskView>(`/v1/orgs/${orgId}/tasks/${t.id}`)).body;
      const benView = (await B.get<TaskView>(`/v1/orgs/${orgId}/tasks/${t.id}`)).body;
      expect(annView.workbench.sessions.s1).toMatchObject({ draft: "Ann's draft", unread: true });
      expect(benView.workbench.sessions.s1).toMatchObject({ draft: "Ben's draft", unread: false });
      expect((await A.put(`/v1/orgs/${orgId}/tasks/${t.id}/sessions/bad%20id/draft`, { text: "x" })).body).toMatchObject({ error: "session_not_found" });
    });
  });

  describe("authorization", () => {
    it("refuses a non-member at every REST route with 403", async () => {
      const O = api(socketTransport(kiln.url), outsider.token);
      const t = await A.createTask(orgId, { repoId, prompt: "Private" });
      for (const r of [
        await O.get(`/v1/orgs/${orgId}/repos`),
        await O.post(`/v1/orgs/${orgId}/repos`, { remoteUrl: remote }),
        await O.get(`/v1/orgs/${orgId}/tasks`),
        await O.get(`/v1/orgs/${orgId}/tasks/${t.id}`),
        await O.post(`/v1/orgs/${orgId}/tasks`, { repoId, prompt: "x" }),
        await O.del(`/v1/orgs/${orgId}/tasks/${t.id}`),
        await O.get(`/v1/orgs/${orgId}/runtime-issues`),
        await O.get(`/v1/orgs/${orgId}/repos/${repoId}/history`),
      ]) {
        expect(r.status).toBe(403);
        expect(r.body).toMatchObject({ error: "forbidden" });
      }
      expect((await O.get(`/v1/orgs/no-such-org/tasks`)).status).toBe(403);
      expect((await A.get<TaskView>(`/v1/orgs/${orgId}/tasks/${t.id}`)).body.task.killed).toBe(false);
    });

    it("refuses a non-member's subscription to a task, and its direct queue commands", async () => {
      const t = await A.createTask(orgId, { repoId, prompt: "Subscribe" });
      // The TaskActor is created behind the 202; a task route creates it at once if it is not yet.
      expect((await A.get(`/v1/orgs/${orgId}/tasks/${t.id}`)).status).toBe(200);
      const client = rivetClient(kiln.url, ben.token);
      try {
        const key = ["org", orgId, "repo", repoId, "task", t.id];
        await expect(client.task.get(key, { params: { token: outsider.token } }).view()).rejects.toMatchObject({ code: "forbidden" });
        const member = client.task.get(key, { params: { token: ben.token } });
        expect((await member.view()).task.id).toBe(t.id);
        // Members act through actions, which check what they may do; queues are Kiln's own.
        await expect(member.send("commands", { type: "kill", by: null })).rejects.toMatchObject({ code: "forbidden" });
        expect((await A.settled(orgId, t.id)).task.killed).toBe(false);
      } finally {
        await client.dispose();
      }
    });
  });

  describe("live subscriptions", () => {
    it("streams task summaries on the org and the task's detail, each event carrying the new state", async () => {
      const client = rivetClient(kiln.url, ben.token);
      const orgConn = client.organization.get(["org", orgId], { params: { token: ben.token } }).connect();
      const summaries: TaskSummary[] = [];
      orgConn.on("taskSummaryUpdated", (s) => summaries.push(s));
      try {
        await orgConn.listTasks({ limit: 1 });
        const t = await A.createTask(orgId, { repoId, prompt: "Watch me" });
        await until(async () => summaries.filter((s) => s.id === t.id).map((s) => s.lifecycle.phase), (p) => p.includes("ready"));
        const phases = summaries.filter((s) => s.id === t.id).map((s) => s.lifecycle.phase);
        expect(phases[0]).toBe("queued");
        expect(phases).toEqual(expect.arrayContaining(["create-sandbox", "clone-repo", "checkout-branch", "ready"]));

        const taskConn = client.task.get(["org", orgId, "repo", repoId, "task", t.id], { params: { token: ben.token } }).connect();
        const details: TaskDetail[] = [];
        const benWorkbench: Workbench[] = [];
        taskConn.on("taskUpdated", (d) => details.push(d));
        taskConn.on("workbenchUpdated", (w) => benWorkbench.push(w));
        try {
          await taskConn.view();
          await A.patch(`/v1/orgs/${orgId}/tasks/${t.id}`, { title: "Watched" });
          await A.put(`/v1/orgs/${orgId}/tasks/${t.id}/sessions/s9/draft`, { text: "Ann only" });
          await B.put(`/v1/orgs/${orgId}/tasks/${t.id}/sessions/s9/draft`, { text: "Ben only" });
          await until(async () => [details.length, benWorkbench.length], ([d, w]) => (d ?? 0) > 0 && (w ?? 0) > 0);
          expect(details.at(-1)?.title).toBe("Watched");
          expect(benWorkbench.map((w) => w.sessions.s9?.draft)).toEqual(["Ben only"]);
        } finally {
          await taskConn.dispose();
        }
      } finally {
        await orgConn.dispose();
        await client.dispose();
      }
    });
  });

  describe("runtime issues", () => {
    it("resolve themselves when the same task later succeeds", async () => {
      const flaky = makeBareRepo("flaky");
      const flakyRepo = await A.addRepo(orgId, flaky);
      renameSync(flaky, `${flaky}.away`);
      const t = await A.createTask(orgId, { repoId: flakyRepo, prompt: "Flaky clone" });
      const open = await until(
        async () => (await A.get<{ issues: RuntimeIssue[] }>(`/v1/orgs/${orgId}/runtime-issues`)).body.issues.filter((i) => i.scope === `task:${t.id}`),
        (issues) => issues.length > 0,
        { everyMs: 20 },
      );
      expect(open[0]).toMatchObject({ step: "clone-repo", willRetry: true, resolvedAt: null });
      // The remote comes back before the retry: the clone succeeds and the task becomes ready.
      renameSync(`${flaky}.away`, flaky);
      expect((await A.settled(orgId, t.id)).task.lifecycle.state).toBe("ready");
      const after = (await A.get<{ issues: RuntimeIssue[] }>(`/v1/orgs/${orgId}/runtime-issues`)).body.issues.filter((i) => i.scope === `task:${t.id}`);
      expect(after.length).toBeGreaterThan(0);
      expect(after.every((i) => typeof i.resolvedAt === "string")).toBe(true);
    });

    it("turns a failing provisioning step into a task error and a runtime issue, which can be cleared", async () => {
      const broken = makeBareRepo("vanishing");
      const brokenRepo = await A.addRepo(orgId, broken);
      renameSync(broken, `${broken}.gone`);
      const client = rivetClient(kiln.url, ann.token);
      const orgConn = client.organization.get(["org", orgId], { params: { token: ann.token } }).connect();
      const pushed: RuntimeIssue[][] = [];
      orgConn.on("runtimeIssuesUpdated", (issues) => pushed.push(issues));
      try {
        await orgConn.listRuntimeIssues();
        const t = await A.createTask(orgId, { repoId: brokenRepo, prompt: "Doomed" });
        const view = await A.settled(orgId, t.id);
        expect(view.task.lifecycle).toMatchObject({ phase: "clone-repo", state: "error", label: "Failed" });
        expect(view.task.lifecycle.message).toMatch(/^Cloning repository failed: Cloning file:\/\/.*vanishing\.git failed: .*/);

        const issues = (await A.get<{ issues: RuntimeIssue[] }>(`/v1/orgs/${orgId}/runtime-issues`)).body.issues;
        const mine = issues.filter((i) => i.scope === `task:${t.id}`);
        expect(mine.length).toBeGreaterThan(0);
        expect(mine[0]).toMatchObject({ actorType: "task", step: "clone-repo", message: expect.stringContaining("vanishing.git") });
        expect(mine.some((i) => i.willRetry)).toBe(true);
        expect(pushed.length).toBeGreaterThan(0);

        const cleared = await B.post<{ issues: RuntimeIssue[] }>(`/v1/orgs/${orgId}/runtime-issues/clear`, { actorId: mine[0]?.actorId });
        expect(cleared.status).toBe(200);
        expect(cleared.body.issues.filter((i) => i.scope === `task:${t.id}`)).toEqual([]);
        await until(async () => pushed.at(-1) ?? [], (last) => !last.some((i) => i.scope === `task:${t.id}`));
        const history = await A.get<{ events: HistoryEvent[] }>(`/v1/orgs/${orgId}/repos/${brokenRepo}/history?taskId=${t.id}`);
        expect(history.body.events.map((e) => e.kind)).toEqual(["error", "created"]);
      } finally {
        await orgConn.dispose();
        await client.dispose();
      }
    });
  });
});
