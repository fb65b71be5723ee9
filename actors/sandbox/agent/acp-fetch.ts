/**
 * A `fetch` wrapper for `SandboxAgent.connect({ fetch })` that turns ACP
 * transport failures into JSON-RPC errors.
 *
 * Why (sandbox-agent SDK 0.4.2 + acp-http-client 0.4.2 + @agentclientprotocol/sdk 0.16.1,
 * verified, see docs/sandbox-agent.md "Failure modes"):
 *   - If a POST to `/v1/acp/{serverId}` fails (agent process exited -> 500
 *     `agent_process_exited`, dead agent -> 502 `stream_error`, server gone ->
 *     `fetch failed`), acp-http-client errors its readable stream. The ACP SDK's
 *     receive loop then rejects with nobody listening: an **unhandledRejection
 *     that kills the Node process** by default. The pending `session.prompt()`
 *     never settles, and every later call on that connection hangs silently.
 *   - When the agent process dies mid-turn, the in-flight prompt POST only fails
 *     after the server's ACP request timeout (default 120 s, env
 *     `SANDBOX_AGENT_ACP_REQUEST_TIMEOUT_MS`), although the SSE stream reports
 *     `_adapter/agent_exited` at once.
 *
 * This wrapper (only for `/v1/acp/*`; other calls pass through untouched):
 *   - answers a failed POST of a JSON-RPC *request* with a synthetic 200
 *     JSON-RPC error response (code -32603, `data.problem` = server problem
 *     details or the network error), so the SDK call rejects with `AcpRpcError`
 *     instead of hanging; failed notifications (e.g. `session/cancel`) become 202;
 *   - taps the SSE stream and, on `_adapter/agent_exited`, immediately answers
 *     all in-flight requests of that ACP server the same way and calls
 *     `onAgentExit`.
 * After an agent exit the SDK's live connection for that agent is dead: call
 * `sdk.dispose()`, connect a new `SandboxAgent` with the same `persist` driver
 * and `resumeSession(id)` (spawns a new agent process, replays history).
 */

/** Information about an agent process that exited, from `_adapter/agent_exited`. */
export interface AcpAgentExit {
  /** ACP server id (the `{serverId}` in `/v1/acp/{serverId}`; SDK uses `sdk-<agent>-<uuid>`). */
  serverId: string;
  /** Process exit code, `null` when killed by a signal or unknown. */
  code: number | null;
  success: boolean;
}

/** A transport failure that was converted into a JSON-RPC error (or a 202 for notifications). */
export interface AcpTransportFailure {
  serverId: string;
  /** JSON-RPC method of the failed message, if any. */
  method: string | null;
  /** JSON-RPC id of the failed request, `null` for notifications/responses. */
  id: string | number | null;
  /** HTTP status of the failed response, `null` for network errors and agent exits. */
  status: number | null;
  message: string;
}

export interface AcpFetchOptions {
  /** Underlying fetch. Default: `globalThis.fetch`. */
  fetch?: typeof fetch;
  /** Called when the SSE stream of an ACP server reports that its agent process exited. */
  onAgentExit?: (exit: AcpAgentExit) => void;
  /** Called for every ACP POST failure that was converted. */
  onTransportFailure?: (failure: AcpTransportFailure) => void;
}

/** JSON-RPC error code used for synthetic errors (JSON-RPC "internal error"). */
export const ACP_TRANSPORT_ERROR_CODE = -32603;

type JsonRpcId = string | number;

interface Pending {
  id: JsonRpcId;
  method: string | null;
  settle: (response: Response) => void;
}

const ACP_PATH = /\/v1\/acp\/([^/]+)\/?$/;

function requestUrl(input: RequestInfo | URL): string {
  if (typeof input === "string") return input;
  if (input instanceof URL) return input.href;
  return input.url;
}

function requestMethod(input: RequestInfo | URL, init: RequestInit | undefined): string {
  return (init?.method ?? (input instanceof Request ? input.method : "GET")).toUpperCase();
}

function parseEnvelope(body: BodyInit | null | undefined): { id: JsonRpcId | null; method: string | null } {
  if (typeof body !== "string") return { id: null, method: null };
  try {
    const parsed: unknown = JSON.parse(body);
    if (typeof parsed !== "object" || parsed === null) return { id: null, method: null };
    const rec = parsed as Record<string, unknown>;
    const method = typeof rec.method === "string" ? rec.method : null;
    const id = typeof rec.id === "string" || typeof rec.id === "number" ? rec.id : null;
    // Only requests (method + id) expect a response; client responses (id, no method) do not.
    return { id: method ? id : null, method };
  } catch {
    return { id: null, method: null };
  }
}

function errorResponse(id: JsonRpcId | null, message: string, problem: unknown): Response {
  if (id === null) return new Response(null, { status: 202 });
  const body = { jsonrpc: "2.0", id, error: { code: ACP_TRANSPORT_ERROR_CODE, message, data: { problem } } };
  return new Response(JSON.stringify(body), { status: 200, headers: { "content-type": "application/json" } });
}

async function readProblem(res: Response): Promise<unknown> {
  const text = await res.text().catch(() => "");
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return { status: res.status, body: text };
  }
}

function problemMessage(problem: unknown, fallback: string): string {
  if (typeof problem === "object" && problem !== null) {
    const p = problem as Record<string, unknown>;
    if (typeof p.detail === "string") return p.detail;
    if (typeof p.title === "string") return p.title;
  }
  return fallback;
}

/** Create the wrapper. Pass the result as `fetch` to `SandboxAgent.connect`. */
export function createAcpFetch(options: AcpFetchOptions = {}): typeof fetch {
  const base: typeof fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  const inflight = new Map<string, Set<Pending>>();

  const agentExited = (exit: AcpAgentExit): void => {
    const pending = inflight.get(exit.serverId);
    if (pending) {
      const message = `agent process exited${exit.code === null ? "" : ` (code ${exit.code})`}`;
      for (const p of [...pending]) {
        options.onTransportFailure?.({ serverId: exit.serverId, method: p.method, id: p.id, status: null, message });
        p.settle(errorResponse(p.id, message, { type: "agent_exited", ...exit }));
      }
    }
    options.onAgentExit?.(exit);
  };

  const tapSse = (serverId: string, body: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> => {
    const decoder = new TextDecoder();
    let buffer = "";
    return body.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          controller.enqueue(chunk);
          buffer += decoder.decode(chunk, { stream: true }).replace(/\r\n/g, "\n");
          let sep = buffer.indexOf("\n\n");
          while (sep !== -1) {
            const event = buffer.slice(0, sep);
            buffer = buffer.slice(sep + 2);
            sep = buffer.indexOf("\n\n");
            if (!event.includes("_adapter/agent_exited")) continue;
            const data = event
              .split("\n")
              .filter((l) => l.startsWith("data:"))
              .map((l) => l.slice(5).trimStart())
              .join("\n");
            try {
              const msg = JSON.parse(data) as { method?: unknown; params?: { code?: unknown; success?: unknown } };
              if (msg.method !== "_adapter/agent_exited") continue;
              agentExited({
                serverId,
                code: typeof msg.params?.code === "number" ? msg.params.code : null,
                success: msg.params?.success === true,
              });
            } catch {
              // not JSON: ignore
            }
          }
        },
      }),
    );
  };

  const wrapped = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const url = requestUrl(input);
    const match = ACP_PATH.exec(new URL(url).pathname);
    if (!match?.[1]) return base(input, init);
    const serverId = decodeURIComponent(match[1]);
    const method = requestMethod(input, init);

    if (method === "GET") {
      const res = await base(input, init);
      if (!res.ok || !res.body) return res;
      return new Response(tapSse(serverId, res.body), {
        status: res.status,
        statusText: res.statusText,
        headers: res.headers,
      });
    }
    if (method !== "POST") return base(input, init);

    const envelope = parseEnvelope(init?.body);
    let answered = false; // set once an agent exit answered this request; late failures are then not reported
    const fail = (status: number | null, message: string, problem: unknown): Response => {
      if (!answered) options.onTransportFailure?.({ serverId, method: envelope.method, id: envelope.id, status, message });
      return errorResponse(envelope.id, message, problem);
    };
    const real = base(input, init).then(
      async (res) => {
        if (res.ok) return res;
        const problem = await readProblem(res);
        return fail(res.status, problemMessage(problem, `HTTP ${res.status}`), problem);
      },
      (error: unknown) => {
        if (init?.signal?.aborted) throw error;
        const message = error instanceof Error ? `${error.message}${error.cause instanceof Error ? `: ${error.cause.message}` : ""}` : String(error);
        return fail(null, message, { type: "network_error", message });
      },
    );
    if (envelope.id === null) return real;

    let settle: (response: Response) => void = () => {};
    const exited = new Promise<Response>((resolve) => {
      settle = (response) => {
        answered = true;
        resolve(response);
      };
    });
    const entry: Pending = { id: envelope.id, method: envelope.method, settle };
    const set = inflight.get(serverId) ?? new Set<Pending>();
    set.add(entry);
    inflight.set(serverId, set);
    real.catch(() => {}); // if the exit wins the race, the late real result is dropped
    try {
      return await Promise.race([real, exited]);
    } finally {
      set.delete(entry);
      if (set.size === 0) inflight.delete(serverId);
    }
  };
  return wrapped as typeof fetch;
}
