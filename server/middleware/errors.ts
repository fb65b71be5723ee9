import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import { ERROR_STATUS, isErrorCode, KilnError, type ErrorBody } from "../../shared/errors.js";
import type { KilnEnv } from "../types.js";

/** An error thrown by an actor carries a stable code; those Kiln defines map straight to HTTP. */
function fromActorError(err: unknown): KilnError | undefined {
  if (typeof err !== "object" || err === null) return undefined;
  const e = err as { __type?: unknown; code?: unknown; message?: unknown; metadata?: unknown; group?: unknown };
  if (e.__type !== "ActorError" || !isErrorCode(e.code) || e.code === "internal_error") return undefined;
  return new KilnError(e.code, String(e.message), e.metadata ?? undefined);
}

/** Maps anything thrown in a route to the one JSON error shape. Unknown errors never leak detail. */
export function handleError(err: Error, c: Context<KilnEnv>): Response {
  const known = err instanceof KilnError ? err : fromActorError(err);
  if (known) return c.json(known.toBody(), known.status);
  if (err instanceof HTTPException && err.status < 500) {
    const code = err.status === 401 ? "unauthorized" : err.status === 404 ? "not_found" : "invalid_request";
    return c.json({ error: code, message: err.message || "Bad request." } satisfies ErrorBody, err.status);
  }
  const requestId = c.get("requestId");
  c.get("log")?.error({ err }, "unhandled error");
  const body: ErrorBody = {
    error: "internal_error",
    message: `Something went wrong on our side. Quote request id ${requestId} when reporting it.`,
    requestId,
  };
  return c.json(body, ERROR_STATUS.internal_error);
}

export function handleNotFound(c: Context<KilnEnv>): Response {
  const body: ErrorBody = { error: "not_found", message: `No route for ${c.req.method} ${c.req.path}.` };
  return c.json(body, 404);
}
