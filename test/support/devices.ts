import type { Transport } from "./http.js";
import type { api, ApiResult } from "./api.js";

export interface Minted {
  worker_id: string;
  access_token: string;
  platform: string;
}

/** The Mac app's side of Kiln: the worker endpoints, with a device token. */
export function deviceClient(t: Transport, token: string, workerId: string) {
  const call = async <T>(path: string, body?: unknown): Promise<ApiResult<T>> => {
    const res = await t.request(path, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : {}) as T };
  };
  return {
    workerId,
    poll: <T = Record<string, unknown>>(extra: Record<string, unknown> = {}) => call<T>("/api/workers/poll", { worker_id: workerId, ...extra }),
    heartbeat: <T = Record<string, unknown>>(runId: string) => call<T>("/api/workers/heartbeat", { run_id: runId, worker_id: workerId }),
    complete: <T = Record<string, unknown>>(runId: string, body: Record<string, unknown> = {}) =>
      call<T>(`/api/workers/me/runs/${encodeURIComponent(runId)}/complete-watcher`, { worker_id: workerId, ...body }),
    trigger: <T = Record<string, unknown>>(watcherId: string) => call<T>(`/api/workers/me/watchers/${encodeURIComponent(watcherId)}/trigger`),
  };
}

/** Mints a device for the signed-in user and returns its worker client. */
export async function mintDevice(t: Transport, user: ReturnType<typeof api>, body: Record<string, unknown> = { platform: "macos" }) {
  const res = await user.post<Minted>("/v1/devices/mint-token", body);
  if (res.status !== 201) throw new Error(`mint: ${res.status} ${JSON.stringify(res.body)}`);
  return { minted: res.body, device: deviceClient(t, res.body.access_token, res.body.worker_id) };
}
