import { useState } from "preact/hooks";
import type { KilnClient } from "../../shared/client.js";
import type { GitHubOrgSummary } from "../../shared/schemas/github.js";
import type { DiffSummary, TaskDetail } from "../../shared/schemas/task.js";
import { ErrorText, useAction, submitWith } from "../errors.js";
import type { OrgLive } from "../org-live.js";
import { href, navigate } from "../route.js";
import { useTaskLive } from "../task-live.js";
import { RuntimeIssuesBanner } from "./issues.js";
import { SessionPane } from "./session.js";
import { PhaseBadge, PullRequestBadge, TaskList } from "./tasks.js";

interface Props {
  client: KilnClient;
  live: OrgLive;
  orgId: string;
  taskId: string;
  sessionId?: string;
}

export function TaskView({ client, live, orgId, taskId, sessionId }: Props) {
  const summary = live.tasks.find((t) => t.id === taskId);
  const t = useTaskLive(client, orgId, taskId, summary?.repoId);
  const task = t.task;
  return (
    <div class="org">
      <RuntimeIssuesBanner client={client} live={live} orgId={orgId} />
      <div class="columns task-layout">
        <nav class="card task-nav" aria-label="All tasks">
          <h2>
            <a href={href.org(orgId)}>Tasks</a>
          </h2>
          <TaskList live={live} orgId={orgId} selected={taskId} />
        </nav>
        <section class="card task" aria-label="Task">
          {!task ? (
            t.error ? <p class="error" role="alert">{t.error}</p> : <p class="muted">Loading task…</p>
          ) : (
            <>
              <TaskHeader client={client} orgId={orgId} task={task} onTask={t.setTask} github={live.repos.find((r) => r.id === task.repoId)?.source === "github" ? (live.org?.github ?? null) : undefined} />
              <DiffView diff={task.diff} />
              <Sessions client={client} orgId={orgId} task={task} unread={(id) => Boolean(t.workbench.sessions[id]?.unread)} selected={sessionId} />
              {sessionId && (
                <SessionPane
                  key={sessionId}
                  client={client}
                  orgId={orgId}
                  task={task}
                  sessionId={sessionId}
                  workbench={t.workbench.sessions[sessionId]}
                  onWorkbench={t.setWorkbench}
                  members={live.org?.members ?? []}
                />
              )}
            </>
          )}
        </section>
      </div>
    </div>
  );
}

/** `github`: the org's GitHub connection when the task's repository is on GitHub (undefined otherwise). */
function TaskHeader(props: { client: KilnClient; orgId: string; task: TaskDetail; onTask(t: TaskDetail): void; github?: GitHubOrgSummary | null }) {
  const { client, orgId, task, onTask } = props;
  const [branch, setBranch] = useState("");
  const rename = useAction(async () => {
    onTask((await client.renameBranch(orgId, task.id, branch)).task);
    setBranch("");
  });
  const archive = useAction(async () => onTask((await client.archiveTask(orgId, task.id)).task));
  const done = task.lifecycle.state === "archived" || task.killed;
  return (
    <header class="task-head">
      <h1>{task.title}</h1>
      <p class="meta">
        <PhaseBadge task={task} /> <span>Branch</span> <code class="branch" data-testid="branch">{task.branch}</code>{" "}
        {task.pullRequest && (
          <a href={task.pullRequest.url} target="_blank" rel="noreferrer">
            <PullRequestBadge pr={task.pullRequest} />
          </a>
        )}
        {task.branchHead && (
          <span class="muted" data-testid="branch-head">
            {task.branchHead.sha ? `on GitHub at ${task.branchHead.sha.slice(0, 7)}` : "deleted on GitHub"}
            {task.branchHead.pusher ? ` by ${task.branchHead.pusher}` : ""}
          </span>
        )}
      </p>
      {task.lifecycle.message && (
        <p class="error" role="alert">
          {task.lifecycle.message}
        </p>
      )}
      <p class="prompt">{task.prompt}</p>
      <div class="row wrap">
        <form
          class="row"
          onSubmit={submitWith(rename.run)}
        >
          <input aria-label="New branch name" placeholder="new-branch-name" value={branch} onInput={(e) => setBranch(e.currentTarget.value)} required disabled={done} />
          <button type="submit" disabled={rename.busy || done}>
            Rename branch
          </button>
        </form>
        <button type="button" onClick={() => void archive.run()} disabled={archive.busy || done}>
          Archive task
        </button>
        {props.github !== undefined && <PullRequestButton client={client} orgId={orgId} task={task} github={props.github} onTask={onTask} />}
      </div>
      <ErrorText error={rename.error ?? archive.error} />
    </header>
  );
}

/**
 * "Open a pull request", for a task on a repository of the org's GitHub App installation while the
 * connection works (the org's summary carries its state, live). Once the task has an open pull
 * request, its badge (above) is the link instead. An error stays shown even when the connection's
 * state changes with it (a refused installation turns it `reconnect_required`).
 */
function PullRequestButton({ client, orgId, task, github, onTask }: { client: KilnClient; orgId: string; task: TaskDetail; github: GitHubOrgSummary | null; onTask(t: TaskDetail): void }) {
  const open = useAction(async () => {
    const pullRequest = await client.openPullRequest(orgId, task.id);
    // The task's own event follows with the same pull request.
    onTask({ ...task, pullRequest });
  });
  if (!github) return null;
  const works = github.status === "connected" || github.status === "syncing";
  return (
    <>
      {!works ? (
        <span class="muted" data-testid="github-status">
          GitHub connection: {github.status.replace(/_/g, " ")}
        </span>
      ) : (
        task.pullRequest?.state !== "open" && (
          <button type="button" onClick={() => void open.run()} disabled={open.busy || task.lifecycle.state !== "ready" || task.killed}>
            Open a pull request
          </button>
        )
      )}
      <ErrorText error={open.error} />
    </>
  );
}

function DiffView({ diff }: { diff: DiffSummary | null }) {
  return (
    <section aria-label="Diff summary" class="diff">
      <h2>Changes</h2>
      {!diff || diff.filesChanged === 0 ? (
        <p class="muted">No changes on this branch yet.</p>
      ) : (
        <>
          <p>
            {diff.commits} {diff.commits === 1 ? "commit" : "commits"}, {diff.filesChanged} {diff.filesChanged === 1 ? "file" : "files"} changed,{" "}
            <span class="ins">+{diff.insertions}</span> <span class="del">−{diff.deletions}</span>
          </p>
          <ul class="files">
            {diff.files.map((f) => (
              <li key={f.path}>
                <code>{f.path}</code> <span class="ins">+{f.insertions}</span> <span class="del">−{f.deletions}</span>
              </li>
            ))}
          </ul>
        </>
      )}
    </section>
  );
}

function Sessions({ client, orgId, task, unread, selected }: { client: KilnClient; orgId: string; task: TaskDetail; unread(id: string): boolean; selected?: string }) {
  const open = useAction(async () => {
    const s = await client.openSession(orgId, task.id, { agent: "mock" });
    navigate(href.session(orgId, task.id, s.id));
  });
  const ready = task.lifecycle.state === "ready";
  return (
    <section aria-label="Sessions" class="sessions">
      <h2>Agent sessions</h2>
      <ul class="tabs" aria-label="Session list">
        {task.sessions.map((s) => (
          <li key={s.id}>
            <a href={href.session(orgId, task.id, s.id)} aria-current={s.id === selected ? "page" : undefined} data-unread={unread(s.id) ? "true" : "false"}>
              {s.name} <span class="muted">({s.agent}{s.closed ? ", closed" : ""})</span>
              {unread(s.id) && (
                <span class="dot" role="img" aria-label="unread">
                  ●
                </span>
              )}
            </a>
          </li>
        ))}
      </ul>
      <button type="button" onClick={() => void open.run()} disabled={open.busy || !ready}>
        Open session
      </button>
      <ErrorText error={open.error} />
    </section>
  );
}
