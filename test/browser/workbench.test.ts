import { renameSync } from "node:fs";
import { createServer } from "node:net";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeBareRepo } from "../support/git.js";
import { api } from "../support/api.js";
import { launchChromium, orgIdOf, screenshot, signUpInPage } from "../support/browser.js";
import { signUp, socketTransport, uniqueEmail } from "../support/http.js";
import { seedDataDir, startTestKiln, tempDataDir, type TestKiln } from "../support/kiln.js";

/** The workbench page in a real Chromium, against a real Kiln on real sandbox-agent processes. */
describe("the workbench page", () => {
  let browser: Browser;
  let kiln: TestKiln;
  const contexts: BrowserContext[] = [];
  beforeAll(async () => {
    [browser, kiln] = await Promise.all([launchChromium(), startTestKiln()]);
  });
  afterAll(async () => {
    await browser?.close();
    await kiln?.stop();
  });

  async function newPage(): Promise<Page> {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    contexts.push(ctx);
    return ctx.newPage();
  }

  it("signs up, adds a local repo, runs a task's session with a streamed reply, stops a turn and shows the diff", { timeout: 180_000 }, async () => {
    const page = await newPage();
    const elsewhere: string[] = [];
    page.on("request", (r) => new URL(r.url()).origin !== new URL(kiln.url).origin && elsewhere.push(r.url()));
    await signUpInPage(page, kiln.url, uniqueEmail("page"));

    const remote = makeBareRepo("page-flow");
    await page.getByLabel("Repository URL or path").fill(remote);
    await page.getByRole("button", { name: "Add repository" }).click();
    await page.getByRole("list", { name: "Repositories" }).getByText("page-flow").waitFor();

    await page.getByLabel("Prompt").fill("Write the notes");
    await page.getByRole("button", { name: "Create task" }).click();
    // The task's phase arrives by subscription: no reload between "starting" and "ready".
    await page.locator('[aria-label="Tasks"] li[data-state="ready"]').waitFor({ timeout: 60_000 });
    await page.getByRole("button", { name: "Open session" }).click();
    await page.locator('[data-testid="session-status"]', { hasText: "ready" }).waitFor({ timeout: 60_000 });

    const message = page.getByLabel("Message");
    await message.fill("hello agent");
    await page.getByRole("button", { name: "Send" }).click();
    const transcript = page.getByRole("list", { name: "Transcript" });
    await transcript.locator("li.agent", { hasText: "Working on: hello agent" }).waitFor();
    await transcript.locator('li[data-kind="tool"]').first().waitFor();
    await transcript.locator("li.turn-end", { hasText: "end_turn" }).waitFor();

    await message.fill("sleep 60000");
    await page.getByRole("button", { name: "Send" }).click();
    const stop = page.getByRole("button", { name: "Stop turn" });
    await page.waitForFunction(() => !document.querySelector<HTMLButtonElement>("form.composer button[type=button]")?.disabled);
    await stop.click();
    await transcript.locator("li.turn-end", { hasText: /cancelled|interrupted/ }).waitFor();

    await message.fill("commit notes.txt written from the page");
    await page.getByRole("button", { name: "Send" }).click();
    const diff = page.getByRole("region", { name: "Diff summary" });
    await diff.getByText("notes.txt").waitFor({ timeout: 30_000 });
    expect(await diff.textContent()).toMatch(/1 commit, 1 file changed/);

    // The draft is saved as it is typed, and survives a reload.
    const saved = page.waitForResponse((r) => r.url().endsWith("/draft") && r.request().method() === "PUT" && r.ok());
    await message.fill("half a thought");
    await saved;
    await page.reload();
    await page.getByLabel("Message").waitFor();
    await page.waitForFunction(() => document.querySelector<HTMLTextAreaElement>("textarea[aria-label=Message]")?.value === "half a thought");
    // Everything the page loads comes from Kiln (RivetKit's client would fetch its devtools from the web).
    expect(elsewhere).toEqual([]);
    await screenshot(page, "workbench-flow");
  });

  it("creates a cloud worker, shows its tokens once with copy buttons, follows its status live and deletes it", { timeout: 120_000 }, async () => {
    const page = await newPage();
    await page.context().grantPermissions(["clipboard-read", "clipboard-write"], { origin: kiln.url });
    await signUpInPage(page, kiln.url, uniqueEmail("workers"));
    await page.getByRole("link", { name: "Workers" }).click();
    await page.getByLabel("Worker name").fill("builder");
    await page.getByRole("button", { name: "Create worker" }).click();

    const tokens = page.getByRole("region", { name: "Worker tokens" });
    const owner = (await tokens.locator('[data-token="owner"]').textContent()) ?? "";
    expect(owner.length).toBeGreaterThan(20);
    await tokens.getByRole("button", { name: "Copy owner token" }).click();
    await tokens.getByRole("button", { name: "Copy owner token" }).getByText("Copied").waitFor();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(owner);

    // Provisioning → healthy arrives by the org subscription.
    const row = page.getByRole("list", { name: "Workers" }).locator("li", { hasText: "builder" });
    await row.and(page.locator('[data-status="healthy"]')).waitFor({ timeout: 90_000 });
    await tokens.getByRole("button", { name: "I have copied them" }).click();
    await tokens.waitFor({ state: "detached" });
    expect(await page.content()).not.toContain(owner);

    await page.getByRole("button", { name: "Delete worker builder" }).click();
    await row.waitFor({ state: "detached", timeout: 60_000 });
    await screenshot(page, "workbench-workers");
  });

  it("shows a non-member a refusal, not the org's data", { timeout: 90_000 }, async () => {
    const owner = await signUp(socketTransport(kiln.url));
    const A = api(socketTransport(kiln.url), owner.token);
    const orgId = (await A.get<{ organizations: { id: string }[] }>("/v1/me")).body.organizations[0]!.id;
    const repoId = await A.addRepo(orgId, makeBareRepo("private"));
    await A.createTask(orgId, { repoId, prompt: "Secret plans", title: "Secret plans" });

    const page = await newPage();
    await signUpInPage(page, kiln.url, uniqueEmail("outsider"));
    await page.goto(`${kiln.url}/#/orgs/${encodeURIComponent(orgId)}`);
    const refusal = page.getByRole("region", { name: "Not available" });
    await refusal.waitFor();
    expect(await refusal.getByRole("alert").textContent()).toMatch(/member/i);
    expect(await page.content()).not.toContain("Secret plans");
    await screenshot(page, "workbench-refusal");
  });

  it("shows the org's runtime issues as a banner, and clears them", { timeout: 120_000 }, async () => {
    const page = await newPage();
    await signUpInPage(page, kiln.url, uniqueEmail("issues"));
    const orgId = orgIdOf(page);
    const token = await page.evaluate(() => localStorage.getItem("kiln.session-token"));
    const A = api(socketTransport(kiln.url), token ?? "");
    const broken = makeBareRepo("vanishing");
    const repoId = await A.addRepo(orgId, broken);
    renameSync(broken, `${broken}.gone`);
    await A.createTask(orgId, { repoId, prompt: "Doomed" });

    const banner = page.getByRole("region", { name: "Runtime issues" });
    await banner.getByText(/clone-repo/).first().waitFor({ timeout: 60_000 });
    // Cleared once the task has given up, so no retry reports a new issue after the clear.
    await page.locator('[aria-label="Tasks"] li[data-state="error"]').waitFor({ timeout: 60_000 });
    await banner.getByRole("button", { name: "Clear runtime issues" }).click();
    await banner.waitFor({ state: "detached" });
    expect((await A.get<{ issues: { resolvedAt: string | null }[] }>(`/v1/orgs/${orgId}/runtime-issues`)).body.issues).toEqual([]);
    await screenshot(page, "workbench-runtime-issues-cleared");
  });
});

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === "object" && addr ? resolve(addr.port) : reject(new Error("no port"))));
    });
  });
}

describe("the workbench page across a Kiln restart", () => {
  it("says it is offline while Kiln is down, then recovers without a reload", { timeout: 180_000 }, async () => {
    const dataDir = tempDataDir();
    seedDataDir(dataDir);
    const env = { PORT: String(await freePort()) };
    let kiln = await startTestKiln({ dataDir, env });
    const browser = await launchChromium();
    try {
      const page = await (await browser.newContext({ viewport: { width: 390, height: 844 } })).newPage();
      await signUpInPage(page, kiln.url, uniqueEmail("restart"));
      const status = page.getByRole("status");
      await status.getByText("Live").waitFor();
      const orgId = orgIdOf(page);
      const token = (await page.evaluate(() => localStorage.getItem("kiln.session-token"))) ?? "";

      await kiln.stop();
      await status.getByText(/Offline/).waitFor();

      kiln = await startTestKiln({ dataDir, env });
      await status.getByText("Live").waitFor({ timeout: 60_000 });
      // Live again for real: a task created now appears with no reload.
      const A = api(socketTransport(kiln.url), token);
      const repoId = await A.addRepo(orgId, makeBareRepo("after-restart"));
      const task = await A.createTask(orgId, { repoId, prompt: "After the restart", title: "After the restart" });
      await page.locator(`[aria-label="Tasks"] li[data-task-id="${task.id}"]`).waitFor();
      await screenshot(page, "workbench-restart-recovered");
    } finally {
      await browser.close();
      await kiln.stop();
    }
  });
});
