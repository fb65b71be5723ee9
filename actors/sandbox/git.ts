import type { DiffSummary } from "../../shared/schemas/task.js";
import { SandboxError, type ExecRequest, type ExecResult } from "./provider.js";

/** Runs a command in a sandbox: the SandboxInstanceActor's `exec`, whatever provider is behind it. */
export type SandboxExec = (req: ExecRequest) => Promise<ExecResult>;

/** The task's working copy, relative to the sandbox root. */
export const WORKDIR = "repo";

function lastLine(r: ExecResult): string {
  const text = (r.stderr || r.stdout).trim().split("\n").filter(Boolean);
  return text.slice(-2).join(" ").slice(0, 500);
}

function git(exec: SandboxExec, args: string[], cwd = WORKDIR, timeoutMs = 120_000): Promise<ExecResult> {
  return exec({ command: "git", args, cwd, timeoutMs });
}

/** A GitHub token as an HTTP header for one git command, through git's environment (git 2.31+). */
function tokenEnv(token: string | undefined): Record<string, string> {
  if (!token) return {};
  return { GIT_CONFIG_COUNT: "1", GIT_CONFIG_KEY_0: "http.extraheader", GIT_CONFIG_VALUE_0: `Authorization: Basic ${Buffer.from(`x-access-token:${token}`).toString("base64")}` };
}

/** Git operations on a task's working copy, all run inside its sandbox. */
export const sandboxGit = {
  /** `token` (a GitHub installation token) goes to git through its environment for this command only, as in `push`. */
  async clone(exec: SandboxExec, remoteUrl: string, token?: string): Promise<void> {
    const existing = await git(exec, ["rev-parse", "--is-inside-work-tree"]).catch(() => undefined);
    if (existing?.exitCode === 0) return; // A clone that finished before a restart is kept.
    await exec({ command: "rm", args: ["-rf", WORKDIR], cwd: "." });
    const r = await exec({ command: "git", args: ["clone", "--quiet", "--", remoteUrl, WORKDIR], cwd: ".", timeoutMs: 120_000, env: tokenEnv(token) });
    if (r.exitCode !== 0) throw new SandboxError("clone_failed", `Cloning ${remoteUrl} failed: ${lastLine(r)}`);
  },

  /** Puts the working copy on `branch`, creating it from the current HEAD when it does not exist. */
  async checkout(exec: SandboxExec, branch: string): Promise<void> {
    const r = await git(exec, ["checkout", "--quiet", "-B", branch]);
    if (r.exitCode !== 0) throw new SandboxError("checkout_failed", `Checking out ${branch} failed: ${lastLine(r)}`);
  },

  /**
   * Pushes HEAD to `branch` on origin. A token goes to git through its environment
   * (GIT_CONFIG_*) for this one command: never into the working copy's config, a remote URL or argv.
   */
  async push(exec: SandboxExec, branch: string, token?: string): Promise<void> {
    const r = await exec({ command: "git", args: ["push", "--quiet", "origin", `HEAD:refs/heads/${branch}`], cwd: WORKDIR, timeoutMs: 120_000, env: tokenEnv(token) });
    if (r.exitCode !== 0) throw new SandboxError("command_failed", `Pushing ${branch} failed: ${lastLine(r).replaceAll(token ?? "\u0000", "***")}`);
  },

  async currentBranch(exec: SandboxExec): Promise<string> {
    const r = await git(exec, ["rev-parse", "--abbrev-ref", "HEAD"]);
    if (r.exitCode !== 0) throw new SandboxError("command_failed", `Reading the current branch failed: ${lastLine(r)}`);
    return r.stdout.trim();
  },

  async head(exec: SandboxExec): Promise<string> {
    const r = await git(exec, ["rev-parse", "HEAD"]);
    if (r.exitCode !== 0) throw new SandboxError("command_failed", `Reading HEAD failed: ${lastLine(r)}`);
    return r.stdout.trim();
  },

  /** What the working copy changed since `base`: committed and uncommitted, per file. */
  async diffSummary(exec: SandboxExec, base: string): Promise<Omit<DiffSummary, "computedAt">> {
    const numstat = await git(exec, ["diff", "--numstat", base]);
    if (numstat.exitCode !== 0) throw new SandboxError("command_failed", `git diff failed: ${lastLine(numstat)}`);
    const files = numstat.stdout
      .split("\n")
      .filter(Boolean)
      .map((line) => {
        const [ins, del, ...path] = line.split("\t");
        return { path: path.join("\t"), insertions: Number(ins) || 0, deletions: Number(del) || 0 };
      });
    const log = await git(exec, ["rev-list", "--count", `${base}..HEAD`]);
    return {
      baseCommit: base,
      commits: Number(log.stdout.trim()) || 0,
      filesChanged: files.length,
      insertions: files.reduce((n, f) => n + f.insertions, 0),
      deletions: files.reduce((n, f) => n + f.deletions, 0),
      files,
    };
  },

  async branchExists(exec: SandboxExec, branch: string): Promise<boolean> {
    const r = await git(exec, ["show-ref", "--verify", "--quiet", `refs/heads/${branch}`]);
    return r.exitCode === 0;
  },

  async renameBranch(exec: SandboxExec, from: string, to: string): Promise<void> {
    const r = await git(exec, ["branch", "-m", from, to]);
    if (r.exitCode !== 0) throw new SandboxError("command_failed", `Renaming branch ${from} to ${to} failed: ${lastLine(r)}`);
  },
};
