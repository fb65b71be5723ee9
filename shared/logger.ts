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
  "agentEnv",
  "*.agentEnv",
  "ANTHROPIC_API_KEY",
  "OPENAI_API_KEY",
  "*.ANTHROPIC_API_KEY",
  "*.OPENAI_API_KEY",
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
      hooks: {
        logMethod(args, method, level) {
          // RivetKit logs every refused action (forbidden, conflict, invalid input) at error level.
          // Those are the caller's mistakes; real failures also get RivetKit's "internal error" line.
          const first: unknown = args[0];
          if (level === 50 && typeof first === "object" && first !== null && (first as { msg?: unknown }).msg === "action error") {
            return this.debug(...(args as [object]));
          }
          return method.apply(this, args);
        },
      },
    },
    destination,
  );
}
