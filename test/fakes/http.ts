import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * Shared plumbing for the fake HTTP servers in this folder (Daytona, Render, Polar).
 * Each fake listens on 127.0.0.1 with an ephemeral port, records every request and can be
 * told to fail the next N requests that match a method/path pattern.
 */

export interface RecordedRequest {
  method: string;
  /** Path without the query string, e.g. `/sandbox/abc`. */
  path: string;
  /** Parsed query string. */
  query: Record<string, string>;
  /** Parsed JSON body, the raw string when it is not JSON, or undefined when empty. */
  body: unknown;
  headers: Record<string, string | string[] | undefined>;
  /** The HTTP status the fake answered with (filled in once the response is sent). */
  status?: number;
  at: number;
}

export interface ScriptedFailure {
  /** Method to match (case-insensitive); any when omitted. */
  method?: string;
  /** Path to match: exact string, or a RegExp tested against the path (no query string). */
  path?: string | RegExp;
  /** HTTP status to answer with (default 500). */
  status?: number;
  /** JSON body to answer with (default `{ message: "scripted failure" }`). */
  body?: unknown;
  /** How many matching requests fail (default 1). `Infinity` for "until cleared". */
  times?: number;
  /** Instead of a status: destroy the socket ("reset") or never answer ("hang"). */
  network?: "reset" | "hang";
}

export interface FakeRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  body: unknown;
  raw: IncomingMessage;
  record: RecordedRequest;
}

/** Return this from a handler to leave the request unanswered (until `close()` drops the socket). */
export const HANG: unique symbol = Symbol("hang");

export type Handler = (req: FakeRequest, res: ServerResponse) => void | typeof HANG | Promise<void | typeof HANG>;

export interface BaseFake {
  /** Origin of the fake, e.g. `http://127.0.0.1:41234` (no trailing slash). */
  url: string;
  port: number;
  /** Every request received, in order. */
  requests: RecordedRequest[];
  /** Requests matching method (and optionally a path string/RegExp). */
  requestsTo(method: string, path?: string | RegExp): RecordedRequest[];
  /** Make the next matching request(s) fail. Failures are consumed in the order they were added. */
  failNext(failure: ScriptedFailure): void;
  /** Drop every scripted failure not consumed yet. */
  clearFailures(): void;
  /** Forget recorded requests (not the fake's data). */
  clearRequests(): void;
  /** Exceptions thrown by the fake's own handlers (answered as 500): should stay empty. */
  errors: unknown[];
  close(): Promise<void>;
}

export function sendJson(res: ServerResponse, status: number, body?: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  if (body === undefined || status === 204) {
    res.writeHead(status, headers);
    res.end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text).toString(),
    ...headers,
  });
  res.end(text);
}

export function sendText(res: ServerResponse, status: number, text: string, contentType = "text/plain"): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, { "content-type": contentType, "content-length": Buffer.byteLength(text).toString() });
  res.end(text);
}

function matchesPath(pattern: string | RegExp | undefined, path: string): boolean {
  if (pattern === undefined) return true;
  return typeof pattern === "string" ? pattern === path : pattern.test(path);
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  if (chunks.length === 0) return undefined;
  const text = Buffer.concat(chunks).toString("utf8");
  if (text.length === 0) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export function bearerToken(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  if (typeof header !== "string") return undefined;
  const match = /^Bearer\s+(.+)$/i.exec(header.trim());
  return match?.[1];
}

/**
 * Starts a node:http server on 127.0.0.1:0 around `handler`, with request recording and
 * scripted failures. Handler errors become 500s (and are kept in `errors` for debugging).
 */
export async function startBaseServer(
  handler: Handler,
  opts: { port?: number } = {},
): Promise<BaseFake & { server: Server }> {
  const requests: RecordedRequest[] = [];
  const errors: unknown[] = [];
  let failures: Array<ScriptedFailure & { remaining: number }> = [];

  const server = createServer((raw, res) => {
    void (async () => {
      const url = new URL(raw.url ?? "/", "http://127.0.0.1");
      let body: unknown;
      try {
        body = await readBody(raw);
      } catch {
        body = undefined;
      }
      const record: RecordedRequest = {
        method: (raw.method ?? "GET").toUpperCase(),
        path: url.pathname,
        query: Object.fromEntries(url.searchParams.entries()),
        body,
        headers: raw.headers,
        at: Date.now(),
      };
      requests.push(record);
      res.on("finish", () => {
        record.status = res.statusCode;
      });

      const failure = failures.find(
        (f) =>
          f.remaining > 0 &&
          (f.method === undefined || f.method.toUpperCase() === record.method) &&
          matchesPath(f.path, record.path),
      );
      if (failure) {
        failure.remaining -= 1;
        failures = failures.filter((f) => f.remaining > 0);
        if (failure.network === "reset") {
          raw.socket.destroy();
          return;
        }
        if (failure.network === "hang") return; // closed by close() via closeAllConnections
        sendJson(res, failure.status ?? 500, failure.body ?? { message: "scripted failure" });
        return;
      }

      let outcome: void | typeof HANG = undefined;
      try {
        outcome = await handler(
          { method: record.method, path: url.pathname, query: url.searchParams, body, raw, record },
          res,
        );
      } catch (error) {
        errors.push(error);
        sendJson(res, 500, { message: error instanceof Error ? error.message : String(error) });
      }
      if (outcome !== HANG && !res.headersSent && !res.destroyed && !res.writableEnded) {
        // A handler that forgot to answer is a bug in the fake: make it loud.
        sendJson(res, 599, { message: `fake handler did not answer ${record.method} ${record.path}` });
      }
    })();
  });
  server.keepAliveTimeout = 1_000;

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;

  let closed: Promise<void> | undefined;
  return {
    server,
    errors,
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    requestsTo(method, path) {
      return requests.filter((r) => r.method === method.toUpperCase() && matchesPath(path, r.path));
    },
    failNext(failure) {
      failures.push({ ...failure, remaining: failure.times ?? 1 });
    },
    clearFailures() {
      failures = [];
    },
    clearRequests() {
      requests.length = 0;
    },
    close() {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
}

export function isoNow(offsetMs = 0): string {
  return new Date(Date.now() + offsetMs).toISOString();
}
