import { betterAuth } from "better-auth";
import { drizzleAdapter } from "better-auth/adapters/drizzle";
import { symmetricDecrypt } from "better-auth/crypto";
import { bearer } from "better-auth/plugins";
import type { Logger } from "pino";
import type { KilnConfig } from "./config.js";
import type { AppDatabase } from "./db/index.js";
import { schema } from "./db/schema.js";

export interface AuthOptions {
  config: KilnConfig;
  secret: string;
  baseURL: string;
  database: AppDatabase;
  logger: Logger;
  /** Runs after a user row is committed: creates their personal organization. */
  onUserCreated(user: { id: string; name: string; email: string }): Promise<void>;
  /** A session was updated or ended (sign-out, revocation, expiry refresh): caches must drop it. */
  onSessionChanged?(token: string): void;
  /** A user was updated or deleted: caches must drop their sessions. */
  onUserChanged?(userId: string): void;
  /** A social account was linked or its tokens refreshed (the access token in plain text, for the caller to seal). */
  onSocialAccount?(account: { userId: string; providerId: string; accountId: string; accessToken: string | null }): Promise<void>;
}

/** better-auth with email/password, bearer tokens, and GitHub/Google when configured. */
export function createAuth(opts: AuthOptions) {
  const { config, logger } = opts;
  const log = logger.child({ component: "better-auth" });
  // An update that matched no row hands the hook nothing; a hook must never throw inside better-auth.
  const userChanged = (user: { id?: string } | null | undefined) => {
    if (user?.id) opts.onUserChanged?.(user.id);
  };
  const sessionChanged = (session: { token?: string; userId?: string } | null | undefined) => {
    if (session?.token) opts.onSessionChanged?.(session.token);
    // better-auth runs delete hooks only on the rows its adapter lists (100 by default) while the
    // DELETE takes them all, so a mass revocation must drop every session of the user.
    if (session?.userId) opts.onUserChanged?.(session.userId);
  };
  // The hook sees the row as stored, so the token arrives encrypted; the hook's consumer seals it its own way.
  const socialAccount = async (account: { userId?: string; providerId?: string; accountId?: string; accessToken?: string | null } | null | undefined) => {
    if (!account?.userId || !account.providerId || !account.accountId || account.providerId === "credential" || !opts.onSocialAccount) return;
    try {
      const accessToken = account.accessToken ? await symmetricDecrypt({ key: opts.secret, data: account.accessToken }).catch(() => null) : null;
      await opts.onSocialAccount({ userId: account.userId, providerId: account.providerId, accountId: account.accountId, accessToken });
    } catch (err) {
      log.error({ err, providerId: account.providerId }, "recording a social account failed");
    }
  };
  return betterAuth({
    appName: "Kiln",
    baseURL: opts.baseURL,
    basePath: "/api/auth",
    secret: opts.secret,
    database: drizzleAdapter(opts.database.db, { provider: "pg", schema }),
    trustedOrigins: config.allowedOrigins,
    emailAndPassword: { enabled: true, autoSignIn: true, minPasswordLength: 8 },
    socialProviders: {
      ...(config.github ? { github: { clientId: config.github.clientId, clientSecret: config.github.clientSecret } } : {}),
      ...(config.google ? { google: { clientId: config.google.clientId, clientSecret: config.google.clientSecret } } : {}),
    },
    plugins: [bearer()],
    // OAuth tokens (GitHub sign-in) are kept encrypted in the account table, never in plain text.
    account: { encryptOAuthTokens: true },
    telemetry: { enabled: false },
    // Kiln limits these routes itself (routes/auth.ts), keyed on the real client address:
    // better-auth's own limiter trusts X-Forwarded-For from anyone, or puts everyone in one bucket.
    rateLimit: { enabled: false },
    // better-auth skips origin checks when NODE_ENV=test; Kiln checks them everywhere, so tests see production behaviour.
    advanced: { disableOriginCheck: false },
    logger: {
      level: config.logLevel === "debug" || config.logLevel === "trace" ? "debug" : "warn",
      log: (level, message, ...args) => {
        const fn = level === "error" ? log.error : level === "warn" ? log.warn : level === "debug" ? log.debug : log.info;
        fn.call(log, { args: args.length ? args : undefined }, message);
      },
    },
    databaseHooks: {
      user: {
        create: {
          after: async (user) => {
            await opts.onUserCreated({ id: user.id, name: user.name, email: user.email });
          },
        },
        update: { after: async (user) => userChanged(user) },
        // Before as well as after: no request may be served from a cache while the row goes.
        delete: { before: async (user) => userChanged(user), after: async (user) => userChanged(user) },
      },
      account: {
        create: { after: async (account) => socialAccount(account) },
        update: { after: async (account) => socialAccount(account) },
      },
      session: {
        update: { after: async (session) => sessionChanged(session) },
        delete: { before: async (session) => sessionChanged(session), after: async (session) => sessionChanged(session) },
      },
    },
  });
}

export type KilnAuth = ReturnType<typeof createAuth>;
