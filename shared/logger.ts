import { pino, type Logger, type LevelWithSilent } from "pino";

export type { Logger };

/** Keys whose values never reach a log line, wherever they sit in the object. */
const REDACT = [
  "password",
  "token",
  "secret",
  "authorization",
  "cookie",
  "*.password",
  "*.token",
  "*.secret",
  "*.authorization",
  "*.cookie",
  "params.token",
  "params.internal",
  "req.headers.authorization",
  "req.headers.cookie",
];

/** Builds Kiln's root logger: JSON lines on stdout, secrets redacted. */
export function createLogger(level: LevelWithSilent, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: "kiln" },
      redact: { paths: REDACT, censor: "[redacted]" },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
}
