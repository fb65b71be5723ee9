import { createRoute, OpenAPIHono } from "@hono/zod-openapi";
import { MeSchema } from "../../shared/schemas/auth.js";
import { errorResponses, SESSION_SECURITY } from "../../shared/schemas/common.js";
import type { Organizations } from "../organizations.js";
import type { KilnEnv } from "../types.js";

const route = createRoute({
  method: "get",
  path: "/v1/me",
  tags: ["identity"],
  summary: "The signed-in user, their session and their organizations",
  security: SESSION_SECURITY,
  responses: {
    200: { description: "The caller", content: { "application/json": { schema: MeSchema } } },
    ...errorResponses(401),
  },
});

export function meRoutes(orgs: Organizations) {
  return new OpenAPIHono<KilnEnv>().openapi(route, async (c) => {
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
