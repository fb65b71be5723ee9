import { join } from "node:path";
import { createBareRepo } from "./git-fixture.js";
import { tempDir } from "./kiln.js";

export { git } from "./git-fixture.js";

/** A bare repository with one commit on `main`, as a remote a task can clone. */
export function makeBareRepo(name = "project"): string {
  return createBareRepo(tempDir("git"), name);
}

/** A task's working copy on disk, for reading its git state in assertions (the `local` provider's layout). */
export function workingCopy(dataDir: string, taskId: string): string {
  return join(dataDir, "sandboxes", taskId, "work", "repo");
}
