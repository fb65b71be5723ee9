import { actor, event, queue, UserError } from "rivetkit";
import { workflow } from "rivetkit/workflow";
import { isValidBranchName } from "../../shared/branch.js";
import { SessionIdSchema, type BranchHead, type TaskDetail, type TaskView, type Workbench } from "../../shared/schemas/task.js";
import { ACTOR_ERRORS, authorizeOrgChild, internalOnly, type Caller } from "../auth.js";
import type { Registry } from "../registry.js";
import { lockVars } from "../lock.js";
import { reportRuntimeIssue } from "../runtime-issues.js";
import { actorServices } from "../services.js";
import type { SessionSummary } from "../../shared/schemas/session.js";
import type { PullRequestRef } from "../../shared/schemas/github.js";
import { renameBranch } from "./branch.js";
import { appendHistory, publishTask, taskExec } from "./publish.js";
import { sandboxGit } from "../sandbox/git.js";
import { finishTurn, openSession } from "./sessions.js";
import { initialTaskState, taskView, type TaskCommand, type TaskInput, type TaskState } from "./state.js";
import { runTaskCommand } from "./workflow.js";
import { pushUnread } from "./unread.js";
import { own } from "../../shared/records.js";

function invalid(message: string): UserError {
  return new UserError(message, { code: ACTOR_ERRORS.invalidRequest });
}

function conflict(message: string): UserError {
  return new UserError(message, { code: ACTOR_ERRORS.conflict });
}

function sessionId(raw: unknown): string {
  const parsed = SessionIdSchema.safeParse(raw);
  if (!parsed.success) throw invalid(`Invalid session id: ${parsed.error.issues[0]?.message ?? "bad format"}`);
  return parsed.data;
}

/**
 * TaskActor, key ["org", orgId, "repo", repoId, "task", taskId]: one branch. It owns the task's
 * lifecycle, references its sandbox by identity, keeps each member's own workbench state, and
 * pushes its summary up to the OrganizationActor on every change.
 */
export const task = actor({
  createState: (_c, input: TaskInput | undefined): TaskState => initialTaskState(input),
  createConnState: (c, params: unknown): Promise<Caller> => authorizeOrgChild(c.state.orgId, params, c),
  /** The task's lock: branch renames, session opens, turn ends and sandbox teardown run one at a time. */
  createVars: lockVars,
  // Every change, from an action or a workflow step, drops the gateway's cached views of the task.
  onStateChange: (c) => {
    if (c.state.orgId) actorServices().taskChanged(c.state.orgId, c.state.taskId);
  },
  events: {
    taskUpdated: event<TaskDetail>(),
    /** Sent only to the connections of the user it belongs to. */
    workbenchUpdated: event<Workbench>(),
  },
  queues: {
    commands: queue<TaskCommand>({ canPublish: internalOnly }),
  },
  run: workflow(
    async (ctx) => {
      await ctx.loop("commands", async (loop) => {
        const msg = await loop.queue.next("wait-command", { names: ["commands"] });
        await runTaskCommand(loop, msg.body);
      });
    },
    {
      onError: (c, event): Promise<void> =>
        reportRuntimeIssue(c.client<Registry>(), { orgId: c.state.orgId, actorType: "task", actorId: c.actorId, scope: `task:${c.state.taskId}` }, event),
    },
  ),
  actions: {
    /**
     * Kiln-internal (the org's spawn): gives the task its identity if it has none. RivetKit 2.2.1's
     * file-system driver writes an actor's existence before its creation input, so a kill -9 in
     * between leaves an actor with no input; the org's next spawn repairs it from the index row.
     */
    adopt: async (c, input: TaskInput): Promise<void> => {
      if (!c.conn.state.internal) throw new UserError("This action is internal to Kiln.", { code: ACTOR_ERRORS.forbidden });
      if (c.state.orgId !== null) return;
      Object.assign(c.state, initialTaskState(input));
      await c.saveState({ immediate: true });
    },

    /** The task and the caller's own workbench state. */
    view: (c): TaskView => taskView(c.state, c.conn.state.userId),

    rename: async (c, title: string): Promise<TaskView> => {
      const next = typeof title === "string" ? title.trim() : "";
      if (!next || next.length > 200) throw invalid("A title is 1 to 200 characters.");
      if (next !== c.state.title) {
        c.state.title = next;
        await publishTask(c);
        await appendHistory(c, "named", `Renamed to "${next}"`, c.conn.state.userId);
      }
      return taskView(c.state, c.conn.state.userId);
    },

    /**
     * Renames the branch with git in the task's working copy, after reserving the name in the
     * org's index. Locked: parallel renames run one after another, each against the branch the
     * previous one left.
     */
    renameBranch: (c, name: string): Promise<TaskView> => {
      if (typeof name !== "string" || !isValidBranchName(name)) throw invalid(`"${String(name)}" is not a valid git branch name.`);
      return c.vars.lock.run(() => renameBranch(c, name, c.conn.state.userId));
    },

    archive: async (c): Promise<TaskView> => {
      if (c.state.lifecycle.state === "archived") throw conflict("The task is already archived.");
      await c.queue.send("commands", { type: "archive", by: c.conn.state.userId });
      return taskView(c.state, c.conn.state.userId);
    },

    /** Stops provisioning at the next step boundary, destroys the sandbox and marks the task killed. */
    kill: async (c): Promise<TaskView> => {
      if (c.state.lifecycle.phase === "killed") return taskView(c.state, c.conn.state.userId);
      c.state.killed = true;
      await c.saveState({ immediate: true });
      await c.queue.send("commands", { type: "kill", by: c.conn.state.userId });
      return taskView(c.state, c.conn.state.userId);
    },

    setDraft: (c, rawSessionId: string, text: string) => updateWorkbench(c, sessionId(rawSessionId), { draft: String(text ?? "") }),
    // A read or unread mark can change the task's dot in the org's list: the set goes up (unread.ts).
    markRead: async (c, rawSessionId: string) => {
      const wb = await updateWorkbench(c, sessionId(rawSessionId), { unread: false });
      await pushUnread(c);
      return wb;
    },
    markUnread: async (c, rawSessionId: string) => {
      const wb = await updateWorkbench(c, sessionId(rawSessionId), { unread: true });
      await pushUnread(c);
      return wb;
    },

    /** Opens an agent session in the task's sandbox (closing the active one); provisions in the background. */
    openSession: (c, body: unknown): Promise<SessionSummary> => {
      const userId = c.conn.state.userId;
      if (!userId) throw invalid("Sessions are opened by a user.");
      return c.vars.lock.run(() => openSession(c, userId, body));
    },

    /**
     * Kiln-internal (GitHubStateActor): the branch's pull request changed. A merged or closed one
     * archives the task, with the reason in its lifecycle message.
     */
    recordPullRequest: async (c, pr: PullRequestRef): Promise<void> => {
      if (!c.conn.state.internal) throw new UserError("This action is internal to Kiln.", { code: ACTOR_ERRORS.forbidden });
      c.state.pullRequest = pr;
      await publishTask(c);
      if (pr.state !== "open" && c.state.lifecycle.state !== "archived") {
        const reason = `Pull request #${pr.number} ${pr.state === "merged" ? "merged" : "closed without merging"}`;
        await c.queue.send("commands", { type: "archive", by: null, reason });
      }
    },

    /**
     * Kiln-internal (GitHubStateActor): a push moved (or deleted) the branch on GitHub. Deliveries
     * are processed in order per org, so the last one applied is the newest push.
     */
    recordBranchHead: async (c, head: BranchHead): Promise<void> => {
      if (!c.conn.state.internal) throw new UserError("This action is internal to Kiln.", { code: ACTOR_ERRORS.forbidden });
      if (c.state.branchHead?.sha === head.sha && c.state.branchHead.pushedAt === head.pushedAt) return;
      c.state.branchHead = { sha: head.sha, pushedAt: head.pushedAt, pusher: head.pusher };
      // Saved before answering: the GitHubStateActor marks the delivery processed once this returns.
      await c.saveState({ immediate: true });
      await publishTask(c);
    },

    /**
     * Kiln-internal (GitHubStateActor): pushes the task branch to its GitHub repository, with the
     * installation's token for that one git command. Returns the branch pushed.
     */
    pushBranch: async (c, opts: { installationId: number }): Promise<{ branch: string; title: string; prompt: string }> => {
      if (!c.conn.state.internal) throw new UserError("This action is internal to Kiln.", { code: ACTOR_ERRORS.forbidden });
      return c.vars.lock.run(async () => {
        if (c.state.lifecycle.state !== "ready") throw new UserError("The task is not ready: push its branch once it is.", { code: ACTOR_ERRORS.conflict });
        const github = actorServices().github;
        const token = github ? await github.app.installationToken(opts.installationId) : undefined;
        await sandboxGit.push(taskExec(c), c.state.branch, token);
        return { branch: c.state.branch, title: c.state.title, prompt: c.state.prompt };
      });
    },

    /** Kiln-internal: a TaskSessionActor reports the end of a turn sent by `senderId`. */
    turnFinished: async (c, sessionId: string, senderId: string): Promise<void> => {
      if (!c.conn.state.internal) throw new UserError("This action is internal to Kiln.", { code: ACTOR_ERRORS.forbidden });
      await c.vars.lock.run(async () => {
        await finishTurn(c, sessionId, senderId, (userId) => {
          const wb = c.state.workbench[userId];
          if (!wb) return;
          for (const conn of c.conns.values()) if ((conn.state as Caller | undefined)?.userId === userId) conn.send("workbenchUpdated", wb);
        });
        await pushUnread(c);
      });
    },
  },
});

interface WorkbenchContext {
  state: TaskState;
  conn: { state: Caller };
  conns: Map<string, { state: unknown; send(name: "workbenchUpdated", wb: Workbench): void }>;
  saveState(opts: { immediate: boolean }): Promise<void>;
}

async function updateWorkbench(c: WorkbenchContext, id: string, change: { draft?: string; unread?: boolean }): Promise<Workbench> {
  const userId = c.conn.state.userId;
  if (!userId) throw invalid("Workbench state belongs to a user.");
  const mine = (c.state.workbench[userId] ??= { sessions: {} });
  const prev = own(mine.sessions, id) ?? { draft: "", unread: false, updatedAt: "" };
  mine.sessions[id] = { ...prev, ...change, updatedAt: new Date().toISOString() };
  await c.saveState({ immediate: true });
  for (const conn of c.conns.values()) {
    if ((conn.state as Caller | undefined)?.userId === userId) conn.send("workbenchUpdated", mine);
  }
  return mine;
}
