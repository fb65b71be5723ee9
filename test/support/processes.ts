import { readdirSync, readFileSync, readlinkSync } from "node:fs";

export interface SandboxServerProcess {
  pid: number;
  ppid: number;
  cwd: string;
}

/** Live sandbox-agent server processes whose working directory is under `root`. */
export function sandboxServersUnder(root: string): SandboxServerProcess[] {
  const found: SandboxServerProcess[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, "utf8");
      if (!cmdline.includes("sandbox-agent") || !cmdline.includes("server")) continue;
      const cwd = readlinkSync(`/proc/${entry}/cwd`);
      if (!cwd.startsWith(root)) continue;
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      found.push({ pid: Number(entry), ppid, cwd });
    } catch {
      // The process ended while we looked.
    }
  }
  return found;
}
