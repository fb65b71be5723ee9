/**
 * The one module that knows how RivetKit is run: driver choice, the manager router mounted
 * under /api/rivet, the in-process client routes use, and the guard in front of the router.
 * Moving to `registry.start()` or a newer RivetKit with its engine touches this file only.
 */
import { join } from "node:path";
import type { Hono, MiddlewareHandler } from "hono";
import type { UpgradeWebSocket } from "hono/ws";
import type { Logger } from "pino";
import { createClientWithDriver, createEngineDriver, createFileSystemDriver, type AnyClient, type Client } from "rivetkit";
import type { GetUpgradeWebSocket } from "rivetkit/utils";
import { buildManagerRouter } from "rivetkit/driver-helpers";
import { configureBaseLogger } from "rivetkit/log";
import { registry, type Registry } from "../actors/registry.js";
import { installActorServices, type ActorServices } from "../actors/services.js";
import type { KilnConfig } from "./config.js";

export const RIVET_BASE_PATH = "/api/rivet";

export type KilnClient = Client<Registry>;

export interface RivetRuntime {
  mode: "local" | "engine";
  client: KilnClient;
  router: Hono;
  /** Must be called with the node-ws upgrader before the server accepts WebSockets. */
  setUpgradeWebSocket(upgrade: UpgradeWebSocket): void;
  /** Stops hosting actors, letting them save state and sleep. */
  shutdown(): Promise<void>;
}

/** RivetKit's own logs go through ours; at `info` it is kept one step quieter so startup stays readable. */
function rivetLogLevel(level: KilnConfig["logLevel"]): KilnConfig["logLevel"] {
  return level === "info" ? "warn" : level;
}

export function startRivet(config: KilnConfig, services: ActorServices, logger: Logger): RivetRuntime {
  const uninstall = installActorServices(services);
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
    setUpgradeWebSocket(upgrade) {
      upgradeWebSocket = upgrade;
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

/**
 * External callers reach actors only to connect to, call and subscribe to ones Kiln created.
 * Creating actors, listing them and reading their raw storage are Kiln-internal operations,
 * so they are refused here before RivetKit's router sees them.
 */
export function guardRivetRouter(): MiddlewareHandler {
  const base = RIVET_BASE_PATH;
  return async (c, next) => {
    const path = c.req.path.slice(base.length) || "/";
    const method = c.req.method;
    if (path === "/actors" && (method === "PUT" || method === "POST")) {
      return c.json({ error: "forbidden", message: "Actors are created by Kiln, not by clients." }, 403);
    }
    if (path === "/actors" && method === "GET" && !c.req.query("key") && !c.req.query("actor_ids")) {
      return c.json({ error: "forbidden", message: "Listing actors is not allowed; look one up by key." }, 403);
    }
    if (/^\/actors\/[^/]+\/kv(\/|$)/.test(path) || path.startsWith("/.test") || path.startsWith("/ui")) {
      return c.json({ error: "not_found", message: "Not found." }, 404);
    }
    await next();
  };
}
