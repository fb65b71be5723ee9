/**
 * Every actor key is built here, so no key array is spelled twice.
 * Keys follow the tree in ACTORS.md: an actor's key scopes all of its data.
 */
export const keys = {
  appShell: () => ["app"],
  organization: (orgId: string) => ["org", orgId],
  repository: (orgId: string, repoId: string) => ["org", orgId, "repo", repoId],
  history: (orgId: string, repoId: string) => ["org", orgId, "repo", repoId, "history"],
  task: (orgId: string, repoId: string, taskId: string) => ["org", orgId, "repo", repoId, "task", taskId],
  session: (orgId: string, repoId: string, taskId: string, sessionId: string) => ["org", orgId, "repo", repoId, "task", taskId, "session", sessionId],
  statusSync: (orgId: string, repoId: string, taskId: string, sessionId: string) => [
    "org", orgId, "repo", repoId, "task", taskId, "session", sessionId, "status-sync",
  ],
  worker: (orgId: string, workerId: string) => ["org", orgId, "worker", workerId],
  githubState: (orgId: string) => ["org", orgId, "github"],
  userGitHub: (userId: string) => ["user", userId, "github"],
  device: (orgId: string, deviceId: string) => ["org", orgId, "device", deviceId],
  watcher: (orgId: string, watcherId: string) => ["org", orgId, "watcher", watcherId],
  sandbox: (orgId: string, providerId: string, sandboxId: string) => ["org", orgId, "sandbox", providerId, sandboxId],
} as const;

/** The personal organization of a user has a stable id derived from the user id. */
export function personalOrgId(userId: string): string {
  return `personal-${userId}`;
}
