import { createRoute, OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import { InvalidRequestError, type ErrorBody, type ErrorCode } from "../../shared/errors.js";
import {
  AuthResultSchema,
  SignInBodySchema,
  SignOutResultSchema,
  SignUpBodySchema,
  StatusResultSchema,
  UpdateUserBodySchema,
} from "../../shared/schemas/auth.js";
import { WITHOUT_NUL } from "../../shared/schemas/text.js";
import { errorResponses, jsonBody, jsonResponse, SESSION_SECURITY } from "../../shared/schemas/common.js";
import type { KilnAuth } from "../auth.js";
import type { AuthLimits, Refusal } from "../auth-limits.js";
import type { ClientAddresses } from "../client-address.js";
import type { KilnEnv } from "../types.js";

const base = { tags: ["auth"] };

const signUp = createRoute({
  ...base,
  method: "post",
  path: "/api/auth/sign-up/email",
  summary: "Create an account with email and password; returns a session token",
  request: { body: jsonBody(SignUpBodySchema) },
  responses: {
    200: jsonResponse(AuthResultSchema, "Signed up and signed in"),
    ...errorResponses(400, 403, 409, 413, 429),
  },
});

const signIn = createRoute({
  ...base,
  method: "post",
  path: "/api/auth/sign-in/email",
  summary: "Sign in with email and password; returns a session token",
  request: { body: jsonBody(SignInBodySchema) },
  responses: {
    200: jsonResponse(AuthResultSchema, "Signed in"),
    ...errorResponses(400, 401, 403, 413, 429),
  },
});

const signOut = createRoute({
  ...base,
  method: "post",
  path: "/api/auth/sign-out",
  summary: "End the current session (cookie or bearer)",
  security: SESSION_SECURITY,
  responses: {
    200: jsonResponse(SignOutResultSchema, "Signed out"),
    ...errorResponses(401),
  },
});

const updateUser = createRoute({
  ...base,
  method: "post",
  path: "/api/auth/update-user",
  summary: "Change your name or image",
  security: SESSION_SECURITY,
  request: { body: jsonBody(UpdateUserBodySchema) },
  responses: { 200: jsonResponse(StatusResultSchema, "Updated"), ...errorResponses(400, 401) },
});

/** Deeper than any better-auth body; checked without recursion, so no depth can overflow the stack. */
const MAX_JSON_DEPTH = 32;

/**
 * better-auth's other routes validate loosely and hand strings to the database: a body Kiln has
 * no schema for must at least be shallow JSON whose strings (and keys) hold no NUL.
 */
function assertPlainJson(value: unknown): void {
  const stack: { v: unknown; depth: number }[] = [{ v: value, depth: 0 }];
  while (stack.length) {
    const { v, depth } = stack.pop()!;
    if (typeof v === "string" && !WITHOUT_NUL.test(v)) throw new InvalidRequestError("Strings must not contain NUL characters.");
    if (typeof v !== "object" || v === null) continue;
    if (depth >= MAX_JSON_DEPTH) throw new InvalidRequestError(`The body nests deeper than ${MAX_JSON_DEPTH} levels.`);
    for (const [k, child] of Object.entries(v)) {
      if (!WITHOUT_NUL.test(k)) throw new InvalidRequestError("Keys must not contain NUL characters.");
      stack.push({ v: child, depth: depth + 1 });
    }
  }
}

/** A pass-through request with a JSON body, checked by `assertPlainJson` and re-sent as read. */
async function checkedPassThrough(c: Context<KilnEnv>): Promise<Request> {
  const raw = c.req.raw;
  if (!raw.body || !c.req.header("content-type")?.includes("application/json")) return raw;
  const body = await raw.text();
  let parsed: unknown;
  try {
    parsed = body === "" ? undefined : JSON.parse(body);
  } catch {
    throw new InvalidRequestError("The body is not valid JSON.");
  }
  assertPlainJson(parsed);
  const headers = new Headers(raw.headers);
  headers.delete("content-length");
  return new Request(raw.url, { method: raw.method, headers, body });
}

/** better-auth reports `{ code: "SOME_CODE", message }`; Kiln clients get `{ error, message, details }`. */
function toKilnErrorBody(status: number, body: { code?: string; message?: string }): { status: number; body: ErrorBody } {
  const authCode = body.code ?? "UNKNOWN";
  let code: ErrorCode =
    status === 401
      ? "unauthorized"
      : status === 403
        ? "forbidden"
        : status === 404
          ? "not_found"
          : status === 429
            ? "rate_limited"
            : "invalid_request";
  let mapped = status;
  if (/ALREADY_EXISTS/.test(authCode)) {
    code = "conflict";
    mapped = 409;
  }
  return { status: mapped, body: { error: code, message: body.message ?? "Authentication failed.", details: { authCode } } };
}

async function forwardToAuth(auth: KilnAuth, c: Context<KilnEnv>, json?: unknown): Promise<Response> {
  const raw = c.req.raw;
  const headers = new Headers(raw.headers);
  let request = json === undefined ? await checkedPassThrough(c) : raw;
  if (json !== undefined) {
    headers.set("content-type", "application/json");
    headers.delete("content-length");
    request = new Request(raw.url, { method: raw.method, headers, body: JSON.stringify(json) });
  }
  const res = await auth.handler(request);
  if (res.status < 400) return res;
  // A better-auth failure of its own (database down, bug) is ours to report: the common 500 path logs it with the request id.
  if (res.status >= 500) throw new Error(`better-auth answered ${res.status} on ${c.req.path}`);
  const authBody = res.headers.get("content-type")?.includes("application/json")
    ? ((await res.json().catch(() => ({}))) as { code?: string; message?: string })
    : {};
  const { status, body } = toKilnErrorBody(res.status, authBody);
  return Response.json(body, { status });
}

/** The limits on better-auth's routes, and how a request's address is found. */
export interface AuthGuard {
  limits: AuthLimits;
  addresses: ClientAddresses;
}

function tooManyAttempts(c: Context<KilnEnv>, refusal: Refusal): Response {
  const message =
    refusal.reason === "account"
      ? "Too many failed sign-ins to this account from here. Try again later."
      : "Too many attempts from your address. Try again later.";
  const body: ErrorBody = { error: "rate_limited", message };
  return c.json(body, 429, { "retry-after": String(refusal.retryAfterSeconds) });
}

/**
 * better-auth under /api/auth. The email routes are validated with Kiln's zod schemas first
 * (so bad input gets Kiln's 400 shape with details); every other better-auth route passes through.
 * With a guard, every POST counts against its address, and failed sign-ins against the account.
 */
export function authRoutes(auth: KilnAuth, guard?: AuthGuard) {
  const app = new OpenAPIHono<KilnEnv>();
  if (guard) {
    app.use("/api/auth/*", async (c, next) => {
      if (c.req.method !== "POST") return next();
      const address = guard.addresses.of(c);
      const refusal = guard.limits.attempt(address);
      if (refusal) return tooManyAttempts(c, refusal);
      c.set("clientAddress", address);
      await next();
    });
  }
  app.openapi(signUp, (c) => forwardToAuth(auth, c, c.req.valid("json")) as never);
  app.openapi(signIn, async (c) => {
    const body = c.req.valid("json");
    if (!guard) return forwardToAuth(auth, c, body) as never;
    const address = c.get("clientAddress");
    const refusal = guard.limits.checkSignIn(body.email, address);
    if (refusal) return tooManyAttempts(c, refusal) as never;
    const res = await forwardToAuth(auth, c, body);
    if (res.status === 401) guard.limits.signInFailed(body.email, address);
    else if (res.status === 200) guard.limits.signInSucceeded(body.email, address);
    return res as never;
  });
  // Clients often sign out with an empty body; better-auth insists on a JSON one.
  app.openapi(signOut, (c) => forwardToAuth(auth, c, {}) as never);
  app.openapi(updateUser, (c) => forwardToAuth(auth, c, c.req.valid("json")) as never);
  app.on(["GET", "POST"], "/api/auth/*", (c) => forwardToAuth(auth, c));
  return app;
}
