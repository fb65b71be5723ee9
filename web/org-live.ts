import { useEffect, useRef, useState } from "preact/hooks";
import type { KilnClient } from "../shared/client.js";
import type { OrgSummary } from "../shared/schemas/org.js";
import type { Repo, RuntimeIssue, TaskPage, TaskSummary } from "../shared/schemas/task.js";
import type { WorkerView } from "../shared/schemas/worker.js";
import { errorMessage } from "./errors.js";

/** One organization as the page sees it: read once when the subscription opens, then kept by its events. */
export interface OrgState {
  /** The subscription is open; false while it reconnects (the page then says it is offline). */
  online: boolean;
  /** The first read is done. */
  loaded: boolean;
  /** Why the organization could not be read (a refusal for non-members), in Kiln's words. */
  error: string | null;
  org: OrgSummary | null;
  tasks: TaskSummary[];
  issues: RuntimeIssue[];
  workers: WorkerView[];
  repos: Repo[];
  /** Task ids this user has something unread on (their own marks only). */
  unread: ReadonlySet<string>;
  /** Where the next page of older tasks starts; null when every task is shown. */
  nextCursor: string | null;
  /** Older pages were loaded: a re-read of the first page leaves `nextCursor` where they ended. */
  olderLoaded: boolean;
}

const EMPTY: OrgState = { online: false, loaded: false, error: null, org: null, tasks: [], issues: [], workers: [], repos: [], unread: new Set(), nextCursor: null, olderLoaded: false };

/** Tasks per page: the first page is read on every (re)connect, older ones when asked for. */
const PAGE = 200;

const byNewest = (a: TaskSummary, b: TaskSummary) => b.createdAt.localeCompare(a.createdAt) || b.id.localeCompare(a.id);

function upsert<T>(list: T[], item: T, same: (a: T) => boolean): T[] {
  const i = list.findIndex(same);
  if (i < 0) return [...list, item];
  const next = list.slice();
  next[i] = item;
  return next;
}

export interface OrgLive extends OrgState {
  /** Reflect a write this page made at once (its event follows and agrees). */
  putRepo(repo: Repo): void;
  putTask(task: TaskSummary): void;
  putWorker(view: WorkerView): void;
  dropWorker(id: string): void;
  setIssues(issues: RuntimeIssue[]): void;
  /** Reads the next page of older tasks; they stay live through the same subscription. */
  loadOlder(): Promise<void>;
}

export function useOrgLive(client: KilnClient, orgId: string): OrgLive {
  const [state, setState] = useState<OrgState>(EMPTY);
  const stateRef = useRef(state);
  stateRef.current = state;
  const loadOlderRef = useRef<() => Promise<void>>(async () => undefined);
  useEffect(() => {
    setState(EMPTY);
    let stopped = false;
    const patch = (f: (s: OrgState) => Partial<OrgState>) => {
      if (!stopped) setState((s) => ({ ...s, ...f(s) }));
    };
    // Events are not replayed across a reconnect: read everything again each time it opens.
    const fail = (err: unknown) => patch(() => ({ loaded: true, error: errorMessage(err) }));
    // When each task's unread mark last came by event, on a counter shared with list reads: a read
    // answered after a newer event must not undo it.
    let clock = 0;
    const markedAt = new Map<string, number>();
    /** Merges one page into the list: a task's newer event beats an older read, and unread marks likewise. */
    const merge = (s: OrgState, page: TaskPage, startedAt: number): Partial<OrgState> => {
      const fresh = new Map<string, TaskSummary>(s.tasks.map((t) => [t.id, t]));
      for (const { unread: _unread, ...t } of page.tasks) {
        const known = fresh.get(t.id);
        if (!known || known.updatedAt <= t.updatedAt) fresh.set(t.id, t);
      }
      const unread = new Set(s.unread);
      for (const t of page.tasks) {
        if ((markedAt.get(t.id) ?? 0) > startedAt) continue;
        if (t.unread) unread.add(t.id);
        else unread.delete(t.id);
      }
      return { tasks: [...fresh.values()].sort(byNewest), unread };
    };
    loadOlderRef.current = async () => {
      const cursor = stateRef.current.nextCursor;
      if (!cursor || stopped) return;
      const startedAt = ++clock;
      const page = await client.listTasks(orgId, { limit: PAGE, cursor });
      patch((s) => ({ ...merge(s, page, startedAt), nextCursor: page.nextCursor, olderLoaded: true }));
    };
    // Each part renders as it arrives: the task list does not wait for the slowest read.
    const read = () => {
      const startedAt = ++clock;
      client.listTasks(orgId, { limit: PAGE }).then(
        // An event that arrived during the read is newer than the page it read.
        (page) => patch((s) => ({ ...merge(s, page, startedAt), loaded: true, nextCursor: s.olderLoaded ? s.nextCursor : page.nextCursor })),
        fail,
      );
      client.getOrg(orgId).then((org) => patch(() => ({ org, error: null })), fail);
      client.listRuntimeIssues(orgId).then((issues) => patch(() => ({ issues })), fail);
      client.listWorkers({ orgId, limit: 50 }).then((workers) => patch(() => ({ workers })), fail);
      client.listRepos(orgId).then((repos) => patch(() => ({ repos })), fail);
    };
    // Read at once rather than after the subscription opens (a round trip later), and again when it
    // opens, for whatever changed in between.
    read();
    const stop = client.subscribeOrganization(orgId, {
      onOpen: () => {
        patch(() => ({ online: true }));
        read();
      },
      onClose: () => patch(() => ({ online: false })),
      // A refused subscription never opens; the REST read then says why, in Kiln's words.
      onError: () => {
        patch(() => ({ online: false }));
        read();
      },
      onOrganization: (org) => patch(() => ({ org })),
      onTaskSummary: (task) =>
        patch((s) => {
          // Repositories have no event of their own: a task on one this page has not seen says to read them.
          if (s.loaded && !s.repos.some((r) => r.id === task.repoId)) void client.listRepos(orgId).then((repos) => patch(() => ({ repos })), () => undefined);
          return { tasks: upsert(s.tasks, task, (t) => t.id === task.id).sort(byNewest) };
        }),
      onRuntimeIssues: (issues) => patch(() => ({ issues })),
      onTaskUnread: ({ taskId, unread }) => {
        markedAt.set(taskId, ++clock);
        patch((s) => {
          const next = new Set(s.unread);
          if (unread) next.add(taskId);
          else next.delete(taskId);
          return { unread: next };
        });
      },
      onWorker: (view) => patch((s) => ({ workers: upsert(s.workers, view, (w) => w.worker.id === view.worker.id) })),
      onWorkerDeleted: (id) => patch((s) => ({ workers: s.workers.filter((w) => w.worker.id !== id) })),
    });
    return () => {
      stopped = true;
      void stop();
    };
  }, [client, orgId]);

  return {
    ...state,
    putRepo: (repo) => setState((s) => ({ ...s, repos: upsert(s.repos, repo, (r) => r.id === repo.id) })),
    putTask: (task) =>
      setState((s) => {
        const known = s.tasks.find((t) => t.id === task.id);
        return known && known.updatedAt >= task.updatedAt ? s : { ...s, tasks: upsert(s.tasks, task, (t) => t.id === task.id).sort(byNewest) };
      }),
    putWorker: (view) => setState((s) => ({ ...s, workers: upsert(s.workers, view, (w) => w.worker.id === view.worker.id) })),
    dropWorker: (id) => setState((s) => ({ ...s, workers: s.workers.filter((w) => w.worker.id !== id) })),
    setIssues: (issues) => setState((s) => ({ ...s, issues })),
    loadOlder: () => loadOlderRef.current(),
  };
}
