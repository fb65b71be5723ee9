import { useEffect, useState } from "preact/hooks";
import type { KilnClient } from "../shared/client.js";
import type { TaskDetail, Workbench } from "../shared/schemas/task.js";
import { errorMessage } from "./errors.js";

export interface TaskState {
  task: TaskDetail | null;
  /** This user's own drafts and unread marks; nobody else's ever reaches the page. */
  workbench: Workbench;
  error: string | null;
}

/** A task read once, then kept by its subscription; read again whenever the subscription (re)opens. */
export function useTaskLive(client: KilnClient, orgId: string, taskId: string, repoId: string | undefined) {
  const [state, setState] = useState<TaskState>({ task: null, workbench: { sessions: {} }, error: null });
  const [knownRepo, setKnownRepo] = useState(repoId);
  const repo = repoId ?? knownRepo;

  useEffect(() => {
    setState({ task: null, workbench: { sessions: {} }, error: null });
    setKnownRepo(repoId);
  }, [taskId]);

  useEffect(() => {
    let stopped = false;
    const read = () =>
      client.getTask(orgId, taskId).then(
        (v) => {
          if (stopped) return;
          setKnownRepo(v.task.repoId);
          setState({ task: v.task, workbench: v.workbench, error: null });
        },
        (err: unknown) => !stopped && setState((s) => ({ ...s, error: errorMessage(err) })),
      );
    if (!repo) {
      // A link straight to a task: learn its repository (part of its key) from one read.
      void read();
      return () => {
        stopped = true;
      };
    }
    const stop = client.subscribeTask(
      orgId,
      { id: taskId, repoId: repo },
      {
        onOpen: () => void read(),
        onError: () => void read(),
        onTask: (task) => !stopped && setState((s) => ({ ...s, task })),
        onWorkbench: (workbench) => !stopped && setState((s) => ({ ...s, workbench })),
      },
    );
    return () => {
      stopped = true;
      void stop();
    };
  }, [client, orgId, taskId, repo]);

  return { ...state, setWorkbench: (workbench: Workbench) => setState((s) => ({ ...s, workbench })), setTask: (task: TaskDetail) => setState((s) => ({ ...s, task })) };
}
