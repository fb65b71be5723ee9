import { createRoute, OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { ErrorBody, ErrorCode } from "../../shared/errors.js";
import { AuthResultSchema, SignInBodySchema, SignOutResultSchema, SignUpBodySchema } from "../../shared/schemas/auth.js";
import { errorResponses, SESSION_SECURITY } from "../../shared/schemas/common.js";
import type { KilnAuth } from "../auth.js";
import type { KilnEnv } from "../types.js";

const signUp = createRoute({
  method: "post",
  path: "/api/auth/sign-up/email",
  tags: ["auth"],
  summary: "Create an account with email and password; returns a session token",
  request: { body: { required: true, content: { "application/json": { schema: SignUpBodySchema } } } },
  responses: {
    200: { description: "Signed up and signed in", content: { "application/json": { schema: AuthResultSchema } } },
    ...errorResponses(400, 403, 409),
  },
});

const signIn = createRoute({
  method: "post",
  path: "/api/auth/sign-in/email",
  tags: ["auth"],
  summary: "Sign in with email and password; returns a session token",
  request: { body: { required: true, content: { "application/json": { schema: SignInBodySchema } } } },
  responses: {
    200: { description: "Signed in", content: { "application/json": { schema: AuthResultSchema } } },
    ...errorResponses(400, 401, 403),
  },
});

const signOut = createRoute({
  method: "post",
  path: "/api/auth/sign-out",
  tags: ["auth"],
  summary: "End the current session (cookie or bearer)",
  security: SESSION_SECURITY,
  responses: {
    200: { description: "Signed out", content: { "application/json": { schema: SignOutResultSchema } } },
    ...errorResponses(401),
  },
});

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
  let request = raw;
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

/**
 * better-auth under /api/auth. The email routes are validated with Kiln's zod schemas first
 * (so bad input gets Kiln's 400 shape with details); every other better-auth route passes through.
 */
export function authRoutes(auth: KilnAuth) {
  const app = new OpenAPIHono<KilnEnv>();
  app.openapi(signUp, (c) => forwardToAuth(auth, c, c.req.valid("json")) as never);
  app.openapi(signIn, (c) => forwardToAuth(auth, c, c.req.valid("json")) as never);
  // Clients often sign out with an empty body; better-auth insists on a JSON one.
  app.openapi(signOut, (c) => forwardToAuth(auth, c, {}) as never);
  app.on(["GET", "POST"], "/api/auth/*", (c) => forwardToAuth(auth, c));
  return app;
}
