import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ACCOUNT_ADDRESS_LIMIT, ADDRESS_LIMIT } from "../server/auth-limits.js";
import { ConfigError, loadConfig } from "../server/config.js";
import { jsonInit, signUp, socketTransport, uniqueEmail, type SignedUp } from "./support/http.js";
import { startTestKiln, type TestKiln } from "./support/kiln.js";

async function signIn(kiln: TestKiln, email: string, password: string, forwardedFor?: string): Promise<Response> {
  return socketTransport(kiln.url).request(
    "/api/auth/sign-in/email",
    jsonInit("POST", { email, password }, forwardedFor ? { "x-forwarded-for": forwardedFor } : {}),
  );
}

describe("sign-in limits, behind no proxy", () => {
  let kiln: TestKiln;
  let ann: SignedUp;

  beforeAll(async () => {
    kiln = await startTestKiln();
    ann = await signUp(socketTransport(kiln.url));
  });
  afterAll(async () => {
    await kiln?.stop();
  });

  it("stops wrong passwords to one account from one address, whatever X-Forwarded-For says", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < ACCOUNT_ADDRESS_LIMIT.max + 3; i++) {
      statuses.push((await signIn(kiln, ann.user.email, "wrong-password", `203.0.113.${i}`)).status);
    }
    expect(statuses.slice(0, ACCOUNT_ADDRESS_LIMIT.max)).toEqual(Array(ACCOUNT_ADDRESS_LIMIT.max).fill(401));
    expect(statuses.slice(ACCOUNT_ADDRESS_LIMIT.max)).toEqual([429, 429, 429]);
    const refused = await signIn(kiln, ann.user.email, ann.password);
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(await refused.json()).toMatchObject({ error: "rate_limited", message: expect.any(String) });
  });

});

describe("sign-in limits behind a trusted proxy", () => {
  let kiln: TestKiln;
  let ann: SignedUp;

  beforeAll(async () => {
    // The test client is the proxy: its X-Forwarded-For names the real client.
    kiln = await startTestKiln({ env: { KILN_TRUSTED_PROXIES: "127.0.0.1/32, ::1" } });
    ann = await signUp(socketTransport(kiln.url));
  });
  afterAll(async () => {
    await kiln?.stop();
  });

  it("locks out the guessing address, not the owner's correct password from another", async () => {
    for (let i = 0; i < ACCOUNT_ADDRESS_LIMIT.max; i++) expect((await signIn(kiln, ann.user.email, "wrong-password", "198.51.100.7")).status).toBe(401);
    expect((await signIn(kiln, ann.user.email, "wrong-password", "198.51.100.7")).status).toBe(429);
    expect((await signIn(kiln, ann.user.email, ann.password, "198.51.100.7")).status).toBe(429);
    expect((await signIn(kiln, ann.user.email, ann.password, "192.0.2.10")).status).toBe(200);
  });

  it("reads X-Forwarded-For from the right: a hop the client wrote itself does not choose its bucket", async () => {
    const bob = await signUp(socketTransport(kiln.url));
    for (let i = 0; i < ACCOUNT_ADDRESS_LIMIT.max; i++) {
      // The proxy appends the real address; whatever the client put before it is ignored.
      expect((await signIn(kiln, bob.user.email, "wrong-password", `10.9.9.${i}, 198.51.100.99`)).status).toBe(401);
    }
    expect((await signIn(kiln, bob.user.email, "wrong-password", "10.9.9.200, 198.51.100.99")).status).toBe(429);
  });

  it("counts every attempt from an address, across accounts and sign-up", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < ADDRESS_LIMIT.max + 1; i++) statuses.push((await signIn(kiln, uniqueEmail("nobody"), "whatever-password", "198.51.100.200")).status);
    expect(statuses.filter((s) => s === 401)).toHaveLength(ADDRESS_LIMIT.max);
    expect(statuses.at(-1)).toBe(429);
    const signUpFrom = (address: string) =>
      socketTransport(kiln.url).request(
        "/api/auth/sign-up/email",
        jsonInit("POST", { email: uniqueEmail(), password: "correct-horse-battery", name: "Late" }, { "x-forwarded-for": address }),
      );
    expect((await signUpFrom("198.51.100.200")).status).toBe(429);
    expect((await signUpFrom("198.51.100.201")).status).toBe(200);
  });
});

describe("KILN_TRUSTED_PROXIES", () => {
  it("refuses what is not an address or a CIDR, naming the variable", () => {
    for (const value of ["10.0.0.0/33", "proxy.internal", "10.0.0.0/8,,nope", "::1/129"]) {
      expect(() => loadConfig({ KILN_TRUSTED_PROXIES: value }), value).toThrow(ConfigError);
      try {
        loadConfig({ KILN_TRUSTED_PROXIES: value });
      } catch (err) {
        expect((err as ConfigError).problems).toEqual([expect.stringMatching(/^KILN_TRUSTED_PROXIES: /)]);
      }
    }
    expect(loadConfig({ KILN_TRUSTED_PROXIES: "10.0.0.0/8, fd00::/8, 192.0.2.1" }).trustedProxies).toHaveLength(3);
  });

  it("leaves the limits on in every NODE_ENV unless KILN_AUTH_RATE_LIMIT=off", () => {
    for (const NODE_ENV of ["development", "test", "production"]) {
      expect(loadConfig({ NODE_ENV, BETTER_AUTH_SECRET: "x".repeat(40) }).authRateLimit).toBe(true);
    }
    expect(loadConfig({ KILN_AUTH_RATE_LIMIT: "off" }).authRateLimit).toBe(false);
  });
});
