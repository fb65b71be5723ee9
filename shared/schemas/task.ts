import { z } from "zod";
import { PullRequestRefSchema } from "./github.js";
import { isValidBranchName } from "../branch.js";
import { isRecordKey } from "../records.js";
import { text } from "./text.js";

export const RepoSchema = z
  .object({
    id: z.string(),
    remoteUrl: z.string(),
    name: z.string(),
    defaultBranch: z.string().nullable(),
    createdBy: z.string(),
    createdAt: z.string(),
    source: z.enum(["git", "github"]).optional().meta({ description: "`github`: from the org's GitHub App installation" }),
    fullName: z.string().nullable().optional().meta({ description: "owner/name on GitHub" }),
    private: z.boolean().nullable().optional(),
  })
  .meta({ id: "Repo" });
export type Repo = z.infer<typeof RepoSchema>;

export const AddRepoBodySchema = z
  .object({
    remoteUrl: text(2048)
      .trim()
      .min(1)
      .meta({ description: "Any git remote: https://, ssh://, git@host:path, file:// or a local path (for development)" }),
  })
  .meta({ id: "AddRepoBody" });

/** Provisioning phases, in order. Real providers (local sandbox-agent, Daytona) report the same ones. */
export const TASK_PHASES = [
  "queued",
  "create-sandbox",
  "start-sandbox",
  "ensure-server",
  "clone-repo",
  "checkout-branch",
  "ready",
  "archived",
  "killed",
] as const;
export const TaskPhaseSchema = z.enum(TASK_PHASES);
export type TaskPhase = z.infer<typeof TaskPhaseSchema>;

export const TaskStateSchema = z.enum(["starting", "ready", "error", "archived"]);
export type TaskState = z.infer<typeof TaskStateSchema>;

export const TaskLifecycleSchema = z
  .object({
    phase: TaskPhaseSchema,
    state: TaskStateSchema,
    label: z.string().meta({ description: "A short human label for the phase" }),
    message: z.string().nullable().meta({ description: "On error, what went wrong in words a user can act on" }),
  })
  .meta({ id: "TaskLifecycle" });
export type TaskLifecycle = z.infer<typeof TaskLifecycleSchema>;

export const TaskSummarySchema = z
  .object({
    id: z.string(),
    repoId: z.string(),
    title: z.string(),
    branch: z.string(),
    lifecycle: TaskLifecycleSchema,
    createdBy: z.string(),
    createdAt: z.string(),
    updatedAt: z.string(),
    pullRequest: PullRequestRefSchema.nullable().optional().meta({ description: "The task's pull request, on GitHub repositories" }),
    revision: z
      .number()
      .int()
      .meta({ description: "Grows with every change; a live event whose revision is not above the last one applied is stale" }),
  })
  .meta({ id: "TaskSummary" });
export type TaskSummary = z.infer<typeof TaskSummarySchema>;

export const ListTasksQuerySchema = z.object({
  repoId: text(64).optional(),
  limit: z.coerce.number().int().min(1).max(1_000).default(200),
  cursor: text(200).optional().meta({ description: "`nextCursor` from the previous page" }),
});
export type ListTasksQuery = z.input<typeof ListTasksQuerySchema>;

/** A task as the list shows it to one user: its summary and whether that user has anything unread on it. */
export const TaskListItemSchema = TaskSummarySchema.extend({
  unread: z.boolean().meta({ description: "You have a session on this task with a turn you have not read (your own mark: other members have theirs)" }),
}).meta({ id: "TaskListItem" });
export type TaskListItem = z.infer<typeof TaskListItemSchema>;

/** One user's unread mark on one task changed; sent only to that user's connections. */
export const TaskUnreadSchema = z
  .object({
    taskId: z.string(),
    unread: z.boolean(),
    revision: z.number().int().meta({ description: "Of the task's unread marks: grows with every change; an older event is stale" }),
  })
  .meta({ id: "TaskUnread" });
export type TaskUnread = z.infer<typeof TaskUnreadSchema>;

export const TaskPageSchema = z
  .object({
    tasks: z.array(TaskListItemSchema),
    nextCursor: z.string().nullable().meta({ description: "Pass as `cursor` for the next page; null on the last page" }),
  })
  .meta({ id: "TaskPage" });
export type TaskPage = z.infer<typeof TaskPageSchema>;

export const SandboxRefSchema = z.object({ provider: z.string(), sandboxId: z.string() }).meta({ id: "SandboxRef" });

export const DiffSummarySchema = z
  .object({
    baseCommit: z.string(),
    commits: z.number().meta({ description: "Commits on the task branch since it was provisioned" }),
    filesChanged: z.number(),
    insertions: z.number(),
    deletions: z.number(),
    files: z.array(z.object({ path: z.string(), insertions: z.number(), deletions: z.number() })),
    computedAt: z.string(),
  })
  .meta({ id: "DiffSummary" });
export type DiffSummary = z.infer<typeof DiffSummarySchema>;

export const TaskSessionRefSchema = z
  .object({ id: z.string(), name: z.string(), agent: z.string(), createdBy: z.string(), createdAt: z.string(), closed: z.boolean() })
  .meta({ id: "TaskSessionRef" });
export type TaskSessionRef = z.infer<typeof TaskSessionRefSchema>;

/** The task branch's head on GitHub, from the last `push` webhook for it. */
export const BranchHeadSchema = z
  .object({
    sha: z.string().nullable().meta({ description: "The commit the branch points at on GitHub; null once the branch was deleted there" }),
    pushedAt: z.string(),
    pusher: z.string().nullable(),
  })
  .meta({ id: "BranchHead" });
export type BranchHead = z.infer<typeof BranchHeadSchema>;

export const TaskDetailSchema = TaskSummarySchema.extend({
  orgId: z.string(),
  prompt: z.string(),
  sandbox: SandboxRefSchema.nullable(),
  killed: z.boolean(),
  activeSessionId: z.string().nullable(),
  sessions: z.array(TaskSessionRefSchema),
  diff: DiffSummarySchema.nullable().meta({ description: "What the branch changed since provisioning; refreshed when a turn ends" }),
  branchHead: BranchHeadSchema.nullable().optional().meta({ description: "On GitHub repositories: the branch's head on GitHub, updated by push webhooks" }),
}).meta({ id: "TaskDetail" });
export type TaskDetail = z.infer<typeof TaskDetailSchema>;

export const SessionWorkbenchSchema = z.object({ draft: z.string(), unread: z.boolean(), updatedAt: z.string() });
export type SessionWorkbench = z.infer<typeof SessionWorkbenchSchema>;

/** One user's own workbench state on one task, keyed by session id. Never shown to other users. */
export const WorkbenchSchema = z
  .object({ sessions: z.record(z.string(), SessionWorkbenchSchema) })
  .meta({ id: "Workbench" });
export type Workbench = z.infer<typeof WorkbenchSchema>;

export const TaskViewSchema = z
  .object({ task: TaskDetailSchema, workbench: WorkbenchSchema })
  .meta({ id: "TaskView" });
export type TaskView = z.infer<typeof TaskViewSchema>;

const branchName = text(200)
  .trim()
  .min(1)
  .refine(isValidBranchName, "is not a valid git branch name")
  .meta({ description: "A git branch name; validated with the rules of `git check-ref-format --branch`" });

export const CreateTaskBodySchema = z
  .object({
    repoId: text(64).min(1),
    prompt: text(20_000).trim().min(1),
    title: text(200).trim().min(1).optional(),
    branch: text(200).trim().min(1).optional().meta({ description: "Sanitized into a valid branch name; suffixed when taken" }),
  })
  .meta({ id: "CreateTaskBody" });
export type CreateTaskBody = z.infer<typeof CreateTaskBodySchema>;

export const RenameTaskBodySchema = z.object({ title: text(200).trim().min(1) }).meta({ id: "RenameTaskBody" });
export const RenameBranchBodySchema = z.object({ name: branchName }).meta({ id: "RenameBranchBody" });
export const DraftBodySchema = z.object({ text: text(100_000) }).meta({ id: "DraftBody" });
export const SessionIdSchema = text(64)
  .regex(/^[A-Za-z0-9_-]{1,64}$/, "must be 1-64 letters, digits, - or _")
  .refine(isRecordKey, "is not a session id");

export const HISTORY_KINDS = ["created", "named", "branch_renamed", "provisioned", "error", "archived", "killed"] as const;
export const HistoryEventSchema = z
  .object({
    id: z.number(),
    taskId: z.string(),
    kind: z.enum(HISTORY_KINDS),
    message: z.string(),
    actorUserId: z.string().nullable(),
    at: z.string(),
  })
  .meta({ id: "HistoryEvent" });
export type HistoryEvent = z.infer<typeof HistoryEventSchema>;
export type HistoryKind = (typeof HISTORY_KINDS)[number];

export const HistoryQuerySchema = z.object({
  taskId: text(64).min(1).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});

export const RuntimeIssueSchema = z
  .object({
    id: z.number(),
    actorType: z.string(),
    actorId: z.string(),
    scope: z.string().meta({ description: "What the actor works on, e.g. task:<id>" }),
    workflow: z.string(),
    step: z.string().nullable(),
    attempt: z.number().nullable(),
    willRetry: z.boolean(),
    message: z.string(),
    occurredAt: z.string(),
    resolvedAt: z.string().nullable(),
  })
  .meta({ id: "RuntimeIssue" });
export type RuntimeIssue = z.infer<typeof RuntimeIssueSchema>;
export type RuntimeIssueReport = Omit<RuntimeIssue, "id" | "resolvedAt">;

export const ClearRuntimeIssuesBodySchema = z.object({ actorId: text(200).min(1).optional() }).meta({ id: "ClearRuntimeIssuesBody" });
