/**
 * A git remote for tests and benchmarks: no test-runner imports, so `bench/` can use it too.
 */
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";

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

/**
 * A bare repository `<root>/<name>.git` with one commit on `main`, as a remote a task can clone
 * (seeded from `<root>/seed`). `root` must exist; the caller owns it and removes it.
 */
export function createBareRepo(root: string, name = "project"): string {
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
