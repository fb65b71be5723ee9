import type { TaskSummary, TaskView } from "../../shared/schemas/task.js";
import { until } from "./poll.js";
import type { Transport } from "./http.js";

export interface ApiResult<T = Record<string, unknown>> {
  status: number;
  body: T;
}

/** A signed-in user's view of Kiln's REST API. */
export function api(t: Transport, token: string) {
  const call = async <T>(method: string, path: string, body?: unknown): Promise<ApiResult<T>> => {
    const headers: Record<string, string> = { authorization: `Bearer ${token}` };
    if (body !== undefined) headers["content-type"] = "application/json";
    const res = await t.request(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    // A 204 has no body; its `body` is then an empty object.
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : {}) as T };
  };
  return {
    get: <T = Record<string, unknown>>(path: string) => call<T>("GET", path),
    post: <T = Record<string, unknown>>(path: string, body?: unknown) => call<T>("POST", path, body),
    put: <T = Record<string, unknown>>(path: string, body?: unknown) => call<T>("PUT", path, body),
    patch: <T = Record<string, unknown>>(path: string, body?: unknown) => call<T>("PATCH", path, body),
    del: <T = Record<string, unknown>>(path: string) => call<T>("DELETE", path),

    async addRepo(orgId: string, remoteUrl: string): Promise<string> {
      const r = await call<{ repo: { id: string } }>("POST", `/v1/orgs/${orgId}/repos`, { remoteUrl });
      if (r.status !== 201 && r.status !== 200) throw new Error(`add repo: ${r.status} ${JSON.stringify(r.body)}`);
      return r.body.repo.id;
    },

    async createTask(orgId: string, body: Record<string, unknown>): Promise<TaskSummary> {
      const r = await call<{ task: TaskSummary }>("POST", `/v1/orgs/${orgId}/tasks`, body);
      if (r.status !== 202) throw new Error(`create task: ${r.status} ${JSON.stringify(r.body)}`);
      return r.body.task;
    },

    /** Waits until the task leaves `starting`, and returns its view. */
    async settled(orgId: string, taskId: string): Promise<TaskView> {
      const r = await until(
        () => call<TaskView>("GET", `/v1/orgs/${orgId}/tasks/${taskId}`),
        (v) => v.status === 200 && v.body.task.lifecycle.state !== "starting",
      );
      return r.body;
    },
  };
}
