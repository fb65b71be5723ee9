import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { openAppDatabase } from "../../server/db/index.js";

/**
 * Creating a PGlite directory runs initdb (3-4 s). Do it once, migrated, and let each test
 * copy it: a copied PGlite directory is an ordinary closed Postgres data directory.
 */
export default async function setup(project: TestProject) {
  const root = mkdtempSync(join(tmpdir(), "kiln-test-template-"));
  const dir = join(root, "pglite");
  const db = await openAppDatabase({ pgliteDir: dir });
  await db.migrate();
  await db.close();
  project.provide("pgliteTemplate", dir);
  return () => {
    rmSync(root, { recursive: true, force: true });
    for (const name of readdirSync(tmpdir())) {
      if (name.startsWith("rivetkit-test-") || name.startsWith("kiln-test-")) {
        rmSync(join(tmpdir(), name), { recursive: true, force: true });
      }
    }
  };
}

declare module "vitest" {
  export interface ProvidedContext {
    pgliteTemplate: string;
  }
}
