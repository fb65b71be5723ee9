import { createRoute, OpenAPIHono } from "@hono/zod-openapi";
import { MeSchema } from "../../shared/schemas/auth.js";
import { errorResponses, jsonResponse, SESSION_SECURITY } from "../../shared/schemas/common.js";
import type { Organizations } from "../organizations.js";
import type { KilnEnv } from "../types.js";

const base = { tags: ["identity"], security: SESSION_SECURITY };

const me = createRoute({
  ...base,
  method: "get",
  path: "/v1/me",
  summary: "The signed-in user, their session and their organizations",
  responses: { 200: jsonResponse(MeSchema, "The caller"), ...errorResponses(401) },
});

export function meRoutes(orgs: Organizations) {
  return new OpenAPIHono<KilnEnv>().openapi(me, async (c) => {
    const user = c.get("user");
    const session = c.get("session");
    let organizations = await orgs.listForUser(user.id);
    if (!organizations.some((o) => o.kind === "personal")) {
      // Sign-up creates it; this repairs a user whose creation was interrupted between the two writes.
      await orgs.ensurePersonal(user);
      organizations = await orgs.listForUser(user.id);
    }
    return c.json(
      {
        user: { id: user.id, email: user.email, name: user.name },
        session: { id: session.id, expiresAt: session.expiresAt.toISOString() },
        organizations: [...organizations],
      },
      200,
    );
  });
}
