import { z } from "zod";

export const ErrorBodySchema = z
  .object({
    error: z.string().meta({ description: "Stable snake_case error code", example: "invalid_request" }),
    message: z.string(),
    details: z.unknown().optional(),
    requestId: z.string().optional(),
  })
  .meta({ id: "Error" });

/*
 * How a route is declared, in every file of server/routes/: a file-level `base` with its tags (and
 * SESSION_SECURITY where a session is needed), then one `createRoute({ ...base, method, path,
 * summary, request: { params, query, body: jsonBody(S) }, responses: { 200: jsonResponse(S, "…"),
 * ...errorResponses(…) } })` per operation, with path parameters from server/routes/params.ts.
 */

/** OpenAPI response entries for the error statuses a route can return. */
export function errorResponses(...statuses: (400 | 401 | 403 | 404 | 409 | 410 | 413 | 422 | 429 | 500 | 503)[]) {
  const descriptions: Record<number, string> = {
    400: "Invalid request",
    401: "Not signed in, or the session is invalid, expired or signed out",
    403: "Not allowed",
    404: "Not found",
    409: "Conflict",
    410: "Gone: it existed, but no longer applies (e.g. an expired invitation)",
    413: "The request body is larger than Kiln accepts",
    422: "Unprocessable",
    429: "Too many attempts; `retry-after` says when to try again",
    500: "Internal error",
    503: "Unavailable",
  };
  return Object.fromEntries(
    statuses.map((s) => [s, { description: descriptions[s] ?? "Error", content: { "application/json": { schema: ErrorBodySchema } } }]),
  );
}

/** OpenAPI security for routes that take the session cookie or a bearer token. */
export const SESSION_SECURITY: Record<string, string[]>[] = [{ bearer: [] }, { cookie: [] }];

/** An OpenAPI JSON response entry. */
export function jsonResponse<T extends z.ZodType>(schema: T, description: string) {
  return { description, content: { "application/json": { schema } } };
}

/** An OpenAPI JSON request body entry. */
export function jsonBody<T extends z.ZodType>(schema: T, required = true) {
  return { required, content: { "application/json": { schema } } };
}
