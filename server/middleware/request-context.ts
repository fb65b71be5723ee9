import { randomUUID } from "node:crypto";
import type { MiddlewareHandler } from "hono";
import type { Logger } from "pino";
import type { KilnEnv } from "../types.js";

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * A request's logger: lines carry its `requestId`. The pino child behind it is made on the first
 * line only: with redaction on, `child()` serializes its bindings through the redactor, a few
 * per cent of a cheap request's CPU, and most requests log nothing.
 */
export class RequestLog {
  private child: Logger | undefined;

  constructor(
    private readonly root: Logger,
    readonly requestId: string,
  ) {}

  private get log(): Logger {
    return (this.child ??= this.root.child({ requestId: this.requestId }));
  }

  error(obj: object, msg?: string): void {
    this.log.error(obj, msg);
  }
  warn(obj: object, msg?: string): void {
    this.log.warn(obj, msg);
  }
  info(obj: object, msg?: string): void {
    this.log.info(obj, msg);
  }
  debug(obj: object, msg?: string): void {
    if (this.root.isLevelEnabled("debug")) this.log.debug(obj, msg);
  }
}

/**
 * Takes the caller's `x-request-id` when it is well formed (else makes one), sends it back,
 * and gives the request a logger that carries it. Logs one line per request (debug; failures at
 * error). Not an async function: one promise fewer per request, each of which pays Node's
 * promise hooks once anything has used AsyncLocalStorage (better-auth does).
 */
export function requestContext(logger: Logger): MiddlewareHandler<KilnEnv> {
  return (c, next) => {
    const incoming = c.req.header("x-request-id");
    const requestId = incoming && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    const log = new RequestLog(logger, requestId);
    c.set("requestId", requestId);
    c.set("log", log);
    c.header("x-request-id", requestId);
    const started = performance.now();
    return next().then(() => {
      const status = c.res.status;
      if (status >= 500) log.error({ method: c.req.method, path: c.req.path, status, ms: elapsed(started) }, "request failed");
      else if (logger.isLevelEnabled("debug")) log.debug({ method: c.req.method, path: c.req.path, status, ms: elapsed(started) }, "request");
    });
  };
}

const elapsed = (started: number) => Math.round((performance.now() - started) * 10) / 10;
