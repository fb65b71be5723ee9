import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api } from "../support/api.js";
import { launchChromium, screenshot } from "../support/browser.js";
import { makeBareRepo } from "../support/git.js";
import { signUp, socketTransport } from "../support/http.js";
import { startTestKiln, type TestKiln } from "../support/kiln.js";

/** More tasks than one page: the list reads the newest 200 and offers the older ones on request. */
describe("the workbench page's task list past one page", () => {
  let browser: Browser;
  let kiln: TestKiln;

  beforeAll(async () => {
    // local-git: 205 tasks each get a cheap working copy instead of a sandbox-agent server.
    [browser, kiln] = await Promise.all([launchChromium(), startTestKiln({ env: { KILN_SANDBOX_PROVIDER: "local-git" } })]);
  });
  afterAll(async () => {
    await browser?.close();
    await kiln?.stop();
  });

  it("shows the newest 200 tasks, then the older ones when asked, live", { timeout: 180_000 }, async () => {
    const t = socketTransport(kiln.url);
    const user = await signUp(t);
    const A = api(t, user.token);
    const orgId = `personal-${user.user.id}`;
    const repoId = await A.addRepo(orgId, makeBareRepo("paging"));
    const created: string[] = [];
    for (let i = 0; i < 205; i += 8) {
      const batch = await Promise.all(Array.from({ length: Math.min(8, 205 - i) }, (_, j) => A.createTask(orgId, { repoId, prompt: `Task ${i + j}` })));
      created.push(...batch.map((x) => x.id));
    }
    const oldest = created[0]!;

    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    await context.addInitScript((token) => localStorage.setItem("kiln.session-token", token), user.token);
    const page = await context.newPage();
    await page.goto(`${kiln.url}/#/orgs/${orgId}`);
    const items = page.locator('[aria-label="Tasks"] > li');
    await page.getByRole("button", { name: "Show older tasks" }).waitFor();
    expect(await items.count()).toBe(200);
    expect(await page.locator(`[aria-label="Tasks"] li[data-task-id="${oldest}"]`).count()).toBe(0);

    await page.getByRole("button", { name: "Show older tasks" }).click();
    await page.locator(`[aria-label="Tasks"] li[data-task-id="${oldest}"]`).waitFor();
    expect(await items.count()).toBe(205);
    expect(await page.getByRole("button", { name: "Show older tasks" }).count()).toBe(0);
    // An older task stays live: its rename arrives by event.
    expect((await A.patch(`/v1/orgs/${orgId}/tasks/${oldest}`, { title: "The oldest, renamed" })).status).toBe(200);
    await page.locator(`[aria-label="Tasks"] li[data-task-id="${oldest}"]`).getByText("The oldest, renamed").waitFor();
    await screenshot(page, "task-list-older-pages");
    await context.close();
  });
});
