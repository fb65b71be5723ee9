import type { MiddlewareHandler } from "hono";
import { ForbiddenError, KilnError, UnauthorizedError } from "../../shared/errors.js";
import type { KilnAuth } from "../auth.js";
import type { ResolvedSession, SessionCache } from "../session-cache.js";
import { isPersonalAccessToken, type PersonalTokens } from "../tokens.js";
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

/** better-auth's session cookie (with the `__Secure-` prefix it takes over https). */
const SESSION_COOKIE = /(?:^|;\s*)(?:__Secure-)?better-auth\.session_token=([^;]+)/;

/**
 * The credential a request's session hangs on, as a cache key: its bearer token, or else its
 * signed session cookie. Requests carrying both, or neither, are not cached.
 */
function credentialOf(headers: Headers): string | undefined {
  const bearer = /^Bearer\s+(\S+)$/i.exec(headers.get("authorization") ?? "")?.[1];
  const cookie = SESSION_COOKIE.exec(headers.get("cookie") ?? "")?.[1];
  if (bearer && cookie) return undefined;
  if (bearer) return `bearer:${bearer}`;
  return cookie ? `cookie:${cookie}` : undefined;
}

/**
 * Resolves a request's session through the cache: a credential better-auth verified once
 * (bearer token or signed cookie) is not looked up again until it changes or the TTL passes.
 */
export function sessionResolver(auth: KilnAuth, cache: SessionCache): (headers: Headers) => Promise<ResolvedSession | null> {
  return (headers) => {
    const credential = credentialOf(headers);
    if (!credential) return lookupSession(auth, headers);
    return cache.resolve(credential, () => lookupSession(auth, headers));
  };
}

/**
 * Requires a live better-auth session, from the cookie or `Authorization: Bearer`, or a personal
 * access token with the `api` scope, which acts as its user.
 */
export function requireSession(resolve: (headers: Headers) => Promise<ResolvedSession | null>, tokens?: PersonalTokens): MiddlewareHandler<KilnEnv> {
  return async (c, next) => {
    const bearer = /^Bearer\s+(\S+)$/i.exec(c.req.header("authorization") ?? "")?.[1];
    if (tokens && bearer && isPersonalAccessToken(bearer)) {
      const binding = await tokens.resolve(bearer);
      if (!binding) throw new UnauthorizedError("The access token is unknown, revoked or expired.");
      if (!binding.scopes.includes("api")) throw new KilnError("insufficient_scope", "This token lacks the `api` scope.");
      const orgInPath = /^\/v1\/orgs\/([^/]+)/.exec(c.req.path)?.[1];
      if (binding.orgId && orgInPath !== undefined && orgInPath !== binding.orgId) throw new ForbiddenError("This token is limited to another organization.");
      c.set("user", binding.user);
      c.set("session", { id: binding.tokenId, expiresAt: binding.expiresAt ?? new Date(8.64e15) });
      c.set("tokenId", binding.tokenId);
      await next();
      return;
    }
    const result = await resolve(c.req.raw.headers);
    if (!result) throw new UnauthorizedError();
    c.set("user", result.user);
    c.set("session", { id: result.session.id, expiresAt: result.session.expiresAt });
    await next();
  };
}
