import { stopAllLocalSandboxServers, stopOrphanedSandboxServers } from "./sandbox/local.js";

/**
 * What the process hosting the actors owes the machine it runs on, whatever the providers: the
 * gateway (server/app.ts) calls these and knows no provider's process control.
 */

/**
 * At start, before any actor runs: stops the sandbox servers an earlier Kiln on this data
 * directory left running (after kill -9). Returns the sandboxes it stopped; they restart when
 * next used, and the caller resumes what was provisioning on them.
 */
export function reclaimHostSandboxes(sandboxRoot: string): { orgId: string; sandboxId: string }[] {
  return stopOrphanedSandboxServers(sandboxRoot);
}

/** At shutdown, after the actors stopped: stops every sandbox server this process started. */
export function stopHostSandboxes(): Promise<void> {
  return stopAllLocalSandboxServers();
}
