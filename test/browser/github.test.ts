import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { GitHubStatus } from "../../shared/schemas/github.js";
import { startFakeGitHub, type FakeGitHub, type FakeUser } from "../fakes/github.js";
import { api } from "../support/api.js";
import { launchChromium, screenshot } from "../support/browser.js";
import { makeBareRepo } from "../support/git.js";
import { deliver, githubEnv, installationCreated, redirectGitHubSignIn, signInWithGitHub } from "../support/github.js";
import { socketTransport } from "../support/http.js";
import { startTestKiln, type TestKiln } from "../support/kiln.js";
import { until } from "../support/poll.js";

const ORG = { id: 5101, login: "acme", type: "Organization" as const };
const INSTALLATION = 7101;
const ann: FakeUser = { id: 9101, login: "ann", name: "Ann", email: "ann@acme.test" };

/** The task page's pull request button, against the fake GitHub (a real Octokit, a real git push). */
describe("the workbench page with the GitHub App", () => {
  let browser: Browser;
  let fake: FakeGitHub;
  let kiln: TestKiln;
  let undoRedirect: () => void;
  let token: string;
  const orgId = `gh-${ORG.id}`;
  const as = () => api(socketTransport(kiln.url), token);

  beforeAll(async () => {
    fake = await startFakeGitHub();
    fake.addUser(ann);
    fake.addInstallation(INSTALLATION, ORG, [{ id: 401, fullName: "acme/api", defaultBranch: "main", cloneUrl: makeBareRepo("acme-api") }]);
    fake.setMembers("acme", [{ ...ann, role: "admin" }]);
    undoRedirect = redirectGitHubSignIn(fake);
    [browser, kiln] = await Promise.all([launchChromium(), startTestKiln({ env: githubEnv(fake) })]);
    token = await signInWithGitHub(kiln.url, ann);
    expect((await deliver(kiln.url, "installation", installationCreated(INSTALLATION, ORG))).status).toBe(202);
    await until(
      () => as().get<{ github: GitHubStatus }>(`/v1/orgs/${orgId}/github`),
      (r) => r.body.github?.status === "connected" && r.body.github.sync.finishedAt !== null,
    );
  });
  afterAll(async () => {
    await browser?.close();
    undoRedirect?.();
    await kiln?.stop();
    await fake?.close();
  });

  /** A page signed in as Ann (the token GitHub sign-in gave, where the page keeps it). */
  async function signedInPage(): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    await context.addInitScript((t) => localStorage.setItem("kiln.session-token", t), token);
    return context.newPage();
  }

  it("opens a pull request from the task page and shows it; an error shows as its message", { timeout: 180_000 }, async () => {
    const first = await as().createTask(orgId, { repoId: "gh-401", prompt: "Write the docs", branch: "add-docs" });
    const second = await as().createTask(orgId, { repoId: "gh-401", prompt: "Write more docs", branch: "more-docs" });
    for (const t of [first, second]) expect((await as().settled(orgId, t.id)).task.lifecycle.state).toBe("ready");

    const page = await signedInPage();
    await page.goto(`${kiln.url}/#/orgs/${orgId}/tasks/${first.id}`);
    const task = page.getByRole("region", { name: "Task" });
    await task.getByRole("button", { name: "Open a pull request" }).click();
    // Linked: the badge is the link to GitHub, with its number and state, and the button is gone.
    const link = task.getByRole("link", { name: /PR #\d+ open/ });
    await link.waitFor();
    const pull = fake.pulls("acme/api").find((p) => p.head === "add-docs");
    expect(pull).toBeDefined();
    expect(await link.getAttribute("href")).toContain(`/pull/${pull?.number}`);
    expect(await task.getByRole("button", { name: "Open a pull request" }).count()).toBe(0);
    // The task list shows it too, live.
    await page.getByRole("navigation", { name: "All tasks" }).locator("li", { hasText: "Write the docs" }).getByText(`PR #${pull?.number} open`).waitFor();

    // GitHub stops honouring the installation: the route's error is shown, in its words.
    fake.revoke(INSTALLATION);
    await page.goto(`${kiln.url}/#/orgs/${orgId}/tasks/${second.id}`);
    await page.getByRole("heading", { name: "Write more docs" }).waitFor();
    await task.getByRole("button", { name: "Open a pull request" }).click();
    const refusal = task.getByRole("alert").filter({ hasText: "GitHub refused this installation's credentials" });
    await refusal.waitFor();
    expect(await refusal.textContent()).toContain("then an owner or admin reconnects it.");
    // The connection now needs a person: the page says so, live (the org's summary carries it), in place of the button.
    await task.getByTestId("github-status").filter({ hasText: "GitHub connection: reconnect required" }).waitFor();
    expect(await task.getByRole("button", { name: "Open a pull request" }).count()).toBe(0);
    // And the route answers a 409 in words, not a 500.
    const answered = await as().post<{ error: string; message: string }>(`/v1/orgs/${orgId}/tasks/${second.id}/pull-request`);
    expect(answered).toMatchObject({ status: 409, body: { error: "conflict", message: expect.stringContaining("reconnect") } });
    expect(fake.pulls("acme/api").filter((p) => p.head === "more-docs")).toHaveLength(0);
    await screenshot(page, "github-pull-request");
  });
});
