import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { TestProject } from "vitest/node";
import { openAppDatabase } from "../../server/db/index.js";

/**
 * One root directory per test run; every data directory, repository and template of the run
 * lives under it, so teardown removes this run's files and never another run's.
 *
 * Creating a PGlite directory runs initdb (3-4 s). It is done once, migrated, and each test
 * copies it: a copied PGlite directory is an ordinary closed Postgres data directory.
 *
 * Spawned Kilns run `scripts/start.mjs`, which rebuilds dist/ when a source is newer; building
 * it here once keeps parallel test files from each building it on their first spawn.
 */
export default async function setup(project: TestProject) {
  execFileSync(process.execPath, ["scripts/start.mjs", "--build"], { cwd: dirname(dirname(import.meta.dirname)), stdio: "inherit" });
  const runRoot = mkdtempSync(join(tmpdir(), "kiln-test-run-"));
  const template = join(runRoot, "template", "pglite");
  mkdirSync(dirname(template), { recursive: true });
  const db = await openAppDatabase({ pgliteDir: template });
  await db.migrate();
  await db.close();
  project.provide("pgliteTemplate", template);
  project.provide("testRunRoot", runRoot);
  return () => rmSync(runRoot, { recursive: true, force: true });
}

declare module "vitest" {
  export interface ProvidedContext {
    pgliteTemplate: string;
    testRunRoot: string;
  }
}
