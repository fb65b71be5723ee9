import { randomBytes } from "node:crypto";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { session as sessionTable } from "../server/db/schema.js";
import { databaseBackends } from "./support/db.js";
import { bearer, cookieFrom, inProcessTransport, jsonInit, signUp, socketTransport, uniqueEmail, type Transport } from "./support/http.js";
import { startTestKiln, type TestKiln } from "./support/kiln.js";

const backends = await databaseBackends();

describe.each(backends)("auth on %s", (backend) => {
  let kiln: TestKiln;
  beforeAll(async () => {
    kiln = await startTestKiln({ backend });
  });
  afterAll(() => kiln?.stop());

  const transports = (): Transport[] => [socketTransport(kiln.url), inProcessTransport(kiln.app, kiln.url)];

  describe.each(["socket", "in-process"] as const)("over %s", (which) => {
    const t = () => transports().find((x) => x.name === which)!;

    it("signs up and returns a session token, a cookie and the user", async () => {
      const email = uniqueEmail("signup");
      const res = await t().request("/api/auth/sign-up/email", jsonInit("POST", { email, password: "long-enough-pw", name: "Sam" }));
      expect(res.status).toBe(200);
      const body = (await res.json()) as { token: string; user: { email: string; name: string; id: string } };
      expect(body.token).toMatch(/\S{20,}/);
      expect(body.user).toMatchObject({ email, name: "Sam" });
      expect(cookieFrom(res)).toContain("session_token=");
    });

    it("serves /v1/me with a bearer token, listing exactly one personal organization", async () => {
      const u = await signUp(t(), { name: "Bea" });
      const res = await t().request("/v1/me", { headers: bearer(u.token) });
      expect(res.status).toBe(200);
      const me = (await res.json()) as { user: { id: string }; session: { id: string; expiresAt: string }; organizations: unknown[] };
      expect(me.user).toEqual({ id: u.user.id, email: u.user.email, name: "Bea" });
      expect(new Date(me.session.expiresAt).getTime()).toBeGreaterThan(Date.now());
      expect(me.organizations).toEqual([{ id: `personal-${u.user.id}`, kind: "personal", name: "Bea's workspace", role: "owner" }]);
    });

    it("serves /v1/me with the session cookie", async () => {
      const u = await signUp(t());
      const res = await t().request("/v1/me", { headers: { cookie: u.cookie } });
      expect(res.status).toBe(200);
      expect(((await res.json()) as { user: { id: string } }).user.id).toBe(u.user.id);
    });

    it("signs in with the right password, with a new working token", async () => {
      const u = await signUp(t());
      const res = await t().request("/api/auth/sign-in/email", jsonInit("POST", { email: u.user.email, password: u.password }));
      expect(res.status).toBe(200);
      const body = (await res.json()) as { token: string };
      expect(body.token).not.toBe(u.token);
      expect((await t().request("/v1/me", { headers: bearer(body.token) })).status).toBe(200);
      expect((await t().request("/v1/me", { headers: { cookie: cookieFrom(res) } })).status).toBe(200);
    });

    it("refuses a wrong password with 401 and the error shape", async () => {
      const u = await signUp(t());
      const res = await t().request("/api/auth/sign-in/email", jsonInit("POST", { email: u.user.email, password: "wrong-password" }));
      expect(res.status).toBe(401);
      expect(await res.json()).toMatchObject({ error: "unauthorized", message: expect.any(String) });
    });

    it("signs out with a bearer token, after which the token gets 401", async () => {
      const u = await signUp(t());
      // Used first, so a verified token is remembered: sign-out must still end it at once.
      expect((await t().request("/v1/me", { headers: bearer(u.token) })).status).toBe(200);
      const out = await t().request("/api/auth/sign-out", { method: "POST", headers: bearer(u.token) });
      expect(out.status).toBe(200);
      const res = await t().request("/v1/me", { headers: bearer(u.token) });
      expect(res.status).toBe(401);
      expect(await res.json()).toMatchObject({ error: "unauthorized" });
    });

    it("ends the other sessions at once when a user revokes them, keeping the current one", async () => {
      const u = await signUp(t());
      const other = await t().request("/api/auth/sign-in/email", jsonInit("POST", { email: u.user.email, password: u.password }));
      const otherToken = ((await other.json()) as { token: string }).token;
      for (const token of [u.token, otherToken]) expect((await t().request("/v1/me", { headers: bearer(token) })).status).toBe(200);
      const post = (path: string, token: string) => t().request(path, { ...jsonInit("POST", {}), headers: { ...bearer(token), "content-type": "application/json" } });
      const revoked = await post("/api/auth/revoke-other-sessions", u.token);
      expect(revoked.status).toBe(200);
      expect((await t().request("/v1/me", { headers: bearer(otherToken) })).status).toBe(401);
      expect((await t().request("/v1/me", { headers: bearer(u.token) })).status).toBe(200);
      expect((await post("/api/auth/revoke-sessions", u.token)).status).toBe(200);
      expect((await t().request("/v1/me", { headers: bearer(u.token) })).status).toBe(401);
    });

    it("shows a user's new name at once after they change it", async () => {
      const u = await signUp(t(), { name: "Before" });
      const me = async () => ((await (await t().request("/v1/me", { headers: bearer(u.token) })).json()) as { user: { name: string } }).user.name;
      expect(await me()).toBe("Before");
      const updated = await t().request("/api/auth/update-user", {
        ...jsonInit("POST", { name: "After" }),
        headers: { ...bearer(u.token), "content-type": "application/json" },
      });
      expect(updated.status).toBe(200);
      expect(await me()).toBe("After");
    });

    it("signs out with the cookie, after which the cookie gets 401", async () => {
      const u = await signUp(t());
      // Used first, so the verified cookie is remembered: sign-out must still end it at once.
      expect((await t().request("/v1/me", { headers: { cookie: u.cookie } })).status).toBe(200);
      const out = await t().request("/api/auth/sign-out", { method: "POST", headers: { cookie: u.cookie } });
      expect(out.status).toBe(200);
      expect((await t().request("/v1/me", { headers: { cookie: u.cookie } })).status).toBe(401);
    });

    it("answers 401 with no credential, a made-up token or a made-up cookie", async () => {
      for (const headers of [{}, bearer("not-a-real-token"), { cookie: "better-auth.session_token=forged.value" }]) {
        const res = await t().request("/v1/me", { headers });
        expect(res.status).toBe(401);
        expect(await res.json()).toEqual({ error: "unauthorized", message: expect.any(String) });
      }
    });

    it("answers 401 once the session has expired", async () => {
      const u = await signUp(t());
      await kiln.db.db.update(sessionTable).set({ expiresAt: new Date(Date.now() - 1000) }).where(eq(sessionTable.userId, u.user.id));
      expect((await t().request("/v1/me", { headers: bearer(u.token) })).status).toBe(401);
    });

    it("rejects an invalid sign-up with 400 invalid_request and the zod issues", async () => {
      const res = await t().request("/api/auth/sign-up/email", jsonInit("POST", { email: "not-an-email", password: "short" }));
      expect(res.status).toBe(400);
      const body = (await res.json()) as { error: string; details: { path: string[] }[] };
      expect(body.error).toBe("invalid_request");
      expect(body.details.map((d) => d.path.join("."))).toEqual(expect.arrayContaining(["email", "password", "name"]));
    });

    it("rejects malformed JSON with 400 invalid_request", async () => {
      const res = await t().request("/api/auth/sign-in/email", { method: "POST", headers: { "content-type": "application/json" }, body: "{nope" });
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ error: "invalid_request" });
    });

    it("refuses a second account on the same email with 409 conflict", async () => {
      const u = await signUp(t());
      const res = await t().request("/api/auth/sign-up/email", jsonInit("POST", { email: u.user.email, password: "another-password", name: "X" }));
      expect(res.status).toBe(409);
      expect(await res.json()).toMatchObject({ error: "conflict" });
    });
  });

  it("ends every session of a user who revokes them all, however many they have", async () => {
    const t = inProcessTransport(kiln.app, kiln.url);
    const u = await signUp(t);
    // More sessions than better-auth lists for its delete hooks (100): each must still end at once.
    const extra = Array.from({ length: 110 }, (_, i) => ({
      id: `bulk-${u.user.id}-${i}`,
      token: `bulk${i}x${randomBytes(16).toString("hex")}`,
      userId: u.user.id,
      // As if just created: an older one is refreshed when read, which itself drops it from the cache.
      expiresAt: new Date(Date.now() + 7 * 86_400_000),
    }));
    await kiln.db.db.insert(sessionTable).values(extra);
    const tokens = [u.token, ...extra.map((x) => x.token)];
    const statuses = async () => {
      const out: number[] = [];
      for (const token of tokens) out.push((await t.request("/v1/me", { headers: bearer(token) })).status);
      return out;
    };
    expect(new Set(await statuses())).toEqual(new Set([200]));
    const revoked = await t.request("/api/auth/revoke-sessions", { ...jsonInit("POST", {}), headers: { ...bearer(u.token), "content-type": "application/json" } });
    expect(revoked.status).toBe(200);
    expect(new Set(await statuses())).toEqual(new Set([401]));
  });

  it("treats email case-insensitively at sign-in", async () => {
    const t = socketTransport(kiln.url);
    const u = await signUp(t, { email: uniqueEmail("MiXed").toLowerCase() });
    const res = await t.request("/api/auth/sign-in/email", jsonInit("POST", { email: u.user.email.toUpperCase(), password: u.password }));
    expect(res.status).toBe(200);
  });

  it("refuses a cross-site sign-in from an origin that is not allowed", async () => {
    const u = await signUp(socketTransport(kiln.url));
    const res = await fetch(`${kiln.url}/api/auth/sign-in/email`, {
      ...jsonInit("POST", { email: u.user.email, password: u.password }),
      headers: { "content-type": "application/json", origin: "https://evil.example", cookie: u.cookie },
    });
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ error: "forbidden" });
  });
});
