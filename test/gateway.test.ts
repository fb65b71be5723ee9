import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bearer, signUp, socketTransport } from "./support/http.js";
import { startTestKiln, type TestKiln } from "./support/kiln.js";

describe("the HTTP gateway", () => {
  let kiln: TestKiln;
  beforeAll(async () => {
    kiln = await startTestKiln({ env: { KILN_ALLOWED_ORIGINS: "https://app.example.com" } });
  });
  afterAll(() => kiln?.stop());

  it("reports health with version, database and actor mode", async () => {
    const res = await fetch(`${kiln.url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true, version: "0.1.0", db: "pglite", actors: "local" });
  });

  it("takes a well-formed x-request-id and sends it back; makes one otherwise", async () => {
    const echoed = await fetch(`${kiln.url}/healthz`, { headers: { "x-request-id": "abc-123" } });
    expect(echoed.headers.get("x-request-id")).toBe("abc-123");
    const made = await fetch(`${kiln.url}/healthz`, { headers: { "x-request-id": "bad id with spaces" } });
    expect(made.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("answers an unknown route with 404 not_found as JSON", async () => {
    const res = await fetch(`${kiln.url}/v2/nothing-here`);
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: "not_found", message: "No route for GET /v2/nothing-here." });
  });

  it("allows CORS for configured origins only", async () => {
    const ok = await fetch(`${kiln.url}/v1/me`, {
      method: "OPTIONS",
      headers: { origin: "https://app.example.com", "access-control-request-method": "GET" },
    });
    expect(ok.headers.get("access-control-allow-origin")).toBe("https://app.example.com");
    expect(ok.headers.get("access-control-allow-credentials")).toBe("true");
    const no = await fetch(`${kiln.url}/v1/me`, {
      method: "OPTIONS",
      headers: { origin: "https://evil.example", "access-control-request-method": "GET" },
    });
    expect(no.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("trusts configured origins for cookie sign-in too", async () => {
    const u = await signUp(socketTransport(kiln.url));
    const res = await fetch(`${kiln.url}/api/auth/sign-in/email`, {
      method: "POST",
      headers: { "content-type": "application/json", origin: "https://app.example.com" },
      body: JSON.stringify({ email: u.user.email, password: u.password }),
    });
    expect(res.status).toBe(200);
  });

  it("serves an OpenAPI 3.1 document generated from the route schemas", async () => {
    const res = await fetch(`${kiln.url}/openapi.json`);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as {
      openapi: string;
      paths: Record<string, Record<string, { requestBody?: { content: Record<string, { schema: unknown }> } }>>;
      components: { schemas: Record<string, { required?: string[]; properties?: Record<string, unknown> }> };
    };
    expect(doc.openapi).toBe("3.1.0");
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(["/healthz", "/v1/me", "/api/auth/sign-up/email", "/api/auth/sign-in/email", "/api/auth/sign-out"]),
    );
    expect(doc.components.schemas.SignUpBody?.required).toEqual(expect.arrayContaining(["email", "password", "name"]));
    expect(doc.components.schemas.Me?.properties).toHaveProperty("organizations");
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(["/v1/orgs/{orgId}/tasks", "/v1/orgs/{orgId}/tasks/{taskId}/branch", "/v1/orgs/{orgId}", "/v1/orgs/{orgId}/settings", "/v1/workers", "/v1/workers/{id}"]),
    );
    expect(doc.components.schemas.TaskPage?.properties).toHaveProperty("nextCursor");
    expect(Object.keys(doc.paths).filter((p) => p.startsWith("/api/rivet"))).toEqual([]);
  });

  it("renders the docs page with its assets served locally", async () => {
    const page = await fetch(`${kiln.url}/docs`);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain("/openapi.json");
    const js = await fetch(`${kiln.url}/docs/assets/swagger-ui-bundle.js`);
    expect(js.status).toBe(200);
    expect(js.headers.get("content-type")).toContain("javascript");
    expect((await fetch(`${kiln.url}/docs/assets/..%2Fpackage.json`)).status).toBe(404);
  });
});
