import type { PullRequestRef } from "../../shared/schemas/github.js";
import type { BranchHead, DiffSummary, TaskDetail, TaskLifecycle, TaskPhase, TaskSessionRef, TaskSummary, TaskView, Workbench } from "../../shared/schemas/task.js";
import type { SandboxRef } from "../sandbox/provider.js";

/** Given by the OrganizationActor when it creates the task; clients never create tasks directly. */
export interface TaskInput {
  orgId: string;
  repoId: string;
  taskId: string;
  remoteUrl: string;
  title: string;
  branch: string;
  prompt: string;
  createdBy: string;
  sandboxProvider: string;
  /** When the OrganizationActor wrote the task's row: the one createdAt every view shows. */
  createdAt?: string;
}

export interface TaskState extends Omit<TaskInput, "orgId" | "createdAt"> {
  /** Null when reached without Kiln's input: such an actor refuses every caller. */
  orgId: string | null;
  createdAt: string;
  updatedAt: string;
  lifecycle: TaskLifecycle;
  /** Set once the sandbox exists; the task references it, it does not own the provider. */
  sandbox: SandboxRef | null;
  killed: boolean;
  /** Per-user workbench state, keyed by user id. Each user sees only their own. */
  workbench: Record<string, Workbench>;
  /** Every session the task has had; at most one is active. */
  sessions: TaskSessionRef[];
  activeSessionId: string | null;
  /** HEAD when provisioning finished: what the diff summary compares against. */
  baseCommit: string | null;
  diff: DiffSummary | null;
  /** The branch's pull request, pushed by the org's GitHubStateActor (absent in older state). */
  pullRequest?: PullRequestRef | null;
  /** The branch's head on GitHub, from push webhooks (absent in older state and off GitHub). */
  branchHead?: BranchHead | null;
  /** The unread set last pushed to the organization (`actors/task/unread.ts`); absent until the first. */
  unreadPushed?: { users: string[]; revision: number; failed?: boolean };
  /** Of the task's summary and detail (`actors/revision.ts`), bumped by every publish; absent in older state. */
  revision?: number;
}

export type TaskCommand = { type: "provision" } | { type: "archive"; by: string | null; reason?: string } | { type: "kill"; by: string | null };

export const PHASE_LABELS: Record<TaskPhase, string> = {
  queued: "Queued",
  "create-sandbox": "Creating sandbox",
  "start-sandbox": "Starting sandbox",
  "ensure-server": "Starting sandbox server",
  "clone-repo": "Cloning repository",
  "checkout-branch": "Checking out branch",
  ready: "Ready",
  archived: "Archived",
  killed: "Killed",
};

export function initialTaskState(input: TaskInput | undefined): TaskState {
  const now = new Date().toISOString();
  return {
    orgId: input?.orgId ?? null,
    repoId: input?.repoId ?? "",
    taskId: input?.taskId ?? "",
    remoteUrl: input?.remoteUrl ?? "",
    title: input?.title ?? "",
    branch: input?.branch ?? "",
    prompt: input?.prompt ?? "",
    createdBy: input?.createdBy ?? "",
    createdAt: input?.createdAt ?? now,
    updatedAt: now,
    lifecycle: { phase: "queued", state: "starting", label: PHASE_LABELS.queued, message: null },
    sandboxProvider: input?.sandboxProvider ?? "local-git",
    sandbox: null,
    killed: false,
    workbench: {},
    sessions: [],
    activeSessionId: null,
    baseCommit: null,
    diff: null,
  };
}

export function taskSummary(s: TaskState): TaskSummary {
  return {
    id: s.taskId,
    repoId: s.repoId,
    title: s.title,
    branch: s.branch,
    lifecycle: { ...s.lifecycle },
    createdBy: s.createdBy,
    createdAt: s.createdAt,
    updatedAt: s.updatedAt,
    pullRequest: s.pullRequest ?? null,
    revision: s.revision ?? 0,
  };
}

export function taskDetail(s: TaskState): TaskDetail {
  return {
    ...taskSummary(s),
    orgId: s.orgId ?? "",
    prompt: s.prompt,
    sandbox: s.sandbox ? { ...s.sandbox } : null,
    killed: s.killed,
    activeSessionId: s.activeSessionId,
    sessions: s.sessions.map((x) => ({ ...x })),
    diff: s.diff,
    branchHead: s.branchHead ?? null,
  };
}

export function taskView(s: TaskState, userId: string | null): TaskView {
  return { task: taskDetail(s), workbench: (userId && s.workbench[userId]) || { sessions: {} } };
}

/** The sandbox a task uses is derived from the task, so a replayed workflow finds it without step output. */
export function sandboxRefFor(s: TaskState): SandboxRef {
  return { provider: s.sandboxProvider, sandboxId: s.taskId };
}
