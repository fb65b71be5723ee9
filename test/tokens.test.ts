import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api } from "./support/api.js";
import { databaseBackends } from "./support/db.js";
import { signUp, socketTransport, type SignedUp } from "./support/http.js";
import { startTestKiln, type TestKiln } from "./support/kiln.js";

const backends = await databaseBackends();

interface Created {
  id: string;
  token: string;
  prefix: string;
  scopes: string[];
}

describe.each(backends)("personal access tokens (%s)", (backend) => {
  let kiln: TestKiln;
  let ann: SignedUp;
  let A: ReturnType<typeof api>;

  beforeAll(async () => {
    kiln = await startTestKiln({ backend });
    ann = await signUp(socketTransport(kiln.url), { name: "Ann" });
    A = api(socketTransport(kiln.url), ann.token);
  });
  afterAll(async () => {
    await kiln?.stop();
  });

  it("shows the secret once, lists tokens without it, and keeps only a hash", async () => {
    const res = await A.post<Created>("/v1/tokens", { name: "laptop", scopes: ["api"] });
    expect(res.status).toBe(201);
    expect(res.body.token).toMatch(/^kiln_pat_[A-Za-z0-9_-]{40,}$/);
    expect(res.body.token.startsWith(res.body.prefix)).toBe(true);
    const list = await A.get<{ tokens: Record<string, unknown>[] }>("/v1/tokens");
    expect(list.status).toBe(200);
    const listed = list.body.tokens.find((t) => t.id === res.body.id);
    expect(listed).toMatchObject({ name: "laptop", scopes: ["api"], revokedAt: null, deviceId: null });
    expect(JSON.stringify(list.body)).not.toContain(res.body.token);
    const stored = JSON.stringify(await kiln.db.db.execute("select * from personal_access_token"));
    expect(stored).not.toContain(res.body.token);
  });

  it("an `api` token acts as its user on /v1, a device-only token does not", async () => {
    const apiToken = (await A.post<Created>("/v1/tokens", { name: "cli", scopes: ["api"] })).body.token;
    const me = await api(socketTransport(kiln.url), apiToken).get<{ user: { id: string } }>("/v1/me");
    expect(me.status).toBe(200);
    expect(me.body.user.id).toBe(ann.user.id);
    const deviceOnly = (await A.post<Created>("/v1/tokens", { name: "dev", scopes: ["device_worker:run"] })).body.token;
    const refused = await api(socketTransport(kiln.url), deviceOnly).get("/v1/me");
    expect(refused.status).toBe(403);
    expect(refused.body.error).toBe("insufficient_scope");
    // A token does not mint tokens: that would let it outlive its own revocation.
    expect((await api(socketTransport(kiln.url), apiToken).post("/v1/tokens", { name: "x", scopes: ["api"] })).status).toBe(403);
  });

  it("a token limited to an organization is refused on another's routes", async () => {
    const orgId = `personal-${ann.user.id}`;
    const limited = (await A.post<Created>("/v1/tokens", { name: "org", scopes: ["api"], orgId })).body.token;
    const L = api(socketTransport(kiln.url), limited);
    expect((await L.get(`/v1/orgs/${orgId}/agents`)).status).toBe(200);
    expect((await L.get("/v1/orgs/personal-someone-else/agents")).status).toBe(403);
  });

  it("a revoked token is refused on the very next request", async () => {
    const created = (await A.post<Created>("/v1/tokens", { name: "short", scopes: ["api"] })).body;
    const T = api(socketTransport(kiln.url), created.token);
    expect((await T.get("/v1/me")).status).toBe(200);
    expect((await A.del(`/v1/tokens/${created.id}`)).status).toBe(204);
    const after = await T.get("/v1/me");
    expect(after.status).toBe(401);
    expect(after.body.error).toBe("unauthorized");
    const listed = (await A.get<{ tokens: { id: string; revokedAt: string | null }[] }>("/v1/tokens")).body.tokens.find((t) => t.id === created.id);
    expect(listed?.revokedAt).toEqual(expect.any(String));
  });

  it("refuses unknown tokens, bad input, other people's tokens and oversized bodies", async () => {
    expect((await api(socketTransport(kiln.url), "kiln_pat_nope").get("/v1/me")).status).toBe(401);
    const bad = await A.post("/v1/tokens", { name: "x", scopes: ["write"] });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toBe("invalid_request");
    expect((await A.post("/v1/tokens", { name: "a\u0000b", scopes: ["api"] })).status).toBe(400);
    expect((await A.post("/v1/tokens", { name: "x", scopes: [] })).status).toBe(400);
    expect((await A.post("/v1/tokens", { name: "x", scopes: ["api"], orgId: "personal-someone-else" })).status).toBe(403);
    expect((await A.del("/v1/tokens/pat_000000000000000000")).status).toBe(404);
    expect((await A.del(`/v1/tokens/${"x".repeat(300)}`)).status).toBe(404);
    const ben = await signUp(socketTransport(kiln.url), { name: "Ben" });
    const mine = (await A.post<Created>("/v1/tokens", { name: "mine", scopes: ["api"] })).body;
    expect((await api(socketTransport(kiln.url), ben.token).del(`/v1/tokens/${mine.id}`)).status).toBe(404);
    const big = await A.post("/v1/tokens", { name: "x".repeat(40_000), scopes: ["api"] });
    expect(big.status).toBe(413);
    expect(big.body.error).toBe("payload_too_large");
  });
});
