import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { inject } from "vitest";

/** Debian's chromium package; `.ci/run` installs it when missing. */
export const CHROMIUM_PATH = process.env.KILN_CHROMIUM ?? "/usr/bin/chromium";

/**
 * A headless Chromium for browser tests. Playwright gives every launch a fresh `--user-data-dir`
 * of its own (it refuses one in `args`), and every `newContext()` is a fresh profile on top of it.
 */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [
      "--no-sandbox",
      "--headless",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

/**
 * Saves the page as it is under the test run's temporary directory (or `KILN_SCREENSHOTS_DIR`,
 * which outlives the run), and answers the file's path.
 */
export async function screenshot(page: Page, name: string): Promise<string> {
  const dir = process.env.KILN_SCREENSHOTS_DIR ?? join(inject("testRunRoot"), "screenshots");
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** Signs up through the page's own form and waits for the workbench. */
export async function signUpInPage(page: Page, baseUrl: string, email: string, password = "correct-horse-battery"): Promise<void> {
  await page.goto(baseUrl);
  await page.getByRole("button", { name: "New here? Create an account" }).click();
  await page.getByLabel("Name").fill(email.split("@")[0] ?? "user");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Create account" }).click();
  await page.getByRole("button", { name: "Sign out" }).waitFor();
}

/** The org id in the page's URL (`#/orgs/<id>/…`). */
export function orgIdOf(page: Page): string {
  const m = /#\/orgs\/([^/]+)/.exec(page.url());
  if (!m?.[1]) throw new Error(`no org in ${page.url()}`);
  return decodeURIComponent(m[1]);
}
