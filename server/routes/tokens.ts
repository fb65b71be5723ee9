import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { ForbiddenError } from "../../shared/errors.js";
import { errorResponses, jsonBody, jsonResponse, SESSION_SECURITY } from "../../shared/schemas/common.js";
import { CreatedTokenSchema, CreateTokenBodySchema, TokenInfoSchema } from "../../shared/schemas/device.js";
import type { PersonalTokens } from "../tokens.js";
import type { KilnEnv } from "../types.js";
import type { Context } from "hono";
import { pathId } from "../../shared/schemas/text.js";

const base = { tags: ["tokens"], security: SESSION_SECURITY };

const create = createRoute({
  ...base,
  method: "post",
  path: "/v1/tokens",
  summary: "Create a personal access token (`device_worker:run` and/or `api`); the secret is shown only now",
  request: { body: jsonBody(CreateTokenBodySchema) },
  responses: { 201: jsonResponse(CreatedTokenSchema, "The token, once"), ...errorResponses(400, 401, 403, 413) },
});
const list = createRoute({
  ...base,
  method: "get",
  path: "/v1/tokens",
  summary: "Your personal access tokens, without their secrets",
  responses: { 200: jsonResponse(z.object({ tokens: z.array(TokenInfoSchema) }), "Tokens"), ...errorResponses(401, 403) },
});
const revoke = createRoute({
  ...base,
  method: "delete",
  path: "/v1/tokens/{id}",
  summary: "Revoke a token; it stops working on the next request",
  request: { params: z.object({ id: pathId() }) },
  responses: { 204: { description: "Revoked" }, ...errorResponses(401, 403, 404) },
});

/** Tokens are managed with a session: a token may not mint or revoke tokens (it would outlive its own revocation). */
export function requireSessionCredential(c: Context<KilnEnv>): void {
  if (c.get("tokenId")) throw new ForbiddenError("Manage tokens and devices with a signed-in session, not an access token.");
}

export function tokenRoutes(tokens: PersonalTokens) {
  return new OpenAPIHono<KilnEnv>()
    .openapi(create, async (c) => {
      requireSessionCredential(c);
      const body = c.req.valid("json");
      return c.json(await tokens.create(c.get("user").id, body), 201);
    })
    .openapi(list, async (c) => {
      requireSessionCredential(c);
      return c.json({ tokens: await tokens.list(c.get("user").id) }, 200);
    })
    .openapi(revoke, async (c) => {
      requireSessionCredential(c);
      await tokens.revoke(c.get("user").id, c.req.valid("param").id);
      return c.body(null, 204);
    });
}
