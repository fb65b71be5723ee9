import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import { ERROR_STATUS, isErrorCode, KilnError, type ErrorBody, type ErrorCode } from "../../shared/errors.js";
import type { KilnEnv } from "../types.js";

/** RivetKit's own public errors (not Kiln's UserErrors), by code, as Kiln's vocabulary. */
const RIVET_ERRORS: Record<string, { code: ErrorCode; message: string }> = {
  not_found: { code: "not_found", message: "Not found." },
  timed_out: { code: "service_unavailable", message: "The operation took too long; try again." },
  incoming_too_long: { code: "payload_too_large", message: "The request is larger than Kiln accepts." },
  outgoing_too_long: { code: "service_unavailable", message: "The answer is larger than Kiln sends; ask for less." },
  invalid: { code: "invalid_request", message: "The request is not valid." },
  full: { code: "service_unavailable", message: "Kiln is busy; try again shortly." },
};

/**
 * Actor messages are written for users, but some carry what a client must not see: RivetKit's
 * docs links, actor keys (`name:["org",…]`) and file paths from a failed sandbox command.
 */
export function redactInternals(message: string): string {
  return message
    .replace(/\s*\(?https?:\/\/(?:www\.)?rivet\.(?:dev|gg)\S*?\)?(?=\s|$)/g, "")
    .replace(/\b[A-Za-z]+:\[[^\]]*\]/g, "an actor")
    .replace(/(^|[\s'"`(=:])\/(?:[^\s'"`/:]+\/)+[^\s'"`/:)]*/g, "$1<path>")
    .trim();
}

/**
 * An error thrown by an actor. Kiln's own (group `user`) carry a code from the vocabulary;
 * RivetKit's public ones are translated; anything else is an internal error.
 */
function fromActorError(err: unknown): KilnError | undefined {
  if (typeof err !== "object" || err === null) return undefined;
  const e = err as { __type?: unknown; code?: unknown; message?: unknown; metadata?: unknown; group?: unknown };
  if (e.__type !== "ActorError" || typeof e.code !== "string") return undefined;
  if (e.group === "user") {
    if (!isErrorCode(e.code) || e.code === "internal_error") return undefined;
    return new KilnError(e.code, redactInternals(String(e.message)), e.metadata ?? undefined);
  }
  const known = RIVET_ERRORS[e.code];
  return known ? new KilnError(known.code, known.message) : undefined;
}

/** Maps anything thrown in a route to the one JSON error shape. Unknown errors never leak detail. */
export function handleError(err: Error, c: Context<KilnEnv>): Response {
  const known = err instanceof KilnError ? err : fromActorError(err);
  if (known) return c.json(known.toBody(), known.status);
  if (err instanceof HTTPException && err.status < 500) {
    const code: ErrorCode =
      err.status === 401 ? "unauthorized" : err.status === 404 ? "not_found" : err.status === 413 ? "payload_too_large" : "invalid_request";
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
