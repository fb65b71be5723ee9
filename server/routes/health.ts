import { createRoute, OpenAPIHono } from "@hono/zod-openapi";
import { KilnError } from "../../shared/errors.js";
import { HealthSchema, type Health } from "../../shared/schemas/auth.js";
import { errorResponses, jsonResponse } from "../../shared/schemas/common.js";
import type { KilnEnv } from "../types.js";

const base = { tags: ["ops"] };

const healthz = createRoute({
  ...base,
  method: "get",
  path: "/healthz",
  summary: "Liveness and what Kiln runs on",
  responses: {
    200: jsonResponse(HealthSchema, "Kiln is up and its database answers"),
    ...errorResponses(503),
  },
});

/** Answers from memory (the database's last probe), so polling health costs no query. */
export function healthRoutes(opts: { version: string; db: Health["db"]; actors: Health["actors"]; healthy(): boolean }) {
  return new OpenAPIHono<KilnEnv>().openapi(healthz, (c) => {
    if (!opts.healthy()) throw new KilnError("service_unavailable", "The app database does not answer.");
    return c.json({ ok: true as const, version: opts.version, db: opts.db, actors: opts.actors }, 200);
  });
}
