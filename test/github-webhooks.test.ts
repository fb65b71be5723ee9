import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createKilnClient } from "../shared/client.js";
import type { GitHubStatus } from "../shared/schemas/github.js";
import type { OrgSummary } from "../shared/schemas/org.js";
import type { Repo, TaskView } from "../shared/schemas/task.js";
import { avatarOf, startFakeGitHub, type FakeGitHub, type FakeUser } from "./fakes/github.js";
import { api } from "./support/api.js";
import { deliver, example, githubEnv, installationCreated, redirectGitHubSignIn, signInWithGitHub } from "./support/github.js";
import { makeBareRepo } from "./support/git.js";
import { signUp, socketTransport } from "./support/http.js";
import { startTestKiln, type TestKiln } from "./support/kiln.js";
import { until } from "./support/poll.js";

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}

const ORG = { id: 5001, login: "acme", type: "Organization" as const, name: "Acme Inc." };
const INSTALLATION = 7001;
const ann: FakeUser = { id: 9001, login: "ann", name: "Ann", email: "ann@acme.test" };
const ben: FakeUser = { id: 9002, login: "ben", name: "Ben", email: "ben@acme.test" };
const cara: FakeUser = { id: 9003, login: "cara", name: "Cara", email: "cara@acme.test" };

describe("the GitHub App: webhooks, installation, members and repositories", () => {
  let fake: FakeGitHub;
  let kiln: TestKiln;
  let undoRedirect: () => void;
  const apiRemote = makeBareRepo("acme-api");
  const orgId = `gh-${ORG.id}`;
  const as = (token: string) => api(socketTransport(kiln.url), token);

  beforeAll(async () => {
    fake = await startFakeGitHub();
    for (const u of [ann, ben, cara]) fake.addUser(u);
    fake.addInstallation(INSTALLATION, ORG, [
      { id: 301, fullName: "acme/api", defaultBranch: "main", private: true, cloneUrl: apiRemote },
      { id: 302, fullName: "acme/web", defaultBranch: "trunk" },
    ]);
    fake.setMembers("acme", [
      { ...ann, role: "admin" },
      { ...ben, role: "member" },
      { ...cara, role: "member" },
    ]);
    undoRedirect = redirectGitHubSignIn(fake);
    kiln = await startTestKiln({ env: githubEnv(fake) });
  });
  afterAll(async () => {
    undoRedirect?.();
    await kiln?.stop();
    await fake?.close();
  });

  it("answers 400 without GitHub's headers and 401 for a bad signature, before any actor", async () => {
    const payload = example("ping");
    expect((await deliver(kiln.url, "ping", payload, { signature: null })).status).toBe(400);
    const bad = await deliver(kiln.url, "ping", payload, { secret: "not-the-secret" });
    expect(bad).toMatchObject({ status: 401, body: { error: "unauthorized" } });
    expect(JSON.stringify(bad.body)).not.toMatch(/actor|\/work\/|github\.com\/octokit/);
  });

  it("acknowledges a delivery for an installation it does not know, and does nothing else", async () => {
    const p = example("pull_request", "opened");
    p.installation = { id: 999_999 };
    expect(await deliver(kiln.url, "pull_request", p)).toMatchObject({ status: 202, body: { accepted: true, ignored: true } });
  });

  it("turns an installation into an org with its members and repositories; a pending member joins at GitHub sign-in", async () => {
    const annToken = await signInWithGitHub(kiln.url, ann);
    const benToken = await signInWithGitHub(kiln.url, ben);
    const created = await deliver(kiln.url, "installation", installationCreated(INSTALLATION, ORG));
    expect(created).toMatchObject({ status: 202, body: { accepted: true } });

    // The redelivery changes nothing.
    expect(await deliver(kiln.url, "installation", installationCreated(INSTALLATION, ORG), { id: created.id })).toMatchObject({ status: 200, body: { duplicate: true } });

    await until(
      () => as(annToken).get<{ organizations: { id: string }[] }>("/v1/me"),
      (r) => r.body.organizations.some((o) => o.id === orgId),
    );
    const status = await until(
      () => as(annToken).get<{ github: GitHubStatus }>(`/v1/orgs/${orgId}/github`),
      (r) => r.body.github?.status === "connected" && r.body.github.sync.finishedAt !== null,
    );
    // Its profile is GitHub's: display name, login and avatar.
    const me = await as(annToken).get<{ organizations: { id: string; kind: string; name: string; role: string }[] }>("/v1/me");
    expect(me.body.organizations).toContainEqual({ id: orgId, kind: "github", name: "Acme Inc.", role: "admin" });
    const profile = await as(annToken).get<{ organization: OrgSummary }>(`/v1/orgs/${orgId}`);
    expect(profile.body.organization).toMatchObject({ name: "Acme Inc.", githubLogin: "acme", avatarUrl: avatarOf(ORG.id) });
    expect(status.body.github).toMatchObject({ installation: { id: INSTALLATION, account: { login: "acme" } }, sync: { repositories: 2, members: 3, error: null } });
    expect(status.body.github.pendingMembers).toEqual([{ login: "cara", role: "member" }]);

    const repos = await as(benToken).get<{ repos: Repo[] }>(`/v1/orgs/${orgId}/repos`);
    expect(repos.body.repos.map((r) => [r.fullName, r.source, r.defaultBranch, r.private])).toEqual([
      ["acme/api", "github", "main", true],
      ["acme/web", "github", "trunk", false],
    ]);
    const members = await as(annToken).get<{ members: { email: string; role: string }[] }>(`/v1/orgs/${orgId}/members`);
    expect(members.body.members.map((m) => [m.email, m.role]).sort()).toEqual([
      [ann.email, "admin"],
      [ben.email, "member"],
    ]);

    // Cara was pending: her first GitHub sign-in lets her in.
    const caraToken = await signInWithGitHub(kiln.url, cara);
    await until(() => as(caraToken).get(`/v1/orgs/${orgId}`), (r) => r.status === 200);
  });

  it("removes a member GitHub removed at once: their subscription closes, their next call is refused", async () => {
    const benToken = await signInWithGitHub(kiln.url, ben);
    await until(() => as(benToken).get(`/v1/orgs/${orgId}`), (r) => r.status === 200);
    const client = createKilnClient({ baseUrl: kiln.url, token: benToken });
    const errors: string[] = [];
    let opened = 0;
    const stop = client.subscribeOrganization(orgId, { onOpen: () => (opened += 1), onError: (e) => errors.push((e as { code?: string }).code ?? "?") });
    try {
      await until(async () => opened, (n) => n >= 1, { timeoutMs: 15_000 });
      const removed = example("organization", "member_added");
      removed.action = "member_removed";
      removed.installation = { id: INSTALLATION };
      (removed.membership as { user: unknown; role: string }).user = { id: ben.id, login: ben.login };
      expect((await deliver(kiln.url, "organization", removed)).status).toBe(202);
      await until(async () => errors, (e) => e.includes("forbidden"), { timeoutMs: 15_000 });
      expect((await as(benToken).get(`/v1/orgs/${orgId}/repos`)).status).toBe(403);
    } finally {
      await stop();
      await client.dispose();
    }
  });

  it("shows suspend and unsuspend", async () => {
    const annToken = await signInWithGitHub(kiln.url, ann);
    const suspend = installationCreated(INSTALLATION, ORG);
    suspend.action = "suspend";
    expect((await deliver(kiln.url, "installation", suspend)).status).toBe(202);
    await until(() => as(annToken).get<{ github: GitHubStatus }>(`/v1/orgs/${orgId}/github`), (r) => r.body.github.status === "suspended");
    expect((await as(annToken).post(`/v1/orgs/${orgId}/github/sync`)).status).toBe(409);
    const unsuspend = installationCreated(INSTALLATION, ORG);
    unsuspend.action = "unsuspend";
    expect((await deliver(kiln.url, "installation", unsuspend)).status).toBe(202);
    await until(() => as(annToken).get<{ github: GitHubStatus }>(`/v1/orgs/${orgId}/github`), (r) => r.body.github.status === "connected" && !r.body.github.sync.running);
  });

  it("sets reconnect_required with a runtime issue when GitHub refuses the installation, and reconnects", async () => {
    const annToken = await signInWithGitHub(kiln.url, ann);
    await until(() => as(annToken).get<{ github: GitHubStatus }>(`/v1/orgs/${orgId}/github`), (r) => !r.body.github.sync.running);
    fake.revoke(INSTALLATION);
    try {
      expect((await as(annToken).post(`/v1/orgs/${orgId}/github/sync`)).status).toBe(202);
      const s = await until(() => as(annToken).get<{ github: GitHubStatus }>(`/v1/orgs/${orgId}/github`), (r) => r.body.github.status === "reconnect_required");
      expect(s.body.github.message).toMatch(/reconnect/);
      const issues = await as(annToken).get<{ issues: { message: string }[] }>(`/v1/orgs/${orgId}/runtime-issues`);
      expect(issues.body.issues.some((i) => /reconnect/.test(i.message))).toBe(true);
    } finally {
      fake.revoke(INSTALLATION, false);
    }
    expect((await as(annToken).post(`/v1/orgs/${orgId}/github/reconnect`)).status).toBe(202);
    await until(() => as(annToken).get<{ github: GitHubStatus }>(`/v1/orgs/${orgId}/github`), (r) => r.body.github.status === "connected" && !r.body.github.sync.running);
  });

  it("records a poison delivery as a runtime issue with its id, and processes the next", async () => {
    const annToken = await signInWithGitHub(kiln.url, ann);
    const poison = { action: "opened", installation: { id: INSTALLATION }, repository: { id: 301 } };
    const bad = await deliver(kiln.url, "pull_request", poison);
    expect(bad.status).toBe(202);
    const added = example("installation_repositories", "added");
    added.installation = { id: INSTALLATION };
    added.repositories_added = [{ id: 303, full_name: "acme/docs", private: false }];
    fake.setRepos(INSTALLATION, [
      { id: 301, fullName: "acme/api", defaultBranch: "main", private: true, cloneUrl: apiRemote },
      { id: 302, fullName: "acme/web", defaultBranch: "trunk" },
      { id: 303, fullName: "acme/docs" },
    ]);
    expect((await deliver(kiln.url, "installation_repositories", added)).status).toBe(202);
    await until(() => as(annToken).get<{ repos: Repo[] }>(`/v1/orgs/${orgId}/repos`), (r) => r.body.repos.some((x) => x.fullName === "acme/docs"));
    const issues = await until(() => as(annToken).get<{ issues: { message: string }[] }>(`/v1/orgs/${orgId}/runtime-issues`), (r) => r.body.issues.some((i) => i.message.includes(bad.id)));
    expect(issues.body.issues.find((i) => i.message.includes(bad.id))?.message).toMatch(/failed/);
  });

  it("links a pull request to its task, shows its review and CI, and archives the task when it is merged", async () => {
    const annToken = await signInWithGitHub(kiln.url, ann);
    const task = await as(annToken).createTask(orgId, { repoId: "gh-301", prompt: "Fix the login", branch: "fix-login" });
    const sha = "6113728f27ae82c7b1a177c8d03f9e96e0adf246";
    const pr = (action: string, extra: Record<string, unknown> = {}) => {
      const p = example("pull_request", "opened");
      p.action = action;
      p.installation = { id: INSTALLATION };
      (p.repository as { id: number }).id = 301;
      Object.assign(p.pull_request as object, { number: 7, html_url: "https://github.com/acme/api/pull/7", draft: false, merged: false, merged_at: null, head: { ref: "fix-login", sha } }, extra);
      return p;
    };
    const view = (done: (v: TaskView) => boolean) => until(() => as(annToken).get<TaskView>(`/v1/orgs/${orgId}/tasks/${task.id}`), (r) => r.status === 200 && done(r.body));
    expect((await deliver(kiln.url, "pull_request", pr("opened"))).status).toBe(202);
    await view((v) => v.task.pullRequest?.number === 7);

    const review = example("pull_request_review", "submitted");
    review.installation = { id: INSTALLATION };
    (review.repository as { id: number }).id = 301;
    review.pull_request = (pr("opened").pull_request as object);
    (review.review as { state: string }).state = "approved";
    expect((await deliver(kiln.url, "pull_request_review", review)).status).toBe(202);

    const run = example("check_run", "completed");
    run.installation = { id: INSTALLATION };
    Object.assign(run.check_run as object, { head_sha: sha, name: "build", status: "completed", conclusion: "success" });
    const status = example("status");
    Object.assign(status, { installation: { id: INSTALLATION }, sha, context: "lint", state: "failure" });
    expect((await deliver(kiln.url, "check_run", run)).status).toBe(202);
    expect((await deliver(kiln.url, "status", status)).status).toBe(202);
    const reviewed = await view((v) => v.task.pullRequest?.reviewDecision === "approved" && v.task.pullRequest.checks.total === 2);
    expect(reviewed.body.task.pullRequest).toEqual({ number: 7, url: "https://github.com/acme/api/pull/7", state: "open", draft: false, reviewDecision: "approved", checks: { state: "failure", total: 2, failed: 1 } });
    // The org's task list carries it too.
    const list = await as(annToken).get<{ tasks: { id: string; pullRequest?: { reviewDecision: string } }[] }>(`/v1/orgs/${orgId}/tasks`);
    expect(list.body.tasks.find((t) => t.id === task.id)?.pullRequest?.reviewDecision).toBe("approved");

    expect((await deliver(kiln.url, "pull_request", pr("closed", { state: "closed", merged: true, merged_at: "2026-11-30T06:00:00Z" }))).status).toBe(202);
    const archived = await view((v) => v.task.lifecycle.state === "archived");
    expect(archived.body.task.lifecycle.message).toBe("Pull request #7 merged");
    expect(archived.body.task.pullRequest?.state).toBe("merged");
  });

  it("records the head of a task's branch from a push, and the branch's deletion; pushes to other branches change no task", async () => {
    const annToken = await signInWithGitHub(kiln.url, ann);
    const task = await as(annToken).createTask(orgId, { repoId: "gh-301", prompt: "Tidy up", branch: "tidy-up" });
    const push = (branch: string, extra: Record<string, unknown>) => {
      const p = example("push");
      Object.assign(p, { installation: { id: INSTALLATION }, ref: `refs/heads/${branch}`, deleted: false }, extra);
      (p.repository as { id: number }).id = 301;
      return p;
    };
    const view = (done: (v: TaskView) => boolean) => until(() => as(annToken).get<TaskView>(`/v1/orgs/${orgId}/tasks/${task.id}`), (r) => r.status === 200 && done(r.body));
    const sha = "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c";
    expect((await deliver(kiln.url, "push", push("tidy-up", { after: sha }))).status).toBe(202);
    const pushed = await view((v) => v.task.branchHead?.sha === sha);
    expect(pushed.body.task.branchHead).toEqual({ sha, pushedAt: "2019-05-15T15:20:41Z", pusher: "Codertocat" });
    // A push to a branch no task is on is acknowledged and changes nothing here.
    expect((await deliver(kiln.url, "push", push("someone-elses", { after: "1111111111111111111111111111111111111111" }))).status).toBe(202);
    expect((await deliver(kiln.url, "push", push("tidy-up", { after: "0000000000000000000000000000000000000000", deleted: true, head_commit: null }))).status).toBe(202);
    const deleted = await view((v) => v.task.branchHead?.sha === null);
    expect(deleted.body.task.branchHead?.pusher).toBe("Codertocat");
    expect(deleted.body.task.lifecycle.state).not.toBe("archived");
  });

  it("opens a pull request from a task: pushes its branch, and links an open one instead of duplicating it", async () => {
    const annToken = await signInWithGitHub(kiln.url, ann);
    const task = await as(annToken).createTask(orgId, { repoId: "gh-301", prompt: "Write the docs", branch: "add-docs" });
    expect((await as(annToken).settled(orgId, task.id)).task.lifecycle.state).toBe("ready");
    const opened = await as(annToken).post<{ pullRequest: { number: number; state: string } }>(`/v1/orgs/${orgId}/tasks/${task.id}/pull-request`, { title: "Docs", draft: true });
    expect(opened.status).toBe(201);
    expect(fake.pulls("acme/api").filter((p) => p.head === "add-docs")).toMatchObject([{ number: opened.body.pullRequest.number, title: "Docs", draft: true, base: "main" }]);
    expect(execFileSync("git", ["ls-remote", apiRemote, "refs/heads/add-docs"]).toString()).toContain("refs/heads/add-docs");
    const again = await as(annToken).post<{ pullRequest: { number: number } }>(`/v1/orgs/${orgId}/tasks/${task.id}/pull-request`);
    expect(again).toMatchObject({ status: 200, body: { pullRequest: { number: opened.body.pullRequest.number } } });
    expect(fake.pulls("acme/api").filter((p) => p.head === "add-docs")).toHaveLength(1);
    const view = await as(annToken).get<TaskView>(`/v1/orgs/${orgId}/tasks/${task.id}`);
    expect(view.body.task.pullRequest).toMatchObject({ number: opened.body.pullRequest.number, state: "open" });
    // Parallel requests for another task: one pull request, one 201 and 200s, never a 500.
    const racing = await as(annToken).createTask(orgId, { repoId: "gh-301", prompt: "Race", branch: "race-pr" });
    expect((await as(annToken).settled(orgId, racing.id)).task.lifecycle.state).toBe("ready");
    const parallel = await Promise.all(Array.from({ length: 4 }, () => as(annToken).post<{ pullRequest: { number: number } }>(`/v1/orgs/${orgId}/tasks/${racing.id}/pull-request`)));
    expect(parallel.map((r) => r.status).sort()).toEqual([200, 200, 200, 201]);
    expect(new Set(parallel.map((r) => r.body.pullRequest.number)).size).toBe(1);
    expect(fake.pulls("acme/api").filter((p) => p.head === "race-pr")).toHaveLength(1);
    // A task on a repository that is not GitHub's has no pull request to open.
    const personal = `personal-${(await as(annToken).get<{ user: { id: string } }>("/v1/me")).body.user.id}`;
    const local = await as(annToken).createTask(personal, { repoId: await as(annToken).addRepo(personal, makeBareRepo("plain")), prompt: "x" });
    expect((await as(annToken).post(`/v1/orgs/${personal}/tasks/${local.id}/pull-request`)).status).toBe(409);
  });

  it("keeps no GitHub OAuth token in plain text: not in actor storage, not in the account table, not in any answer", async () => {
    const annToken = await signInWithGitHub(kiln.url, ann);
    const identity = await as(annToken).get<{ github: Record<string, unknown> }>("/v1/me/github");
    expect(identity.body.github).toMatchObject({ githubId: ann.id, hasToken: true });
    const tokens = fake.userTokens();
    expect(tokens.length).toBeGreaterThan(0);
    expect(tokens.some((t) => JSON.stringify(identity.body).includes(t))).toBe(false);
    const stored = filesUnder(join(kiln.dataDir, "actors")).map((f) => readFileSync(f).toString("latin1"));
    expect(stored.length).toBeGreaterThan(0);
    for (const t of tokens) expect(stored.some((s) => s.includes(t))).toBe(false);
    const rows = (await kiln.db.db.execute(sql`select access_token from account where provider_id = 'github'`)) as unknown as { rows: { access_token: string | null }[] };
    expect(rows.rows.length).toBeGreaterThan(0);
    for (const r of rows.rows) expect(tokens.some((t) => (r.access_token ?? "").includes(t))).toBe(false);
  });

  it("answers 409 for a sync already running", async () => {
    const annToken = await signInWithGitHub(kiln.url, ann);
    await until(() => as(annToken).get<{ github: GitHubStatus }>(`/v1/orgs/${orgId}/github`), (r) => !r.body.github.sync.running && r.body.github.status === "connected");
    const both = await Promise.all([as(annToken).post(`/v1/orgs/${orgId}/github/sync`), as(annToken).post(`/v1/orgs/${orgId}/github/sync`)]);
    expect(both.map((r) => r.status).sort()).toEqual([202, 409]);
    const u = await signUp(socketTransport(kiln.url));
    expect((await as(u.token).post(`/v1/orgs/${orgId}/github/sync`)).status).toBe(403);
  });

  it("counts the deliveries it does not handle, by event, and changes nothing else", async () => {
    const annToken = await signInWithGitHub(kiln.url, ann);
    const before = (await as(annToken).get<{ github: GitHubStatus }>(`/v1/orgs/${orgId}/github`)).body.github.deliveries;
    const star = example("star", "created");
    star.installation = { id: INSTALLATION };
    expect((await deliver(kiln.url, "star", star)).status).toBe(202);
    expect((await deliver(kiln.url, "star", star)).status).toBe(202);
    const after = await until(() => as(annToken).get<{ github: GitHubStatus }>(`/v1/orgs/${orgId}/github`), (r) => r.body.github.deliveries.ignoredByEvent["star.created"] === 2);
    expect(after.body.github.deliveries.ignored).toBe(before.ignored + 2);
    expect(after.body.github.deliveries.processed).toBe(before.processed);
  });

  it("carries the sync's progress in the org's summary, live to the org's subscribers", async () => {
    const annToken = await signInWithGitHub(kiln.url, ann);
    await until(() => as(annToken).get<{ github: GitHubStatus }>(`/v1/orgs/${orgId}/github`), (r) => !r.body.github.sync.running && r.body.github.status === "connected");
    const seen: NonNullable<OrgSummary["github"]>[] = [];
    const client = createKilnClient({ baseUrl: kiln.url, token: annToken });
    let opened = 0;
    const stop = client.subscribeOrganization(orgId, { onOpen: () => (opened += 1), onGitHub: (g) => g && seen.push(g) });
    try {
      await until(async () => opened, (n) => n >= 1, { timeoutMs: 15_000 });
      // A pull request opened on GitHub for a task's branch, which no webhook told Kiln about: the sync links it.
      const task = await as(annToken).createTask(orgId, { repoId: "gh-301", prompt: "Found by the sync", branch: "found-by-sync" });
      const pr = fake.addPull("acme/api", { title: "Found", head: "found-by-sync", base: "main", draft: false, body: null });
      const started = Date.now();
      expect((await as(annToken).post(`/v1/orgs/${orgId}/github/sync`)).status).toBe(202);
      await until(async () => seen, (s) => s.some((g) => !g.sync.running && Date.parse(g.sync.finishedAt ?? "") >= started), { timeoutMs: 15_000 });
      // The phases came in order, counting up, then the finished sync with its totals.
      const phases = seen.filter((g) => g.sync.running).map((g) => g.sync.phase);
      expect(phases[0]).toBe("repositories");
      expect(phases).toContain("pull_requests");
      expect(seen.at(-1)).toMatchObject({ status: "connected", sync: { running: false, repositories: 3, members: 3, error: null } });
      expect(seen.at(-1)!.sync.pullRequests).toBe(fake.pulls("acme/api").length);
      // And the summary a member reads says the same.
      const summary = await as(annToken).get<{ organization: OrgSummary }>(`/v1/orgs/${orgId}`);
      expect(summary.body.organization.github).toEqual(seen.at(-1));
      await until(() => as(annToken).get<TaskView>(`/v1/orgs/${orgId}/tasks/${task.id}`), (r) => r.body.task?.pullRequest?.number === pr.number);
    } finally {
      await stop();
      await client.dispose();
    }
  });
});

describe("without the GitHub App", () => {
  it("answers 503 github_not_configured", async () => {
    const kiln = await startTestKiln();
    try {
      expect(await deliver(kiln.url, "ping", example("ping"))).toMatchObject({ status: 503, body: { error: "github_not_configured" } });
    } finally {
      await kiln.stop();
    }
  });
});
