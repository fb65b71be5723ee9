import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jsonInit, socketTransport } from "./support/http.js";
import { startTestKiln, type TestKiln } from "./support/kiln.js";

describe("social sign-in", () => {
  let kiln: TestKiln;
  beforeAll(async () => {
    kiln = await startTestKiln({
      env: { GITHUB_CLIENT_ID: "gh-client-id", GITHUB_CLIENT_SECRET: "gh-client-secret", GOOGLE_CLIENT_ID: "g-client-id", GOOGLE_CLIENT_SECRET: "g-client-secret" },
    });
  });
  afterAll(() => kiln?.stop());

  it("sends the user to GitHub when GitHub is configured, without exposing the secret", async () => {
    const res = await socketTransport(kiln.url).request("/api/auth/sign-in/social", jsonInit("POST", { provider: "github", disableRedirect: true }));
    expect(res.status).toBe(200);
    const body = (await res.json()) as { url: string };
    const url = new URL(body.url);
    expect(url.origin).toBe("https://github.com");
    expect(url.searchParams.get("client_id")).toBe("gh-client-id");
    expect(url.searchParams.get("redirect_uri")).toBe(`${kiln.url}/api/auth/callback/github`);
    expect(JSON.stringify(body)).not.toContain("gh-client-secret");
  });

  it("sends the user to Google when Google is configured", async () => {
    const res = await socketTransport(kiln.url).request("/api/auth/sign-in/social", jsonInit("POST", { provider: "google", disableRedirect: true }));
    expect(res.status).toBe(200);
    const url = new URL(((await res.json()) as { url: string }).url);
    expect(url.hostname).toBe("accounts.google.com");
    expect(url.searchParams.get("client_id")).toBe("g-client-id");
  });

  it("refuses a provider that is not configured", async () => {
    const res = await socketTransport(kiln.url).request("/api/auth/sign-in/social", jsonInit("POST", { provider: "discord" }));
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expect(await res.json()).toMatchObject({ error: expect.any(String), message: expect.any(String) });
  });
});
