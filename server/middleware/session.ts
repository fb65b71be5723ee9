import type { MiddlewareHandler } from "hono";
import { UnauthorizedError } from "../../shared/errors.js";
import type { KilnAuth } from "../auth.js";
import type { KilnEnv } from "../types.js";

/** Requires a live better-auth session, from the cookie or `Authorization: Bearer`. */
export function requireSession(auth: KilnAuth): MiddlewareHandler<KilnEnv> {
  return async (c, next) => {
    const result = await auth.api.getSession({ headers: c.req.raw.headers });
    if (!result) throw new UnauthorizedError();
    c.set("user", { id: result.user.id, email: result.user.email, name: result.user.name });
    c.set("session", { id: result.session.id, expiresAt: result.session.expiresAt });
    await next();
  };
}
