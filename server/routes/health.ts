import { createRoute, OpenAPIHono } from "@hono/zod-openapi";
import { KilnError } from "../../shared/errors.js";
import { HealthSchema, type Health } from "../../shared/schemas/auth.js";
import { errorResponses } from "../../shared/schemas/common.js";
import type { KilnEnv } from "../types.js";

const route = createRoute({
  method: "get",
  path: "/healthz",
  tags: ["ops"],
  summary: "Liveness and what Kiln runs on",
  responses: {
    200: { description: "Kiln is up and its database answers", content: { "application/json": { schema: HealthSchema } } },
    ...errorResponses(503),
  },
});

/** Answers from memory (the database's last probe), so polling health costs no query. */
export function healthRoutes(opts: { version: string; db: Health["db"]; actors: Health["actors"]; healthy(): boolean }) {
  return new OpenAPIHono<KilnEnv>().openapi(route, (c) => {
    if (!opts.healthy()) throw new KilnError("service_unavailable", "The app database does not answer.");
    return c.json({ ok: true as const, version: opts.version, db: opts.db, actors: opts.actors }, 200);
  });
}
