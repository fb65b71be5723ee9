import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "./kiln.js";

const GIT_ENV = {
  ...process.env,
  GIT_AUTHOR_NAME: "Kiln Test",
  GIT_AUTHOR_EMAIL: "test@example.com",
  GIT_COMMITTER_NAME: "Kiln Test",
  GIT_COMMITTER_EMAIL: "test@example.com",
};

export function git(cwd: string, ...args: string[]): string {
  return execFileSync("git", args, { cwd, env: GIT_ENV, encoding: "utf8" }).trim();
}

/** A bare repository with one commit on `main`, as a remote a task can clone. */
export function makeBareRepo(name = "project"): string {
  const root = tempDir("git");
  const bare = join(root, `${name}.git`);
  git(root, "init", "--quiet", "--bare", "-b", "main", bare);
  const work = join(root, "seed");
  git(root, "init", "--quiet", "-b", "main", work);
  writeFileSync(join(work, "README.md"), `# ${name}\n`);
  git(work, "add", ".");
  git(work, "commit", "--quiet", "-m", "initial commit");
  git(work, "push", "--quiet", bare, "main");
  return bare;
}

/** A task's working copy on disk, for reading its git state in assertions (the `local` provider's layout). */
export function workingCopy(dataDir: string, taskId: string): string {
  return join(dataDir, "sandboxes", taskId, "work", "repo");
}
