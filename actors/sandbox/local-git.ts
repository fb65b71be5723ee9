import { mkdir, rm, stat } from "node:fs/promises";
import { isAbsolute, join, relative, resolve } from "node:path";
import { spawner } from "./spawner.js";
import { SandboxError, type ExecRequest, type ExecResult, type SandboxProvider, type SandboxRef } from "./provider.js";

const SAFE_ID = /^[A-Za-z0-9_-]{1,80}$/;

/**
 * The in-process stand-in: a sandbox is a directory under Kiln's data directory and commands
 * run as child processes inside it. It produces the same phases and errors as real providers,
 * so tasks exercise the full provisioning path before sandbox-agent arrives.
 */
export class LocalGitProvider implements SandboxProvider {
  readonly id = "local-git";

  constructor(private readonly root: string) {}

  private dir(ref: SandboxRef): string {
    if (!SAFE_ID.test(ref.sandboxId)) throw new SandboxError("sandbox_not_found", `Invalid sandbox id ${ref.sandboxId}.`);
    return join(this.root, ref.sandboxId);
  }

  async create(input: { orgId: string; sandboxId: string }): Promise<SandboxRef> {
    const ref = { provider: this.id, sandboxId: input.sandboxId };
    try {
      await mkdir(this.dir(ref), { recursive: true });
    } catch (err) {
      throw new SandboxError("create_failed", `Could not create the sandbox directory: ${(err as Error).message}`);
    }
    return ref;
  }

  async start(ref: SandboxRef): Promise<void> {
    await this.requireExists(ref);
  }

  async ensureServer(ref: SandboxRef): Promise<{ endpoint: string | null }> {
    await this.requireExists(ref);
    return { endpoint: null };
  }

  async exec(ref: SandboxRef, req: ExecRequest): Promise<ExecResult> {
    const root = this.dir(ref);
    await this.requireExists(ref);
    const cwd = resolve(root, req.cwd ?? ".");
    const rel = relative(root, cwd);
    if (rel.startsWith("..") || isAbsolute(rel)) throw new SandboxError("command_failed", "The working directory must stay inside the sandbox.");
    const result = await spawner.run({
      command: req.command,
      args: req.args,
      cwd,
      timeoutMs: req.timeoutMs ?? 60_000,
      maxBuffer: 16 * 1024 * 1024,
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: root, GIT_TERMINAL_PROMPT: "0", LANG: "C", ...req.env },
    });
    if (result.failure === "ENOENT") throw new SandboxError("binary_missing", `${req.command} is not installed in the sandbox.`);
    if (result.failure === "timeout") throw new SandboxError("command_timeout", `${req.command} ${req.args[0] ?? ""} timed out.`);
    return { exitCode: result.exitCode, stdout: result.stdout, stderr: result.stderr };
  }

  async stop(ref: SandboxRef): Promise<void> {
    this.dir(ref);
  }

  async destroy(ref: SandboxRef): Promise<void> {
    await rm(this.dir(ref), { recursive: true, force: true });
  }

  private async requireExists(ref: SandboxRef): Promise<void> {
    try {
      await stat(this.dir(ref));
    } catch {
      throw new SandboxError("sandbox_not_found", `Sandbox ${ref.sandboxId} no longer exists.`);
    }
  }
}
