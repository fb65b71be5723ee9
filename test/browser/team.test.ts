import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeBareRepo } from "../support/git.js";
import { launchChromium, orgIdOf, screenshot, signUpInPage } from "../support/browser.js";
import { uniqueEmail } from "../support/http.js";
import { startTestKiln, type TestKiln } from "../support/kiln.js";

/** Two users in two browser profiles, working in one team organization. */
describe("the workbench page for a team", () => {
  let browser: Browser;
  let kiln: TestKiln;
  beforeAll(async () => {
    [browser, kiln] = await Promise.all([launchChromium(), startTestKiln()]);
  });
  afterAll(async () => {
    await browser?.close();
    await kiln?.stop();
  });

  const newPage = async (): Promise<Page> => (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
  const draftSaved = (page: Page) => page.waitForResponse((r) => r.url().endsWith("/draft") && r.request().method() === "PUT" && r.ok());
  const sessionTab = (page: Page) => page.getByRole("list", { name: "Session list" }).getByRole("link").first();

  it("shares tasks live, gives unread marks to the other member only, and keeps drafts private", { timeout: 240_000 }, async () => {
    const ann = await newPage();
    const ben = await newPage();
    const benEmail = uniqueEmail("ben");
    const annEmail = uniqueEmail("ann");
    await signUpInPage(ann, kiln.url, annEmail);

    // Ann makes a team and invites Ben by email.
    await ann.getByRole("link", { name: "Team" }).click();
    await ann.getByLabel("Team name").fill("Crew");
    await ann.getByRole("button", { name: "Create team organization" }).click();
    await ann.getByRole("heading", { name: "Crew: members" }).waitFor();
    const teamId = orgIdOf(ann);
    await ann.getByLabel("Email to invite").fill(benEmail);
    await ann.getByRole("button", { name: "Invite", exact: true }).click();
    await ann.getByRole("list", { name: "Pending invitations" }).getByText(benEmail).waitFor();

    // Ben signs up, sees the invitation and accepts it.
    await signUpInPage(ben, kiln.url, benEmail);
    await ben.getByRole("button", { name: "Accept invitation to Crew" }).click();
    await ben.waitForURL((u) => u.hash === `#/orgs/${encodeURIComponent(teamId)}`);
    await ben.getByRole("heading", { name: "Crew: tasks" }).waitFor();

    // Ann adds a repository and creates a task; it appears in Ben's list with no reload.
    await ann.getByRole("link", { name: "Tasks" }).click();
    await ann.getByLabel("Repository URL or path").fill(makeBareRepo("crew"));
    await ann.getByRole("button", { name: "Add repository" }).click();
    await ann.getByLabel("Prompt").fill("Shared work");
    await ann.getByRole("button", { name: "Create task" }).click();
    const benTask = ben.locator('[aria-label="Tasks"] li[data-state="ready"]', { hasText: "Shared work" });
    await benTask.waitFor({ timeout: 90_000 });

    // Ann opens a session; Ben watches the task (without opening the session).
    await ann.getByRole("button", { name: "Open session" }).click();
    await ann.locator('[data-testid="session-status"]', { hasText: "ready" }).waitFor({ timeout: 60_000 });
    await benTask.getByRole("link").click();
    await sessionTab(ben).waitFor();

    await ann.getByLabel("Message").fill("hello team");
    await ann.getByRole("button", { name: "Send" }).click();
    await ann.getByRole("list", { name: "Transcript" }).locator("li.turn-end").waitFor();
    // Ben gets the unread mark for Ann's turn; Ann, who sent it, does not.
    await ben.locator('[aria-label="Session list"] a[data-unread="true"]').waitFor();
    expect(await sessionTab(ann).getAttribute("data-unread")).toBe("false");
    // And the task list, live: Ben's has the dot on the task, Ann's does not.
    const listDot = (page: Page) => page.getByRole("navigation", { name: "All tasks" }).locator("li", { hasText: "Shared work" }).getByRole("img", { name: "unread" });
    await listDot(ben).waitFor();
    await screenshot(ben, "team-ben-unread");
    expect(await listDot(ann).count()).toBe(0);

    // Ann's draft is hers: Ben opens the session and finds his own, empty box.
    const saved = draftSaved(ann);
    await ann.getByLabel("Message").fill("Ann's private draft");
    await saved;
    await sessionTab(ben).click();
    await ben.getByRole("list", { name: "Transcript" }).locator("li.agent", { hasText: "Working on: hello team" }).waitFor();
    // The message is shown as Ann's, by her name (the page signs up with the email's local part as the name).
    const sent = ben.getByRole("list", { name: "Transcript" }).locator("li.user", { hasText: "hello team" });
    expect(await sent.locator(".who").textContent()).toBe(annEmail.split("@")[0]);
    expect(await ben.getByLabel("Message").inputValue()).toBe("");
    // Opening it marked it read for Ben.
    await ben.locator('[aria-label="Session list"] a[data-unread="false"]').waitFor();
    await listDot(ben).waitFor({ state: "detached" });
    expect(await ben.content()).not.toContain("Ann's private draft");

    await screenshot(ann, "team-ann");
    await screenshot(ben, "team-ben");
  });
});
