import type { GitHubConnectionStatus, GitHubStatus, GitHubSync } from "../../shared/schemas/github.js";

export interface GitHubStateInput {
  orgId: string;
}

export interface InstallationInfo {
  id: number;
  accountId: number;
  accountLogin: string;
  accountType: string;
  /** The account's avatar and display name (GitHub's `name`, else absent), from the installation and each sync. */
  avatarUrl?: string | null;
  displayName?: string | null;
}

export interface GitHubState {
  /** Null when reached without Kiln's input: such an actor refuses every caller. */
  orgId: string | null;
  installation: InstallationInfo | null;
  status: GitHubConnectionStatus;
  message: string | null;
  sync: GitHubSync;
  /** A sync is queued or running: a second request is refused until it ends. */
  syncPending: boolean;
  /** Deliveries by outcome; `ignoredByEvent`: ignored ones by `event.action` (absent in older state). */
  counts: { processed: number; failed: number; ignored: number; ignoredByEvent?: Record<string, number> };
  /** When processed deliveries older than the retention were last pruned (absent in older state). */
  prunedAt?: number;
  /** The revision of the last status pushed to the OrganizationActor (absent in older state). */
  pushRevision?: number;
}

/** Work for the one workflow loop: a recorded delivery to process, or a full sync. */
export type GitHubWork = { kind: "delivery"; id: string } | { kind: "sync" };

export function initialGitHubState(input: GitHubStateInput | undefined): GitHubState {
  return {
    orgId: input?.orgId ?? null,
    installation: null,
    status: "disconnected",
    message: null,
    sync: { generation: 0, running: false, phase: null, repositories: 0, members: 0, pullRequests: 0, startedAt: null, finishedAt: null, error: null },
    syncPending: false,
    counts: { processed: 0, failed: 0, ignored: 0 },
  };
}

export function statusView(s: GitHubState, pendingMembers: GitHubStatus["pendingMembers"]): GitHubStatus {
  return {
    status: s.status,
    message: s.message,
    installation: s.installation ? { id: s.installation.id, account: { id: s.installation.accountId, login: s.installation.accountLogin, type: s.installation.accountType } } : null,
    sync: { ...s.sync },
    deliveries: { processed: s.counts.processed, failed: s.counts.failed, ignored: s.counts.ignored, ignoredByEvent: { ...s.counts.ignoredByEvent } },
    pendingMembers,
  };
}
