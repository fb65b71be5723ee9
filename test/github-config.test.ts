import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../server/config.js";
import { spawnKiln, tempDataDir, withStartups } from "./support/kiln.js";

const KEY = "-----BEGIN RSA PRIVATE KEY-----\\nMIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu\\n-----END RSA PRIVATE KEY-----";

describe("GitHub App configuration", () => {
  it("is all or none: a partial set names each missing variable", () => {
    const err = (() => {
      try {
        loadConfig({ NODE_ENV: "test", GITHUB_APP_ID: "123" });
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(ConfigError);
    const problems = (err as ConfigError).problems;
    expect(problems.some((p) => p.startsWith("GITHUB_APP_PRIVATE_KEY:"))).toBe(true);
    expect(problems.some((p) => p.startsWith("GITHUB_WEBHOOK_SECRET:"))).toBe(true);
    expect(problems.some((p) => p.startsWith("GITHUB_APP_ID:"))).toBe(false);
  });

  it("accepts a PEM with literal \\n and never echoes it back", () => {
    const config = loadConfig({ NODE_ENV: "test", GITHUB_APP_ID: "123", GITHUB_APP_PRIVATE_KEY: KEY, GITHUB_WEBHOOK_SECRET: "s" });
    expect(config.githubApp?.privateKey).toContain("\n");
    expect(config.githubApp?.privateKey).not.toContain("\\n");
    expect(config.githubApp?.apiUrl).toBe("https://api.github.com");
    expect(loadConfig({ NODE_ENV: "test" }).githubApp).toBeUndefined();
    try {
      loadConfig({ NODE_ENV: "test", GITHUB_APP_ID: "abc", GITHUB_APP_PRIVATE_KEY: "not a key", GITHUB_WEBHOOK_SECRET: "s" });
      expect.unreachable();
    } catch (e) {
      expect((e as ConfigError).problems.join("\n")).toMatch(/GITHUB_APP_ID:[\s\S]*GITHUB_APP_PRIVATE_KEY:/);
      expect((e as ConfigError).problems.join("\n")).not.toContain("not a key");
    }
  });

  it("exits 2 at startup, naming each missing variable", async () => {
    const kiln = await spawnKiln({ KILN_DATA_DIR: tempDataDir(), GITHUB_WEBHOOK_SECRET: "s" }, { expectReady: false });
    expect(await kiln.exited).toBe(2);
    expect(kiln.output()).toContain("GITHUB_APP_ID");
    expect(kiln.output()).toContain("GITHUB_APP_PRIVATE_KEY");
  }, withStartups(1));
});
