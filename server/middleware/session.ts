import type { MiddlewareHandler } from "hono";
import { UnauthorizedError } from "../../shared/errors.js";
import type { KilnAuth } from "../auth.js";
import type { ResolvedSession, SessionCache } from "../session-cache.js";
import type { KilnEnv } from "../types.js";

/** better-auth's verdict on a request's credentials, trimmed to what Kiln uses. */
export async function lookupSession(auth: KilnAuth, headers: Headers): Promise<ResolvedSession | null> {
  const result = await auth.api.getSession({ headers });
  if (!result) return null;
  const { user, session } = result;
  return {
    user: { id: user.id, email: user.email, name: user.name },
    session: { id: session.id, token: session.token, userId: session.userId, expiresAt: session.expiresAt },
  };
}

/**
 * Resolves a request's session. A bearer token alone (API clients, the Mac app, actor
 * connections) goes through the cache; a cookie always asks better-auth, which owns its rules.
 */
export function sessionResolver(auth: KilnAuth, cache: SessionCache): (headers: Headers) => Promise<ResolvedSession | null> {
  return (headers) => {
    const bearer = /^Bearer\s+(\S+)$/i.exec(headers.get("authorization") ?? "")?.[1];
    if (!bearer || headers.has("cookie")) return lookupSession(auth, headers);
    return cache.resolve(bearer, () => lookupSession(auth, headers));
  };
}

/** Requires a live better-auth session, from the cookie or `Authorization: Bearer`. */
export function requireSession(resolve: (headers: Headers) => Promise<ResolvedSession | null>): MiddlewareHandler<KilnEnv> {
  return async (c, next) => {
    const result = await resolve(c.req.raw.headers);
    if (!result) throw new UnauthorizedError();
    c.set("user", result.user);
    c.set("session", { id: result.session.id, expiresAt: result.session.expiresAt });
    await next();
  };
}
