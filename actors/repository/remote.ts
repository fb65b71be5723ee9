import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { isAbsolute, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { UserError } from "rivetkit";
import { ACTOR_ERRORS } from "../auth.js";

export interface NormalizedRemote {
  url: string;
  name: string;
  local: boolean;
}

const SCP_LIKE = /^[\w.-]+@[\w.-]+:(?!\/\/)/;

/** One spelling per remote, so adding the same repository twice finds the same row. */
export function normalizeRemote(raw: string, allowLocal: boolean): NormalizedRemote {
  const input = raw.trim();
  let url: string;
  let local = false;
  if (SCP_LIKE.test(input)) {
    url = input.replace(/\/+$/, "");
  } else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(input)) {
    const parsed = new URL(input);
    if (!["https:", "http:", "ssh:", "git:", "file:"].includes(parsed.protocol)) {
      throw new UserError(`Unsupported remote scheme ${parsed.protocol}`, { code: ACTOR_ERRORS.invalidRequest });
    }
    local = parsed.protocol === "file:";
    parsed.hash = "";
    url = parsed.toString().replace(/\/+$/, "");
    if (!local) url = url.replace(/^([a-z]+:\/\/)([^/]+)/i, (_m, scheme: string, host: string) => scheme + host.toLowerCase());
  } else if (isAbsolute(input) || input.startsWith(".")) {
    local = true;
    url = pathToFileURL(resolve(input)).toString().replace(/\/+$/, "");
  } else {
    throw new UserError("The remote must be a git URL (https://, ssh://, git@host:path, file://) or a local path.", {
      code: ACTOR_ERRORS.invalidRequest,
    });
  }
  if (local && !allowLocal) {
    throw new UserError("Local paths and file:// remotes are disabled on this Kiln.", { code: ACTOR_ERRORS.invalidRequest });
  }
  const last = url.split(/[/:]/).filter(Boolean).pop() ?? "repo";
  return { url, name: last.replace(/\.git$/, "") || "repo", local };
}

/** A repo's id is derived from its normalized remote: stable, and the same for the same remote. */
export function repoIdFor(url: string): string {
  return `r_${createHash("sha256").update(url).digest("hex").slice(0, 16)}`;
}

/**
 * Contacts the remote with `git ls-remote`, so an unreachable one is refused when it is added
 * rather than when a task first clones it. Returns the default branch when the remote names one.
 */
export function probeRemote(url: string, timeoutMs = 20_000): Promise<{ defaultBranch: string | null }> {
  return new Promise((done, fail) => {
    execFile(
      "git",
      ["ls-remote", "--symref", "--", url, "HEAD"],
      { timeout: timeoutMs, env: { PATH: process.env.PATH ?? "/usr/bin:/bin", GIT_TERMINAL_PROMPT: "0", GIT_SSH_COMMAND: "ssh -oBatchMode=yes", LANG: "C" } },
      (err, stdout, stderr) => {
        if (err) {
          const lines = String(stderr).trim().split("\n").filter(Boolean);
          const reason = (lines.find((l) => l.startsWith("fatal:")) ?? lines[0] ?? (err.killed ? "timed out" : err.message)).replace(/^fatal:\s*/, "");
          return fail(new UserError(`Could not reach ${url}: ${reason}`, { code: ACTOR_ERRORS.repoUnreachable }));
        }
        const m = /^ref: refs\/heads\/(\S+)\s+HEAD/m.exec(String(stdout));
        done({ defaultBranch: m?.[1] ?? null });
      },
    );
  });
}
