import { SandboxError, type ExecResult, type SandboxProvider, type SandboxRef } from "./provider.js";

/** The task's working copy, relative to the sandbox root. */
export const WORKDIR = "repo";

function lastLine(r: ExecResult): string {
  const text = (r.stderr || r.stdout).trim().split("\n").filter(Boolean);
  return text.slice(-2).join(" ").slice(0, 500);
}

async function git(provider: SandboxProvider, ref: SandboxRef, args: string[], cwd = WORKDIR, timeoutMs = 120_000): Promise<ExecResult> {
  return provider.exec(ref, { command: "git", args, cwd, timeoutMs });
}

/** Git operations on a task's working copy, all run inside the sandbox through the provider. */
export const sandboxGit = {
  async clone(provider: SandboxProvider, ref: SandboxRef, remoteUrl: string): Promise<void> {
    const existing = await git(provider, ref, ["rev-parse", "--is-inside-work-tree"]).catch(() => undefined);
    if (existing?.exitCode === 0) return; // A clone that finished before a restart is kept.
    await provider.exec(ref, { command: "rm", args: ["-rf", WORKDIR], cwd: "." });
    const r = await git(provider, ref, ["clone", "--quiet", "--", remoteUrl, WORKDIR], ".");
    if (r.exitCode !== 0) throw new SandboxError("clone_failed", `Cloning ${remoteUrl} failed: ${lastLine(r)}`);
  },

  /** Puts the working copy on `branch`, creating it from the current HEAD when it does not exist. */
  async checkout(provider: SandboxProvider, ref: SandboxRef, branch: string): Promise<void> {
    const r = await git(provider, ref, ["checkout", "--quiet", "-B", branch]);
    if (r.exitCode !== 0) throw new SandboxError("checkout_failed", `Checking out ${branch} failed: ${lastLine(r)}`);
  },

  async currentBranch(provider: SandboxProvider, ref: SandboxRef): Promise<string> {
    const r = await git(provider, ref, ["rev-parse", "--abbrev-ref", "HEAD"]);
    if (r.exitCode !== 0) throw new SandboxError("command_failed", `Reading the current branch failed: ${lastLine(r)}`);
    return r.stdout.trim();
  },

  async branchExists(provider: SandboxProvider, ref: SandboxRef, branch: string): Promise<boolean> {
    const r = await git(provider, ref, ["show-ref", "--verify", "--quiet", `refs/heads/${branch}`]);
    return r.exitCode === 0;
  },

  async renameBranch(provider: SandboxProvider, ref: SandboxRef, from: string, to: string): Promise<void> {
    const r = await git(provider, ref, ["branch", "-m", from, to]);
    if (r.exitCode !== 0) throw new SandboxError("command_failed", `Renaming branch ${from} to ${to} failed: ${lastLine(r)}`);
  },

  /** The rules of `git check-ref-format --branch`, run by git itself. */
  async isValidBranchName(provider: SandboxProvider, ref: SandboxRef, name: string): Promise<boolean> {
    const r = await git(provider, ref, ["check-ref-format", "--branch", name], ".");
    return r.exitCode === 0;
  },
};
