import { existsSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig, readDotEnv } from "../server/config.js";
import { resolveAuthSecret } from "../server/data-dir.js";
import { MIN_OPEN_FILES } from "../server/limits.js";
import { spawnKiln, tempDataDir, withStartups } from "./support/kiln.js";
import { until } from "./support/poll.js";

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe("configuration", () => {
  it("starts from defaults with no variables at all", () => {
    const c = loadConfig({}, "/srv/kiln");
    expect(c).toMatchObject({ port: 7741, host: "127.0.0.1", dataDir: "/srv/kiln/.kiln", databaseUrl: undefined, logLevel: "info" });
    expect(c.github).toBeUndefined();
  });

  it("names each bad variable on its own line", () => {
    const lines = problems({ PORT: "abc", DATABASE_URL: "mysql://nope", LOG_LEVEL: "loud", KILN_ALLOWED_ORIGINS: "not a url" });
    expect(lines).toHaveLength(4);
    expect(lines.find((l) => l.startsWith("PORT:"))).toContain('"abc"');
    expect(lines.some((l) => l.startsWith("DATABASE_URL:") && l.includes("postgres"))).toBe(true);
    expect(lines.some((l) => l.startsWith("LOG_LEVEL:"))).toBe(true);
    expect(lines.some((l) => l.startsWith("KILN_ALLOWED_ORIGINS"))).toBe(true);
  });

  it("never echoes a secret or a database URL in an error", () => {
    const lines = problems({ NODE_ENV: "production", BETTER_AUTH_SECRET: "tooshort-secret", DATABASE_URL: "postgres//user:pw@host" });
    expect(lines.join("\n")).not.toContain("tooshort-secret");
    expect(lines.join("\n")).not.toContain("pw@host");
  });

  it("reports field errors and cross-variable rules together", () => {
    const lines = problems({ NODE_ENV: "production", PORT: "abc", GITHUB_CLIENT_ID: "id" });
    expect(lines.map((l) => l.split(":")[0]).sort()).toEqual(["BETTER_AUTH_SECRET", "GITHUB_CLIENT_SECRET", "PORT"]);
  });

  it("requires every Polar variable when the paywall is on", () => {
    const lines = problems({ POLAR_FEATURE_GATE_ENABLED: "true", POLAR_ACCESS_TOKEN: "t" });
    expect(lines.map((l) => l.split(":")[0]).sort()).toEqual(["POLAR_BENEFIT_ID", "POLAR_PRODUCT_ID", "POLAR_RETURN_URL", "POLAR_SUCCESS_URL"]);
    expect(loadConfig({ POLAR_ACCESS_TOKEN: "t" }).polarGate).toBeUndefined();
  });

  it("requires each provisioner's variables for its PROVISIONER_MODE", () => {
    expect(loadConfig({}).workerProvisioner).toBe("local");
    expect(problems({ PROVISIONER_MODE: "daytona" })).toEqual(["DAYTONA_API_KEY: is required when PROVISIONER_MODE=daytona"]);
    expect(problems({ PROVISIONER_MODE: "render", RENDER_API_KEY: "k" }).map((l) => l.split(":")[0]).sort()).toEqual(["RENDER_OWNER_ID", "RENDER_WORKER_IMAGE"]);
    expect(problems({ PROVISIONER_MODE: "fly" })[0]).toMatch(/^PROVISIONER_MODE: must be local, daytona or render \(got "fly"\)/);
    expect(problems({ KILN_SANDBOX_PROVIDER: "daytona" })).toEqual(["DAYTONA_API_KEY: is required when KILN_SANDBOX_PROVIDER=daytona"]);
    expect(problems({ DAYTONA_API_KEY: "k", DAYTONA_CPU: "two", DAYTONA_AGENT_PORT: "70000", DAYTONA_WORKDIR: "kiln" }).map((l) => l.split(":")[0]).sort()).toEqual([
      "DAYTONA_AGENT_PORT",
      "DAYTONA_CPU",
      "DAYTONA_WORKDIR",
    ]);
    const c = loadConfig({ PROVISIONER_MODE: "render", RENDER_API_KEY: "rk", RENDER_OWNER_ID: "tea-1", RENDER_WORKER_IMAGE: "img:1", DAYTONA_API_KEY: "dk", DAYTONA_CPU: "" });
    expect(c.render).toMatchObject({ apiUrl: "https://api.render.com/v1", ownerId: "tea-1", image: "img:1", plan: "starter", region: "oregon" });
    expect(c.daytona).toMatchObject({ apiKey: "dk", resources: {}, agentPort: 3000 });
  });

  it("never echoes a provider API key in an error", () => {
    const lines = problems({ PROVISIONER_MODE: "render", RENDER_API_KEY: "rnd_secret_value", RENDER_API_URL: "nope" });
    expect(lines.join("\n")).not.toContain("rnd_secret_value");
    expect(lines.some((l) => l.startsWith("RENDER_API_URL:"))).toBe(true);
  });

  it("requires a secret of 32+ characters in production", () => {
    expect(problems({ NODE_ENV: "production" })).toEqual(["BETTER_AUTH_SECRET: is required when NODE_ENV=production"]);
    expect(problems({ NODE_ENV: "production", BETTER_AUTH_SECRET: "x".repeat(31) })[0]).toMatch(/^BETTER_AUTH_SECRET: must be at least 32/);
    expect(problems({ NODE_ENV: "production", BETTER_AUTH_SECRET: "x".repeat(32) })).toEqual([]);
  });

  it("enables GitHub and Google sign-in only with both id and secret", () => {
    expect(problems({ GITHUB_CLIENT_ID: "id" })).toEqual(["GITHUB_CLIENT_SECRET: is required when GITHUB_CLIENT_ID is set"]);
    expect(problems({ GOOGLE_CLIENT_SECRET: "s" })).toEqual(["GOOGLE_CLIENT_ID: is required when GOOGLE_CLIENT_SECRET is set"]);
    const c = loadConfig({ GITHUB_CLIENT_ID: "id", GITHUB_CLIENT_SECRET: "s", GOOGLE_CLIENT_ID: "g", GOOGLE_CLIENT_SECRET: "gs" });
    expect(c.github).toEqual({ clientId: "id", clientSecret: "s" });
    expect(c.google).toEqual({ clientId: "g", clientSecret: "gs" });
  });

  it("reads .env, with the real environment winning", () => {
    const dir = tempDataDir();
    writeFileSync(join(dir, ".env"), "PORT=8123\nLOG_LEVEL=debug\n");
    const c = loadConfig({ ...readDotEnv(dir), LOG_LEVEL: "warn" }, dir);
    expect(c.port).toBe(8123);
    expect(c.logLevel).toBe("warn");
  });

  it("generates a development secret once and keeps it in the data directory", () => {
    const dir = tempDataDir();
    const first = resolveAuthSecret(dir, undefined);
    expect(first.generated).toBe(true);
    expect(first.secret.length).toBeGreaterThanOrEqual(32);
    const second = resolveAuthSecret(dir, undefined);
    expect(second).toEqual({ secret: first.secret, generated: false });
    expect(statSync(join(dir, "auth-secret")).mode & 0o077).toBe(0);
    expect(resolveAuthSecret(dir, "configured-secret-wins-over-the-file").secret).toBe("configured-secret-wins-over-the-file");
  });

  it("exits non-zero at startup with one line per problem, naming the variable", async () => {
    const dataDir = tempDataDir();
    const kiln = await spawnKiln({ KILN_DATA_DIR: dataDir, PORT: "abc", DATABASE_URL: "http://x" }, { expectReady: false });
    const code = await kiln.exited;
    expect(code).toBe(2);
    const out = kiln.output();
    expect(out).toMatch(/^ {2}PORT: .*"abc"/m);
    expect(out).toMatch(/^ {2}DATABASE_URL: /m);
    expect(existsSync(join(dataDir, "pglite"))).toBe(false);
  }, withStartups(1));

  it("exits non-zero at startup when the provisioner's variables are missing, naming them", async () => {
    const kiln = await spawnKiln({ KILN_DATA_DIR: tempDataDir(), PROVISIONER_MODE: "render", RENDER_API_KEY: "rk" }, { expectReady: false });
    expect(await kiln.exited).toBe(2);
    expect(kiln.output()).toContain("RENDER_OWNER_ID: is required when PROVISIONER_MODE=render");
    expect(kiln.output()).toContain("RENDER_WORKER_IMAGE: is required when PROVISIONER_MODE=render");
    expect(kiln.output()).not.toContain("rk\"");
  }, withStartups(1));

  it("exits non-zero in production without a proper secret", async () => {
    const kiln = await spawnKiln({ KILN_DATA_DIR: tempDataDir(), NODE_ENV: "production" }, { expectReady: false });
    expect(await kiln.exited).toBe(2);
    expect(kiln.output()).toContain("BETTER_AUTH_SECRET: is required when NODE_ENV=production");
  }, withStartups(1));

  it("warns at startup when the open-files limit is too low for many awake actors", async () => {
    const low = await spawnKiln({ KILN_DATA_DIR: tempDataDir() }, { wrapper: ["prlimit", "--nofile=1024"] });
    const roomy = await spawnKiln({ KILN_DATA_DIR: tempDataDir(), LOG_LEVEL: "info" }, { wrapper: ["prlimit", `--nofile=${MIN_OPEN_FILES}`] });
    try {
      const warning = await until(async () => low.output(), (out) => out.includes("open-files limit is low"), { timeoutMs: 10_000 });
      expect(warning).toContain('"openFiles":1024');
      expect(warning).toContain('"awakeActorsAtMost":341');
    } finally {
      await Promise.all([low.kill(), roomy.kill()]);
    }
    // Read once it has stopped: everything it would have said at start is in.
    expect(roomy.output()).toContain("shutting down");
    expect(roomy.output()).not.toContain("open-files limit");
  }, withStartups(2));
});
