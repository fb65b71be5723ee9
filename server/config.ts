import { existsSync, readFileSync } from "node:fs";
import type { GitHubAppConfig } from "../actors/github-state/app.js";
import { githubAppConfig, githubAppProblems } from "./github/config.js";
import { resolve } from "node:path";
import { parseEnv } from "node:util";
import { z } from "zod";
import type { DaytonaProviderConfig } from "../actors/sandbox/daytona.js";
import type { RenderProviderConfig } from "../actors/sandbox/render.js";
import { parseCidr, type Cidr } from "./client-address.js";
import { TASK_SANDBOX_PROVIDERS, WORKER_PROVISIONERS } from "../shared/providers.js";
import type { PolarGateConfig } from "./paywall.js";

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

const optionalString = z
  .string()
  .transform((v) => v.trim())
  .pipe(z.string())
  .optional()
  .transform((v) => (v === "" ? undefined : v));

const url = (protocols: string[], what: string) =>
  z
    .string()
    .trim()
    .refine((v) => {
      try {
        return protocols.includes(new URL(v).protocol);
      } catch {
        return false;
      }
    }, `must be a ${what} URL (${protocols.map((p) => `${p}//`).join(" or ")}...)`);

/** A blank value (`DAYTONA_CPU=` in .env) means unset, not zero. */
const blankIsUnset = <T extends z.ZodType>(schema: T) => z.preprocess((v) => (typeof v === "string" && v.trim() === "" ? undefined : v), schema);

const positiveInt = (what: string) =>
  blankIsUnset(
    z.coerce
      .number({ error: `must be ${what}` })
      .int(`must be ${what}`)
      .positive(`must be ${what}`)
      .optional(),
  );

const FieldsSchema = z
  .object({
    NODE_ENV: z.enum(["development", "production", "test"]).default("development"),
    PORT: z.coerce
      .number({ error: "must be a port number" })
      .int("must be a whole number")
      .min(0, "must be between 0 and 65535")
      .max(65535, "must be between 0 and 65535")
      .default(7741),
    HOST: z.string().trim().min(1).default("127.0.0.1"),
    KILN_DATA_DIR: z.string().trim().min(1).default("./.kiln"),
    KILN_PUBLIC_URL: url(["http:", "https:"], "http(s)").optional(),
    KILN_ALLOWED_ORIGINS: z
      .string()
      .default("")
      .transform((v) => v.split(",").map((o) => o.trim()).filter(Boolean))
      .pipe(z.array(url(["http:", "https:"], "http(s) origin"))),
    DATABASE_URL: optionalString.pipe(url(["postgres:", "postgresql:"], "postgres").optional()),
    LOG_FORMAT: z.enum(["json", "pretty"], { error: "must be json or pretty" }).optional(),
    LOG_LEVEL: z.enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(", ")}` }).default("info"),
    BETTER_AUTH_SECRET: optionalString,
    GITHUB_CLIENT_ID: optionalString,
    GITHUB_CLIENT_SECRET: optionalString,
    GOOGLE_CLIENT_ID: optionalString,
    GOOGLE_CLIENT_SECRET: optionalString,
    ANTHROPIC_API_KEY: optionalString,
    OPENAI_API_KEY: optionalString,
    POLAR_FEATURE_GATE_ENABLED: z.enum(["true", "false"], { error: "must be true or false" }).default("false"),
    POLAR_ACCESS_TOKEN: optionalString,
    POLAR_PRODUCT_ID: optionalString,
    POLAR_BENEFIT_ID: optionalString,
    POLAR_SUCCESS_URL: optionalString.pipe(url(["http:", "https:"], "http(s)").optional()),
    POLAR_RETURN_URL: optionalString.pipe(url(["http:", "https:"], "http(s)").optional()),
    POLAR_SERVER_URL: optionalString.pipe(url(["http:", "https:"], "http(s)").optional()),
    KILN_SANDBOX_PROVIDER: z.enum(TASK_SANDBOX_PROVIDERS, { error: "must be local, local-git or daytona" }).default("local"),
    PROVISIONER_MODE: z.enum(WORKER_PROVISIONERS, { error: "must be local, daytona or render" }).default("local"),
    DAYTONA_API_KEY: optionalString,
    DAYTONA_API_URL: optionalString.pipe(url(["http:", "https:"], "http(s)").optional()),
    DAYTONA_TARGET: optionalString,
    DAYTONA_SNAPSHOT: optionalString,
    DAYTONA_CPU: positiveInt("a whole number of CPUs"),
    DAYTONA_MEMORY: positiveInt("a whole number of GiB"),
    DAYTONA_DISK: positiveInt("a whole number of GiB"),
    DAYTONA_AUTO_STOP_MINUTES: blankIsUnset(z.coerce.number({ error: "must be a number of minutes" }).int("must be a whole number of minutes").min(0, "must be 0 or more").optional()),
    DAYTONA_WORKDIR: optionalString.pipe(z.string().startsWith("/", "must be an absolute path").optional()),
    DAYTONA_AGENT_PORT: blankIsUnset(z.coerce.number({ error: "must be a port number" }).int("must be a port number").min(1, "must be a port number").max(65535, "must be a port number").optional()),
    RENDER_API_KEY: optionalString,
    RENDER_API_URL: optionalString.pipe(url(["http:", "https:"], "http(s)").optional()),
    RENDER_OWNER_ID: optionalString,
    RENDER_WORKER_IMAGE: optionalString,
    RENDER_WORKER_PLAN: optionalString,
    RENDER_WORKER_REGION: optionalString,
    RENDER_WORKER_HEALTH_PATH: optionalString.pipe(z.string().startsWith("/", "must start with /").optional()),
    KILN_ALLOW_LOCAL_REMOTES: z.enum(["true", "false"], { error: "must be true or false" }).optional(),
    KILN_TRUSTED_PROXIES: z
      .string()
      .default("")
      .transform((v) => v.split(",").map((p) => p.trim()).filter(Boolean))
      .superRefine((entries, ctx) => {
        const bad = entries.filter((e) => !parseCidr(e));
        if (bad.length) ctx.addIssue({ code: "custom", message: `must be comma-separated IP addresses or CIDRs (10.0.0.0/8, fd00::/8); not: ${bad.join(", ")}` });
      })
      .transform((entries) => entries.map((e) => parseCidr(e)).filter((c): c is Cidr => c !== null)),
    KILN_AUTH_RATE_LIMIT: z.enum(["on", "off"], { error: "must be on or off" }).default("on"),
    RIVET_ENDPOINT: optionalString.pipe(url(["http:", "https:"], "http(s)").optional()),
    RIVET_TOKEN: optionalString,
    RIVET_NAMESPACE: optionalString,
  });

export type Env = z.infer<typeof FieldsSchema>;

/**
 * Rules across variables. They read the raw environment so that they are reported together
 * with field errors, not only once every field parses.
 */
function crossFieldProblems(env: Record<string, string | undefined>): { name: string; message: string }[] {
  const set = (name: string) => (env[name] ?? "").trim() !== "";
  const problems: { name: string; message: string }[] = [];
  if ((env.NODE_ENV ?? "development") === "production") {
    const secret = (env.BETTER_AUTH_SECRET ?? "").trim();
    if (!secret) problems.push({ name: "BETTER_AUTH_SECRET", message: "is required when NODE_ENV=production" });
    else if (secret.length < 32) problems.push({ name: "BETTER_AUTH_SECRET", message: "must be at least 32 characters when NODE_ENV=production" });
  }
  if ((env.POLAR_FEATURE_GATE_ENABLED ?? "").trim() === "true") {
    for (const name of ["POLAR_ACCESS_TOKEN", "POLAR_PRODUCT_ID", "POLAR_BENEFIT_ID", "POLAR_SUCCESS_URL", "POLAR_RETURN_URL"]) {
      if (!set(name)) problems.push({ name, message: "is required when POLAR_FEATURE_GATE_ENABLED=true" });
    }
  }
  const mode = (env.PROVISIONER_MODE ?? "").trim() || "local";
  if (mode === "daytona" && !set("DAYTONA_API_KEY")) problems.push({ name: "DAYTONA_API_KEY", message: "is required when PROVISIONER_MODE=daytona" });
  if (mode === "render") {
    for (const name of ["RENDER_API_KEY", "RENDER_OWNER_ID", "RENDER_WORKER_IMAGE"]) {
      if (!set(name)) problems.push({ name, message: "is required when PROVISIONER_MODE=render" });
    }
  }
  if ((env.KILN_SANDBOX_PROVIDER ?? "").trim() === "daytona" && !set("DAYTONA_API_KEY")) {
    problems.push({ name: "DAYTONA_API_KEY", message: "is required when KILN_SANDBOX_PROVIDER=daytona" });
  }
  for (const provider of ["GITHUB", "GOOGLE"] as const) {
    const id = `${provider}_CLIENT_ID`;
    const secret = `${provider}_CLIENT_SECRET`;
    if (set(id) && !set(secret)) problems.push({ name: secret, message: `is required when ${id} is set` });
    if (set(secret) && !set(id)) problems.push({ name: id, message: `is required when ${secret} is set` });
  }
  return problems;
}

export interface OAuthClient {
  clientId: string;
  clientSecret: string;
}

/** Kiln's validated configuration. Secrets live here and nowhere else. */
export interface KilnConfig {
  nodeEnv: Env["NODE_ENV"];
  port: number;
  host: string;
  dataDir: string;
  publicUrl: string | undefined;
  allowedOrigins: string[];
  databaseUrl: string | undefined;
  logLevel: Env["LOG_LEVEL"];
  /** Undefined means: pretty on a terminal outside production, JSON otherwise. */
  logFormat: Env["LOG_FORMAT"];
  /** Undefined until resolved: in development a missing secret is generated once and kept in the data directory. */
  authSecret: string | undefined;
  github: OAuthClient | undefined;
  /** The GitHub App (webhooks, installation tokens); undefined when GITHUB_APP_* are unset. */
  githubApp: GitHubAppConfig | undefined;
  google: OAuthClient | undefined;
  rivet: { endpoint: string; token: string | undefined; namespace: string | undefined } | undefined;
  /** Proxies whose X-Forwarded-For Kiln believes (KILN_TRUSTED_PROXIES); nobody else's. */
  trustedProxies: Cidr[];
  /** Sign-in and sign-up limits (KILN_AUTH_RATE_LIMIT); on unless turned off explicitly. */
  authRateLimit: boolean;
  /** Repos from local paths and file:// URLs: on by default outside production, for development. */
  allowLocalRemotes: boolean;
  /**
   * Credentials for real agents (claude, codex…), passed into sandbox servers only when the
   * operator sets them. Never logged, never returned by a route.
   */
  agentEnv: Record<string, string>;
  /** The Polar paywall on cloud workers; undefined when the gate is off (Polar is then never called). */
  polarGate: PolarGateConfig | undefined;
  /** `local` runs a real sandbox-agent per sandbox; `local-git` is the in-process stand-in; `daytona` needs DAYTONA_API_KEY. */
  sandboxProvider: Env["KILN_SANDBOX_PROVIDER"];
  /** Where new cloud workers run (PROVISIONER_MODE). */
  workerProvisioner: Env["PROVISIONER_MODE"];
  /** Set when DAYTONA_API_KEY is: task sandboxes and workers may then use Daytona. */
  daytona: DaytonaProviderConfig | undefined;
  /** Set when Render's variables are: workers may then use Render. */
  render: RenderProviderConfig | undefined;
}

/** One line per problem, each naming its variable. */
export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  ${p}`).join("\n")}`);
    this.name = "ConfigError";
    this.problems = problems;
  }
}

/** Reads `.env` from `cwd` when present. Variables already in the environment win. */
export function readDotEnv(cwd = process.cwd()): Record<string, string> {
  const path = resolve(cwd, ".env");
  if (!existsSync(path)) return {};
  return parseEnv(readFileSync(path, "utf8")) as Record<string, string>;
}

/** Validates the environment into a KilnConfig, or throws ConfigError listing every problem. */
export function loadConfig(env: Record<string, string | undefined>, cwd = process.cwd()): KilnConfig {
  const parsed = FieldsSchema.safeParse(env);
  const problems = [
    ...(parsed.success ? [] : parsed.error.issues.map((issue) => ({ name: issue.path.join(".") || "environment", message: issue.message }))),
    ...crossFieldProblems(env),
    ...githubAppProblems(env),
  ];
  if (!parsed.success || problems.length > 0) {
    throw new ConfigError(
      problems.map(({ name, message }) => {
        const received = name in env && !/SECRET|TOKEN|PASSWORD|DATABASE_URL|API_KEY|PRIVATE_KEY/.test(name) ? ` (got "${env[name]}")` : "";
        return `${name}: ${message}${received}`;
      }),
    );
  }
  const e = parsed.data;
  return {
    nodeEnv: e.NODE_ENV,
    port: e.PORT,
    host: e.HOST,
    dataDir: resolve(cwd, e.KILN_DATA_DIR),
    publicUrl: e.KILN_PUBLIC_URL?.replace(/\/+$/, ""),
    allowedOrigins: e.KILN_ALLOWED_ORIGINS.map((o) => new URL(o).origin),
    databaseUrl: e.DATABASE_URL,
    logLevel: e.LOG_LEVEL,
    logFormat: e.LOG_FORMAT,
    authSecret: e.BETTER_AUTH_SECRET,
    github: e.GITHUB_CLIENT_ID && e.GITHUB_CLIENT_SECRET ? { clientId: e.GITHUB_CLIENT_ID, clientSecret: e.GITHUB_CLIENT_SECRET } : undefined,
    githubApp: githubAppConfig(env),
    google: e.GOOGLE_CLIENT_ID && e.GOOGLE_CLIENT_SECRET ? { clientId: e.GOOGLE_CLIENT_ID, clientSecret: e.GOOGLE_CLIENT_SECRET } : undefined,
    sandboxProvider: e.KILN_SANDBOX_PROVIDER,
    workerProvisioner: e.PROVISIONER_MODE,
    daytona: e.DAYTONA_API_KEY
      ? {
          apiKey: e.DAYTONA_API_KEY,
          apiUrl: e.DAYTONA_API_URL,
          target: e.DAYTONA_TARGET,
          snapshot: e.DAYTONA_SNAPSHOT,
          resources: {
            ...(e.DAYTONA_CPU ? { cpu: e.DAYTONA_CPU } : {}),
            ...(e.DAYTONA_MEMORY ? { memory: e.DAYTONA_MEMORY } : {}),
            ...(e.DAYTONA_DISK ? { disk: e.DAYTONA_DISK } : {}),
          },
          workdir: e.DAYTONA_WORKDIR ?? "/home/daytona/kiln",
          agentPort: e.DAYTONA_AGENT_PORT ?? 3000,
          autoStopMinutes: e.DAYTONA_AUTO_STOP_MINUTES ?? 0,
        }
      : undefined,
    render:
      e.RENDER_API_KEY && e.RENDER_OWNER_ID && e.RENDER_WORKER_IMAGE
        ? {
            apiKey: e.RENDER_API_KEY,
            apiUrl: (e.RENDER_API_URL ?? "https://api.render.com/v1").replace(/\/+$/, ""),
            ownerId: e.RENDER_OWNER_ID,
            image: e.RENDER_WORKER_IMAGE,
            plan: e.RENDER_WORKER_PLAN ?? "starter",
            region: e.RENDER_WORKER_REGION ?? "oregon",
            healthPath: e.RENDER_WORKER_HEALTH_PATH ?? "/v1/health",
          }
        : undefined,
    polarGate:
      e.POLAR_FEATURE_GATE_ENABLED === "true" && e.POLAR_ACCESS_TOKEN && e.POLAR_PRODUCT_ID && e.POLAR_BENEFIT_ID && e.POLAR_SUCCESS_URL && e.POLAR_RETURN_URL
        ? {
            accessToken: e.POLAR_ACCESS_TOKEN,
            productId: e.POLAR_PRODUCT_ID,
            benefitId: e.POLAR_BENEFIT_ID,
            successUrl: e.POLAR_SUCCESS_URL,
            returnUrl: e.POLAR_RETURN_URL,
            serverUrl: e.POLAR_SERVER_URL,
          }
        : undefined,
    agentEnv: Object.fromEntries(
      (["ANTHROPIC_API_KEY", "OPENAI_API_KEY"] as const).flatMap((k) => (e[k] ? [[k, e[k]] as [string, string]] : [])),
    ),
    allowLocalRemotes: e.KILN_ALLOW_LOCAL_REMOTES ? e.KILN_ALLOW_LOCAL_REMOTES === "true" : e.NODE_ENV !== "production",
    trustedProxies: e.KILN_TRUSTED_PROXIES,
    authRateLimit: e.KILN_AUTH_RATE_LIMIT === "on",
    rivet: e.RIVET_ENDPOINT ? { endpoint: e.RIVET_ENDPOINT, token: e.RIVET_TOKEN, namespace: e.RIVET_NAMESPACE } : undefined,
  };
}
