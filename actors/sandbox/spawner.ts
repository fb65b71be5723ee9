import { spawn, type ChildProcess } from "node:child_process";

export interface SpawnRequest {
  command: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
  timeoutMs: number;
  maxBuffer: number;
}

export interface SpawnResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  /** `ENOENT`: no such binary; `timeout`: killed after timeoutMs. */
  failure?: "ENOENT" | "timeout";
}

/**
 * The helper: a bare Node process that runs each command with execFile and answers over IPC.
 * Inline source, so it needs no file of its own (Kiln may run bundled).
 */
const HELPER_SOURCE = `
const { execFile } = require("node:child_process");
process.on("disconnect", () => process.exit(0));
process.on("message", (m) => {
  execFile(m.command, m.args, { cwd: m.cwd, env: m.env, timeout: m.timeoutMs, maxBuffer: m.maxBuffer }, (err, stdout, stderr) => {
    const failure = err && err.code === "ENOENT" ? "ENOENT" : err && err.killed ? "timeout" : undefined;
    const exitCode = err ? (typeof err.code === "number" ? err.code : 1) : 0;
    process.send({ id: m.id, exitCode, stdout: String(stdout), stderr: String(stderr), failure });
  });
});
`;

/**
 * Runs short commands (local-git's git calls) in a small helper process instead of Kiln's own.
 * `fork()` of a process copies its page tables: in a Kiln of several hundred MB each spawn
 * blocked the event loop 10–20 ms, a third of the main thread while tasks provisioned. The helper
 * is started once, on first use, and forks from its own small heap, off Kiln's thread.
 */
class Spawner {
  private child: ChildProcess | undefined;
  private next = 0;
  private readonly pending = new Map<number, { done: (r: SpawnResult) => void; fail: (e: Error) => void }>();

  run(req: SpawnRequest): Promise<SpawnResult> {
    const child = this.helper();
    const id = ++this.next;
    return new Promise((done, fail) => {
      this.pending.set(id, { done, fail });
      child.send({ id, ...req }, (err) => {
        if (!err) return;
        this.pending.delete(id);
        fail(err);
      });
    });
  }

  private helper(): ChildProcess {
    if (this.child?.connected) return this.child;
    const child = spawn(process.execPath, ["-e", HELPER_SOURCE], { stdio: ["ignore", "ignore", "inherit", "ipc"] });
    child.on("message", (m: SpawnResult & { id: number }) => {
      const call = this.pending.get(m.id);
      this.pending.delete(m.id);
      call?.done({ exitCode: m.exitCode, stdout: m.stdout, stderr: m.stderr, ...(m.failure ? { failure: m.failure } : {}) });
    });
    child.once("exit", () => {
      if (this.child === child) this.child = undefined;
      const lost = [...this.pending.values()];
      this.pending.clear();
      for (const call of lost) call.fail(new Error("the command helper exited"));
    });
    // It must never keep Kiln alive; it exits when Kiln's process does (its IPC channel closes).
    child.unref();
    (child.channel as { unref?: () => void } | undefined)?.unref?.();
    this.child = child;
    return child;
  }
}

export const spawner = new Spawner();
