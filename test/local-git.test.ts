/**
 * local-git runs its commands in a helper process (so Kiln's own process never forks): answers,
 * exit codes, a missing binary and a timeout come back as before.
 */
import { describe, expect, it } from "vitest";
import { LocalGitProvider } from "../actors/sandbox/local-git.js";
import { tempDir } from "./support/kiln.js";

describe("local-git commands", () => {
  const provider = new LocalGitProvider(tempDir("local-git"));
  const ref = { provider: "local-git", sandboxId: "sb1" };

  it("runs commands in the sandbox, with their output and exit code", async () => {
    await provider.create({ orgId: "o", sandboxId: "sb1" });
    const ok = await provider.exec(ref, { command: "sh", args: ["-c", "pwd; echo err >&2; exit 3"] });
    expect(ok.exitCode).toBe(3);
    expect(ok.stdout.trim().endsWith("sb1")).toBe(true);
    expect(ok.stderr.trim()).toBe("err");
    const many = await Promise.all([1, 2, 3, 4].map((n) => provider.exec(ref, { command: "sh", args: ["-c", `echo ${n}`] })));
    expect(many.map((r) => r.stdout.trim())).toEqual(["1", "2", "3", "4"]);
  });

  it("answers binary_missing and command_timeout", async () => {
    await provider.create({ orgId: "o", sandboxId: "sb1" });
    await expect(provider.exec(ref, { command: "no-such-binary-kiln", args: [] })).rejects.toMatchObject({ code: "binary_missing" });
    await expect(provider.exec(ref, { command: "sleep", args: ["5"], timeoutMs: 100 })).rejects.toMatchObject({ code: "command_timeout" });
  });
});
