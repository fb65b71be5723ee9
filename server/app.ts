import { createHmac } from "node:crypto";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import type { Duplex } from "node:stream";
import { join } from "node:path";
import { OpenAPIHono } from "@hono/zod-openapi";
import { serve, type ServerType } from "@hono/node-server";
import { createNodeWebSocket } from "@hono/node-ws";
import { cors } from "hono/cors";
import type { Logger } from "pino";
import { reclaimHostSandboxes, stopHostSandboxes } from "../actors/runtime.js";
import type { ActorServices } from "../actors/services.js";
import { InvalidRequestError } from "../shared/errors.js";
import { createAuth, type KilnAuth } from "./auth.js";
import { removeHalfCreatedActors } from "./actor-repair.js";
import type { KilnConfig } from "./config.js";
import { lockDataDir, resolveAuthSecret } from "./data-dir.js";
import { openAppDatabase, type AppDatabase } from "./db/index.js";
import { limitBody, MAX_BODY_BYTES } from "./middleware/body-limit.js";
import { handleError, handleNotFound } from "./middleware/errors.js";
import { requestContext } from "./middleware/request-context.js";
import { requireSession, sessionResolver } from "./middleware/session.js";
import { SessionCache } from "./session-cache.js";
import { ViewCache } from "./view-cache.js";
import { resumeProvisioning } from "./recovery.js";
import { Organizations } from "./organizations.js";
import { RIVET_BASE_PATH, RIVET_MAX_MESSAGE_BYTES, startRivet, type KilnClient } from "./rivet.js";
import { authRoutes } from "./routes/auth.js";
import { AuthLimits } from "./auth-limits.js";
import { ClientAddresses } from "./client-address.js";
import { docsRoutes } from "./routes/docs.js";
import { healthRoutes } from "./routes/health.js";
import { apiRoutes } from "./routes/api.js";
import { webRoutes } from "./routes/web.js";
import { loadWebBundle } from "./web-bundle.js";
import { taskViewGroup } from "./routes/tasks.js";
import type { TaskView } from "../shared/schemas/task.js";
import type { OrgMembership } from "../shared/schemas/org.js";
import { githubWebhookRoutes } from "./routes/github-webhook.js";
import { GitHubIndex } from "./github/gateway.js";
import { createGitHubServices, recordGitHubSignIn, resumeGitHub } from "./github/services.js";
import { PersonalTokens } from "./tokens.js";
import { Devices } from "./devices.js";
import { mountDeviceApi } from "./device-api.js";
import { workerHealthRoutes, workerRoutes } from "./routes/workers.js";
import { Paywall } from "./paywall.js";
import { Workers } from "./workers.js";
import { requireOrgMember } from "./middleware/org-member.js";
import { rivetGateway } from "./middleware/rivet-gateway.js";
import type { KilnEnv } from "./types.js";

export const VERSION: string = (createRequire(import.meta.url)("../package.json") as { version: string }).version;

export interface Kiln {
  url: string;
  port: number;
  app: OpenAPIHono<KilnEnv>;
  db: AppDatabase;
  auth: KilnAuth;
  client: KilnClient;
  organizations: Organizations;
  actorsMode: "local" | "engine";
  close(): Promise<void>;
}

async function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === "object" && addr ? resolve(addr.port) : reject(new Error("no port"))));
    });
  });
}

/**
 * Session credentials (and memberships) are re-verified against the database at least this often. Revocation inside
 * this Kiln is immediate regardless (see SessionCache); this bounds only out-of-band changes.
 */
const SESSION_CACHE_TTL_MS = 30_000;
const SESSION_CACHE_MAX = 10_000;
/**
 * Personal access tokens (device tokens) are re-read this often: a revocation or expiry in this
 * process applies at once, and membership is checked on every request, so this bounds only a
 * revocation made through another Kiln process sharing the database. 10,000 devices polling
 * every 10 s then cost 17 token reads a second, not 330.
 */
const TOKEN_CACHE_TTL_MS = 10 * 60_000;
/**
 * Worker and task views on the polling paths are asked of their source again at least this often.
 * Changes made by actors in this process show at once regardless (they drop their views); this
 * bounds only what an actor running in another process changes unseen.
 */
const VIEW_CACHE_TTL_MS = 2_000;
const VIEW_CACHE_MAX = 10_000;

/** The key internal callers present to actors; derived so every Kiln process sharing the secret agrees. */
function deriveInternalKey(secret: string): string {
  return createHmac("sha256", secret).update("kiln/actor-internal/v1").digest("base64url");
}

/**
 * Starts a whole Kiln: data-directory lock, app database with migrations, auth, actors and the
 * HTTP gateway on one port. Resolves once it is accepting requests.
 */
export async function startKiln(config: KilnConfig, logger: Logger): Promise<Kiln> {
  const lock = lockDataDir(config.dataDir);
  const cleanup: (() => Promise<void> | void)[] = [() => lock.release()];
  try {
    const { secret, generated } = resolveAuthSecret(config.dataDir, config.authSecret);
    if (generated) logger.warn({ dataDir: config.dataDir }, "generated an auth secret for development and kept it in the data directory");

    const db = await openAppDatabase({ databaseUrl: config.databaseUrl, pgliteDir: join(config.dataDir, "pglite") });
    cleanup.unshift(() => db.close());
    await db.migrate();

    const port = config.port === 0 ? await freePort(config.host) : config.port;
    const localUrl = `http://${config.host === "0.0.0.0" || config.host === "::" ? "localhost" : config.host}:${port}`;
    const baseURL = config.publicUrl ?? localUrl;

    let client: KilnClient | undefined;
    const membershipCache = new ViewCache<readonly OrgMembership[]>({ ttlMs: SESSION_CACHE_TTL_MS, maxEntries: SESSION_CACHE_MAX });
    const organizations = new Organizations(
      db.db,
      () => {
        if (!client) throw new Error("actors are not started yet");
        return client;
      },
      membershipCache,
    );
    const githubIndex = new GitHubIndex(db.db);
    const sessionCache = new SessionCache({ ttlMs: SESSION_CACHE_TTL_MS, maxEntries: SESSION_CACHE_MAX });
    const auth = createAuth({
      config: { ...config, allowedOrigins: [...new Set([...config.allowedOrigins, new URL(localUrl).origin])] },
      secret,
      baseURL,
      database: db,
      logger,
      onUserCreated: async (user) => {
        await organizations.ensurePersonal(user);
      },
      onSessionChanged: (token) => sessionCache.forgetToken(token),
      onSocialAccount: async (account) => {
        if (account.providerId === "github" && client) await recordGitHubSignIn(githubIndex, client, account);
      },
      onUserChanged: (userId) => {
        sessionCache.forgetUser(userId);
        organizations.forgetUser(userId);
      },
    });
    const resolveSession = sessionResolver(auth, sessionCache);
    const tokens = new PersonalTokens(db.db, organizations, { ttlMs: TOKEN_CACHE_TTL_MS, maxEntries: 50_000 });
    const devices = new Devices(
      db.db,
      organizations,
      tokens,
      () => {
        if (!client) throw new Error("actors are not started yet");
        return client;
      },
      // The device board is right only while the DeviceActors run in this process (not on the Rivet Engine).
      { board: !config.rivet, logger: logger.child({ component: "devices" }) },
    );
    cleanup.unshift(() => devices.flushSeen());

    const sandboxRoot = join(config.dataDir, "sandboxes");
    const workers = new Workers(db.db, organizations, () => {
      if (!client) throw new Error("actors are not started yet");
      return client;
    }, config.polarGate ? new Paywall(config.polarGate, logger.child({ component: "paywall" })) : undefined, config.workerProvisioner, new ViewCache({ ttlMs: VIEW_CACHE_TTL_MS, maxEntries: VIEW_CACHE_MAX }));
    const taskViews = new ViewCache<TaskView>({ ttlMs: VIEW_CACHE_TTL_MS, maxEntries: VIEW_CACHE_MAX });
    const services: ActorServices = {
      internalKey: deriveInternalKey(secret),
      logger: logger.child({ component: "actors" }),
      verifySessionToken: async (token) => {
        const result = await resolveSession(new Headers({ authorization: `Bearer ${token}` }));
        return result ? { userId: result.user.id, sessionId: result.session.id } : null;
      },
      syncOrgIndex: (snapshot) => organizations.syncIndex(snapshot),
      devices,
      isOrgMember: (orgId, userId) => organizations.isMember(orgId, userId),
      taskChanged: (orgId, taskId) => taskViews.forget(taskViewGroup(orgId, taskId)),
      workers,
      sandboxRoot,
      defaultSandboxProvider: config.sandboxProvider,
      workerProvisioner: config.workerProvisioner,
      daytona: config.daytona,
      render: config.render,
      publicUrl: baseURL,
      agentEnv: config.agentEnv,
      allowLocalRemotes: config.allowLocalRemotes,
      github: createGitHubServices(config.githubApp, githubIndex),
    };
    const stoppedSandboxes = reclaimHostSandboxes(sandboxRoot);
    if (stoppedSandboxes.length) {
      logger.warn({ stopped: stoppedSandboxes.length }, "stopped sandbox servers left running by an earlier Kiln; they restart when next used");
    }
    if (!config.rivet) removeHalfCreatedActors(join(config.dataDir, "actors"), logger);
    const rivet = startRivet(config, services, logger);
    cleanup.unshift(() => stopHostSandboxes());
    client = rivet.client;
    cleanup.unshift(() => rivet.shutdown());

    // Bundled in esbuild's own process while the rest starts; `/` waits for it if asked early.
    const webBundle = loadWebBundle(join(config.dataDir, "cache"), logger);

    const app = new OpenAPIHono<KilnEnv>({
      defaultHook: (result) => {
        if (!result.success) throw new InvalidRequestError("The request does not match the schema.", result.error.issues);
      },
    });
    app.use("*", requestContext(logger));
    const corsHeaders = cors({
      origin: (origin) => (config.allowedOrigins.includes(origin) ? origin : null),
      credentials: true,
      // x-rivet-*: what RivetKit's client sends with an action call from the browser.
      allowHeaders: ["content-type", "authorization", "x-request-id", "x-rivet-encoding", "x-rivet-conn-params"],
      exposeHeaders: ["x-request-id", "set-auth-token"],
    });
    // Only browsers send Origin. Setting CORS headers before the handler makes Hono rebuild every
    // response as a Node Response (about a third of a cheap route's time), so other clients skip it.
    app.use("*", (c, next) => (c.req.header("origin") ? corsHeaders(c, next) : next()));
    app.use("*", limitBody(MAX_BODY_BYTES, { except: RIVET_BASE_PATH }));
    app.route("/", healthRoutes({ version: VERSION, db: db.kind, actors: rivet.mode, healthy: () => db.healthy() }));
    app.route(
      "/",
      authRoutes(auth, config.authRateLimit ? { limits: new AuthLimits(), addresses: new ClientAddresses(config.trustedProxies) } : undefined),
    );
    app.route("/", workerHealthRoutes(workers));
    app.route("/", githubWebhookRoutes({ app: config.githubApp, index: githubIndex, client: () => rivet.client }));
    app.use("/v1/*", requireSession(resolveSession, tokens));
    app.use("/v1/tokens", limitBody(16 * 1024));
    // Matches `/v1/orgs/:orgId` itself too: one membership check per request.
    app.use("/v1/orgs/:orgId/*", requireOrgMember(organizations));
    const kilnClient = () => rivet.client;
    // Before the /v1 routes: it registers their body limits, which only apply to routes added after them.
    mountDeviceApi(app, { devices, tokens, client: kilnClient });
    app.route("/", apiRoutes({ organizations, client: kilnClient, workers, tokens, taskViews, devices, githubConfigured: Boolean(config.githubApp) }));
    app.use(
      `${RIVET_BASE_PATH}/*`,
      rivetGateway({
        basePath: RIVET_BASE_PATH,
        actorId: rivet.actorId,
        actorNames: rivet.actorNames,
        maxMessageBytes: RIVET_MAX_MESSAGE_BYTES,
        resolveSession,
        isOrgMember: (orgId, userId) => organizations.isMember(orgId, userId),
        refuseSocket: (c, code, reason) => rivet.refuseWebSocket(c, code, reason),
      }),
    );
    app.route("/", rivet.router);
    app.route("/", docsRoutes(app, VERSION));
    app.route("/", webRoutes(webBundle, { github: Boolean(config.github) }, logger));
    app.notFound(handleNotFound);
    app.onError(handleError);

    const nodeWs = createNodeWebSocket({ app });
    // The frame limit: `ws` closes with 1009 once a message passes it, instead of buffering it whole.
    nodeWs.wss.options.maxPayload = RIVET_MAX_MESSAGE_BYTES;
    rivet.setUpgradeWebSocket(nodeWs.upgradeWebSocket);
    const server: ServerType = await new Promise((resolve, reject) => {
      // @hono/node-server's global Request/Response: about twice the throughput of Node's own. The
      // one SDK that checks `instanceof Response` on fetch's answers (Polar) re-wraps them (paywall.ts).
      const s = serve({ fetch: app.fetch, port, hostname: config.host }, () => resolve(s));
      s.once("error", reject);
    });
    nodeWs.injectWebSocket(server);
    // Upgraded sockets (live subscriptions) are no longer the HTTP server's to close, and
    // `server.close()` waits for them: an open browser page held a stop for over a minute.
    const upgraded = new Set<Duplex>();
    server.on("upgrade", (_req: unknown, socket: Duplex) => {
      upgraded.add(socket);
      socket.once("close", () => upgraded.delete(socket));
    });
    cleanup.unshift(
      () =>
        new Promise<void>((resolve) => {
          server.close(() => resolve());
          if ("closeAllConnections" in server) server.closeAllConnections();
          for (const socket of upgraded) socket.destroy();
        }),
    );

    // In the background: the server answers while interrupted work resumes.
    resumeProvisioning(organizations, rivet.client, logger, stoppedSandboxes, workers).catch((err) =>
      logger.error({ err }, "resuming interrupted work failed"),
    );
    if (config.githubApp) resumeGitHub(githubIndex, rivet.client, logger).catch((err) => logger.error({ err }, "resuming GitHub deliveries failed"));

    let closing: Promise<void> | undefined;
    return {
      url: localUrl,
      port,
      app,
      db,
      auth,
      client: rivet.client,
      organizations,
      actorsMode: rivet.mode,
      close: () => (closing ??= runCleanup(cleanup, logger)),
    };
  } catch (err) {
    await runCleanup(cleanup, logger);
    throw err;
  }
}

async function runCleanup(steps: (() => Promise<void> | void)[], logger: Logger): Promise<void> {
  for (const step of steps) {
    try {
      await step();
    } catch (err) {
      logger.warn({ err }, "shutdown step failed");
    }
  }
}
