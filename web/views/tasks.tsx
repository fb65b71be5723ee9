import { useState } from "preact/hooks";
import type { KilnClient } from "../../shared/client.js";
import type { PullRequestRef } from "../../shared/schemas/github.js";
import type { TaskSummary } from "../../shared/schemas/task.js";
import { ErrorText, useAction, submitWith } from "../errors.js";
import type { OrgLive } from "../org-live.js";
import { href, navigate } from "../route.js";

export function TaskList({ live, orgId, selected }: { live: OrgLive; orgId: string; selected?: string }) {
  const repoName = (id: string) => live.repos.find((r) => r.id === id)?.name ?? "";
  if (!live.loaded) return <p class="muted">Loading tasks…</p>;
  if (!live.tasks.length) return <p class="muted">No tasks yet. Create one from a prompt.</p>;
  return (
    <>
      <TaskItems live={live} orgId={orgId} selected={selected} repoName={repoName} />
      {live.nextCursor && <OlderTasks live={live} />}
    </>
  );
}

/** Older tasks, a page at a time: the first page is what every (re)connect reads. */
function OlderTasks({ live }: { live: OrgLive }) {
  const older = useAction(() => live.loadOlder());
  return (
    <div class="older">
      <button type="button" onClick={() => void older.run()} disabled={older.busy}>
        Show older tasks
      </button>
      <ErrorText error={older.error} />
    </div>
  );
}

function TaskItems({ live, orgId, selected, repoName }: { live: OrgLive; orgId: string; selected?: string; repoName(id: string): string }) {
  return (
    <ul class="tasks" aria-label="Tasks">
      {live.tasks.map((t) => (
        <li key={t.id} data-task-id={t.id} data-state={t.lifecycle.state} data-unread={live.unread.has(t.id) ? "true" : "false"} class={t.id === selected ? "selected" : undefined}>
          <a href={href.task(orgId, t.id)} aria-current={t.id === selected ? "page" : undefined}>
            <span class="title">
              {t.title}
              {live.unread.has(t.id) && (
                <span class="dot" role="img" aria-label="unread">
                  ●
                </span>
              )}
            </span>
            <span class="meta">
              <PhaseBadge task={t} /> <code class="branch">{t.branch}</code> <span class="muted">{repoName(t.repoId)}</span>
              {t.pullRequest && (
                <>
                  {" "}
                  <PullRequestBadge pr={t.pullRequest} />
                </>
              )}
            </span>
          </a>
        </li>
      ))}
    </ul>
  );
}

/** The task's pull request and its CI state, when it has one (GitHub repositories). */
export function PullRequestBadge({ pr }: { pr: PullRequestRef }) {
  const checks = pr.checks.state === "none" ? "" : pr.checks.state === "failure" ? `, CI failed (${pr.checks.failed}/${pr.checks.total})` : `, CI ${pr.checks.state}`;
  return (
    <span class={`badge pr ${pr.state} ci-${pr.checks.state}`}>
      PR #{pr.number} {pr.draft ? "draft" : pr.state}
      {checks}
    </span>
  );
}

export function PhaseBadge({ task }: { task: Pick<TaskSummary, "lifecycle"> }) {
  const { state, label } = task.lifecycle;
  return <span class={`badge ${state}`}>{state === "ready" ? "Ready" : label}</span>;
}

export function NewTaskForm({ client, live, orgId }: { client: KilnClient; live: OrgLive; orgId: string }) {
  const [repoId, setRepoId] = useState("");
  const [prompt, setPrompt] = useState("");
  const repo = repoId || live.repos[0]?.id || "";
  const create = useAction(async () => {
    const task = await client.createTask(orgId, { repoId: repo, prompt });
    live.putTask(task);
    setPrompt("");
    navigate(href.task(orgId, task.id));
  });
  return (
    <form
      class="card new-task"
      aria-label="New task"
      onSubmit={submitWith(create.run)}
    >
      <h2>New task</h2>
      <label>
        Repository
        <select value={repo} onChange={(e) => setRepoId(e.currentTarget.value)} required>
          {live.repos.map((r) => (
            <option key={r.id} value={r.id}>
              {r.name}
            </option>
          ))}
        </select>
      </label>
      <label>
        Prompt
        <textarea rows={3} value={prompt} onInput={(e) => setPrompt(e.currentTarget.value)} required placeholder="What should the agent do?" />
      </label>
      <ErrorText error={create.error} />
      <button type="submit" class="primary" disabled={create.busy || !repo}>
        Create task
      </button>
    </form>
  );
}
