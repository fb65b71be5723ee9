/**
 * The one module that knows how RivetKit is run: driver choice, the manager router mounted
 * under /api/rivet, the in-process client routes use, and what the gateway in front of the
 * router (server/middleware/rivet-gateway.ts) must know about the driver.
 * Moving to `registry.start()` or a newer RivetKit with its engine touches this file only.
 */
import { join } from "node:path";
import type { Context, Hono } from "hono";
import type { UpgradeWebSocket, WSContext, WSEvents } from "hono/ws";
import type { Logger } from "pino";
import { createClientWithDriver, createEngineDriver, createFileSystemDriver, UserError, type AnyClient, type Client } from "rivetkit";
import type { GetUpgradeWebSocket } from "rivetkit/utils";
import { buildManagerRouter } from "rivetkit/driver-helpers";
import { configureBaseLogger } from "rivetkit/log";
import { registry, type Registry } from "../actors/registry.js";
import { actorLog, installActorServices, type ActorServices } from "../actors/services.js";
import type { KilnConfig } from "./config.js";
import { refusalCloseCode } from "./rivet-wire.js";

export const RIVET_BASE_PATH = "/api/rivet";

/**
 * The largest action call body and WebSocket message, in bytes. It is RivetKit's own default
 * (`maxIncomingMessageSize`), set here so the gateway's body limit and the socket's frame limit
 * refuse at the same size RivetKit would, but before reading more than that.
 */
export const RIVET_MAX_MESSAGE_BYTES = 65_536;

/**
 * Actor ids as each driver makes them. The file-system driver's are the first 16 hex digits of a
 * SHA-256 (rivetkit/src/drivers/file-system/utils.ts) and become file names, so nothing else may
 * reach it as an id. The engine's are lowercase base-36 (not exercised here).
 */
const ACTOR_ID = { local: /^[0-9a-f]{16}$/, engine: /^[0-9a-z]{1,64}$/ } as const;

export type KilnClient = Client<Registry>;

export interface RivetRuntime {
  mode: "local" | "engine";
  client: KilnClient;
  router: Hono;
  /** The driver's exact actor id format. */
  actorId: RegExp;
  actorNames: ReadonlySet<string>;
  /** Must be called with the node-ws upgrader before the server accepts WebSockets. */
  setUpgradeWebSocket(upgrade: UpgradeWebSocket): void;
  /** Accepts a WebSocket and closes it at once: a refusal the client reads as it reads RivetKit's. */
  refuseWebSocket(c: Context, code: number, reason: string): Promise<Response>;
  /** Stops hosting actors, letting them save state and sleep. */
  shutdown(): Promise<void>;
}

/**
 * RivetKit finds an action with `name in actions`, so `constructor`, `toString` or `valueOf`
 * would run Object.prototype's method for any caller. Without a prototype, only real actions exist.
 */
function actionsWithoutPrototype(): void {
  for (const definition of Object.values(registry.config.use)) {
    const config = definition.config as { actions?: Record<string, unknown> };
    if (config.actions && Object.getPrototypeOf(config.actions) !== null) {
      config.actions = Object.assign(Object.create(null) as Record<string, unknown>, config.actions);
    }
  }
}

const WRAPPED = Symbol("kiln.internalErrorsHidden");

/** What RivetKit sends a client as it is: an error it marks public (UserError and its own client errors). */
function isPublicActorError(err: unknown): boolean {
  return typeof err === "object" && err !== null && (err as { __type?: unknown }).__type === "ActorError" && (err as { public?: unknown }).public === true;
}

/**
 * RivetKit sends an unexpected error's own message (an SQL statement with its parameters, a file
 * path) to the client when NODE_ENV=development, over a WebSocket too, where the gateway cannot
 * rewrite it. Every action and connection check is wrapped so that such an error is logged here
 * and the client gets `internal_error` with no details, whatever NODE_ENV says.
 */
function hideInternalErrors(): void {
  const hidden = (actor: string, where: string) => (err: unknown): never => {
    if (isPublicActorError(err)) throw err;
    actorLog().error({ err, actor, where }, "an actor call failed unexpectedly");
    throw new UserError("Something went wrong on Kiln's side; the details are in its log.", { code: "internal_error" });
  };
  const wrap = <F extends (...args: never[]) => unknown>(fn: F, onError: (err: unknown) => never): F => {
    if ((fn as { [WRAPPED]?: true })[WRAPPED]) return fn;
    const wrapped = function (this: unknown, ...args: Parameters<F>) {
      try {
        const result = fn.apply(this, args);
        // Synchronous actions stay synchronous.
        return result instanceof Promise ? result.catch(onError) : result;
      } catch (err) {
        return onError(err);
      }
    } as unknown as F;
    (wrapped as { [WRAPPED]?: true })[WRAPPED] = true;
    return wrapped;
  };
  for (const [name, definition] of Object.entries(registry.config.use)) {
    const config = definition.config as { actions?: Record<string, (...args: never[]) => unknown>; createConnState?: (...args: never[]) => unknown };
    for (const [action, fn] of Object.entries(config.actions ?? {})) {
      if (typeof fn === "function" && config.actions) config.actions[action] = wrap(fn, hidden(name, action));
    }
    if (typeof config.createConnState === "function") config.createConnState = wrap(config.createConnState, hidden(name, "createConnState"));
  }
}

/**
 * RivetKit closes a refused connection with 1011 (server error); this gives refusals that are the
 * client's to fix their own code (rivet-wire.ts `refusalCloseCode`), keeping RivetKit's reason.
 */
function withRefusalCloseCodes(upgrade: UpgradeWebSocket, logger: Logger): UpgradeWebSocket {
  const patched = new WeakSet<WSContext>();
  const patch = (ws: WSContext): WSContext => {
    if (patched.has(ws)) return ws;
    patched.add(ws);
    const close = ws.close.bind(ws);
    // 1011 is RivetKit's refusal at connect; 1000 with a `<group>.<code>` reason is an actor closing
    // a live connection (`conn.disconnect`, a removed member's).
    ws.close = (code?: number, reason?: string) => close((code === 1011 || code === 1000) && reason ? (refusalCloseCode(reason) ?? code) : code, reason);
    return ws;
  };
  // @hono/node-ws prints what a handler throws with console.error unless given `onError`. On Node 20
  // it throws itself on every socket error (no global ErrorEvent); the close still follows.
  const quiet = { onError: (err: unknown) => logger.debug({ err }, "WebSocket event handler failed") };
  const wrapped = (createEvents: (c: Context) => WSEvents | Promise<WSEvents>, options?: unknown) =>
    upgrade(async (c) => {
      const events = await createEvents(c);
      const { onOpen, onMessage } = events;
      return {
        ...events,
        onOpen: onOpen && ((evt, ws) => onOpen(evt, patch(ws))),
        onMessage: onMessage && ((evt, ws) => onMessage(evt, patch(ws))),
      } satisfies WSEvents;
    }, options ?? quiet);
  // Only the `(createEvents) => middleware` form is used by RivetKit; the wrapper implements that one.
  return wrapped as unknown as UpgradeWebSocket;
}

/** RivetKit's own logs go through ours; at `info` it is kept one step quieter so startup stays readable. */
function rivetLogLevel(level: KilnConfig["logLevel"]): KilnConfig["logLevel"] {
  return level === "info" ? "warn" : level;
}

export function startRivet(config: KilnConfig, services: ActorServices, logger: Logger): RivetRuntime {
  const uninstall = installActorServices(services);
  actionsWithoutPrototype();
  hideInternalErrors();
  const rc = registry.config;
  if (config.rivet) {
    rc.driver = createEngineDriver();
    rc.endpoint = config.rivet.endpoint;
    rc.token = config.rivet.token;
    rc.namespace = config.rivet.namespace;
  } else {
    rc.driver = createFileSystemDriver({ path: join(config.dataDir, "actors") });
  }
  rc.managerBasePath = RIVET_BASE_PATH;
  rc.noWelcome = true;
  rc.serveManager = false;
  rc.inspector = { enabled: false };
  rc.maxIncomingMessageSize = RIVET_MAX_MESSAGE_BYTES;
  const rivetLogger = logger.child({ component: "rivetkit" });
  rivetLogger.level = rivetLogLevel(config.logLevel);
  rc.logging = { baseLogger: rivetLogger, level: rivetLogLevel(config.logLevel) };
  // Only registry.start() applies `logging`; serving through the manager router must set it here.
  configureBaseLogger(rivetLogger);

  const parsed = registry.parseConfig();
  const driver = parsed.driver;
  if (!driver) throw new Error("RivetKit has no driver configured");
  const managerDriver = driver.manager(parsed);
  let upgradeWebSocket: UpgradeWebSocket | undefined;
  // RivetKit declares its own structural copy of Hono's upgrader type; it is the same function at runtime.
  const getUpgrade = (() => upgradeWebSocket) as unknown as GetUpgradeWebSocket;
  managerDriver.setGetUpgradeWebSocket(getUpgrade);
  const { router } = buildManagerRouter(parsed, managerDriver, getUpgrade);
  const client = createClientWithDriver<Registry>(managerDriver);
  // The typed client is the same object the driver expects as its untyped AnyClient.
  const actorDriver = driver.actor(parsed, managerDriver, client as unknown as AnyClient);

  return {
    mode: config.rivet ? "engine" : "local",
    client,
    router,
    actorId: config.rivet ? ACTOR_ID.engine : ACTOR_ID.local,
    actorNames: new Set(Object.keys(registry.config.use)),
    setUpgradeWebSocket(upgrade) {
      upgradeWebSocket = withRefusalCloseCodes(upgrade, rivetLogger);
    },
    async refuseWebSocket(c, code, reason) {
      if (!upgradeWebSocket) throw new Error("WebSockets are not set up yet");
      const events: WSEvents = { onOpen: (_evt, ws) => ws.close(code, reason) };
      const res = await upgradeWebSocket(() => events)(c, async () => {});
      return res ?? c.res;
    },
    async shutdown() {
      try {
        await actorDriver.shutdownRunner?.(false);
      } finally {
        uninstall();
      }
    },
  };
}
