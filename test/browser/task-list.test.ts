import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api } from "../support/api.js";
import { launchChromium, screenshot } from "../support/browser.js";
import { makeBareRepo } from "../support/git.js";
import { signUp, socketTransport } from "../support/http.js";
import { startTestKiln, type TestKiln } from "../support/kiln.js";
import { until } from "../support/poll.js";
import type { TaskSummary } from "../../shared/schemas/task.js";

/** The task list past one page, and the page driven by the keyboard alone (local-git sandboxes: cheap). */
describe("the workbench page's task list", () => {
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
    // Provisioned first: an event for a task still provisioning would add it to the page by itself.
    await until(
      () => A.get<{ tasks: TaskSummary[] }>(`/v1/orgs/${orgId}/tasks?limit=1000`),
      (r) => r.status === 200 && r.body.tasks.length === 205 && r.body.tasks.every((x) => x.lifecycle.state === "ready"),
      { timeoutMs: 120_000, everyMs: 250 },
    );

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

  it("works with the keyboard alone: Tab reaches the new-task form, Enter creates the task and opens it", { timeout: 120_000 }, async () => {
    const t = socketTransport(kiln.url);
    const user = await signUp(t);
    const orgId = `personal-${user.user.id}`;
    await api(t, user.token).addRepo(orgId, makeBareRepo("keyboard"));
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    await context.addInitScript((token) => localStorage.setItem("kiln.session-token", token), user.token);
    const page = await context.newPage();
    await page.goto(`${kiln.url}/#/orgs/${orgId}`);
    await page.getByRole("form", { name: "New task" }).getByRole("combobox").getByText("keyboard").waitFor({ state: "attached" });
    // Tab from the top of the page until the prompt has focus: every stop on the way is named.
    const unnamed: string[] = [];
    let onPrompt = false;
    for (let i = 0; i < 80 && !onPrompt; i++) {
      await page.keyboard.press("Tab");
      const focused = await page.evaluate(() => {
        const el = document.activeElement as HTMLElement | null;
        if (!el || el === document.body) return null;
        const label = el.getAttribute("aria-label") ?? (el as HTMLInputElement).labels?.[0]?.textContent ?? el.textContent ?? "";
        return { tag: el.tagName, label: label.trim(), prompt: el.closest("form[aria-label='New task']") !== null && el.tagName === "TEXTAREA" };
      });
      if (focused && !focused.label) unnamed.push(focused.tag);
      onPrompt = focused?.prompt ?? false;
    }
    expect(onPrompt).toBe(true);
    expect(unnamed).toEqual([]);
    await page.keyboard.type("Typed without a mouse");
    // Tab on to the form's button and press it.
    for (let i = 0; i < 5; i++) {
      await page.keyboard.press("Tab");
      if (await page.evaluate(() => document.activeElement?.textContent === "Create task")) break;
    }
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: "Typed without a mouse" }).waitFor();
    await page.locator('[aria-label="Tasks"] li', { hasText: "Typed without a mouse" }).waitFor();
    await screenshot(page, "keyboard-new-task");
    await context.close();
  });
});
