import type { Writable } from "node:stream";
import { ConfigError, loadConfig, readDotEnv, type KilnConfig } from "./config.js";
import { DataDirLockedError } from "./data-dir.js";
import { startKiln } from "./app.js";
import { createLogger } from "../shared/logger.js";
import { FDS_PER_AWAKE_ACTOR, MIN_OPEN_FILES, openFilesLimit } from "./limits.js";

async function logDestination(config: KilnConfig): Promise<Writable | undefined> {
  const pretty = config.logFormat ? config.logFormat === "pretty" : config.nodeEnv !== "production" && process.stdout.isTTY;
  if (!pretty) return undefined;
  try {
    const { default: pinoPretty } = await import("pino-pretty");
    return pinoPretty({ sync: true, translateTime: "HH:MM:ss", ignore: "pid,hostname,service" });
  } catch {
    return undefined;
  }
}

async function main(): Promise<void> {
  let config: KilnConfig;
  try {
    config = loadConfig({ ...readDotEnv(), ...process.env });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`kiln: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const logger = createLogger(config.logLevel, await logDestination(config));
  // A rejection nobody handled (seen from agent SDKs when a sandbox dies) is logged, not fatal:
  // one sandbox's failure must not take down every user's Kiln.
  process.on("unhandledRejection", (reason) => logger.error({ err: reason }, "unhandled promise rejection"));
  let kiln;
  try {
    kiln = await startKiln(config, logger);
  } catch (err) {
    if (err instanceof DataDirLockedError) {
      process.stderr.write(`kiln: ${err.message}\n`);
      process.exit(3);
    }
    if ((err as NodeJS.ErrnoException).code === "EADDRINUSE") {
      process.stderr.write(`kiln: PORT ${config.port} on ${config.host} is already in use. Stop what is using it, or set PORT.\n`);
      process.exit(4);
    }
    logger.fatal({ err }, "Kiln failed to start");
    process.exit(1);
  }
  const running = kiln;
  const stop = (signal: string) => {
    logger.info({ signal }, "shutting down");
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    running.close().then(() => process.exit(0), () => process.exit(1));
  };
  // Before the ready line: whoever waits for it may signal at once, and a signal that comes
  // before a handler exists kills the process without a clean stop.
  process.once("SIGINT", () => stop("SIGINT"));
  process.once("SIGTERM", () => stop("SIGTERM"));
  const openFiles = openFilesLimit();
  if (openFiles !== null && openFiles < MIN_OPEN_FILES) {
    // Told at start, not found later as EMFILE under load.
    logger.warn(
      { openFiles, awakeActorsAtMost: Math.floor(openFiles / FDS_PER_AWAKE_ACTOR), recommended: MIN_OPEN_FILES },
      `the open-files limit is low: each awake actor holds ${FDS_PER_AWAKE_ACTOR} descriptors; raise it (ulimit -n ${MIN_OPEN_FILES}) before serving many tasks`,
    );
  }
  process.stdout.write(
    `Kiln ${kiln.actorsMode === "local" ? "" : "(engine) "}ready at ${kiln.url}  (db: ${kiln.db.kind}, data: ${config.dataDir}, docs: ${kiln.url}/docs)\n`,
  );
}

void main();
