import { readFileSync } from "node:fs";

/** Each awake actor keeps its SQLite database open (file, WAL and shared memory: 3 descriptors). */
export const FDS_PER_AWAKE_ACTOR = 3;
/** Below this soft limit a busy Kiln (a few hundred awake tasks and sessions) runs out of descriptors. */
export const MIN_OPEN_FILES = 8192;

/** The process's soft limit on open files where /proc tells it (Linux); null elsewhere (macOS), where the warning is skipped. */
export function openFilesLimit(): number | null {
  try {
    const line = readFileSync("/proc/self/limits", "utf8")
      .split("\n")
      .find((l) => l.startsWith("Max open files"));
    const soft = line?.slice("Max open files".length).trim().split(/\s+/)[0];
    if (!soft) return null;
    return soft === "unlimited" ? Number.POSITIVE_INFINITY : Number(soft);
  } catch {
    return null;
  }
}
