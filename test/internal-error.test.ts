import { describe, expect, it } from "vitest";
import { bearer, signUp, socketTransport } from "./support/http.js";
import { startTestKiln } from "./support/kiln.js";

describe("an unexpected failure", () => {
  it("is hidden behind 500 internal_error carrying the request id, with no internals", async () => {
    const kiln = await startTestKiln();
    try {
      const u = await signUp(socketTransport(kiln.url));
      // Closing the app database makes the next query fail in a way no route anticipates.
      await kiln.db.close();
      for (const [path, init] of [
        ["/v1/me", { headers: { ...bearer(u.token), "x-request-id": "req-500" } }],
        ["/api/auth/sign-in/email", { method: "POST", headers: { "content-type": "application/json", "x-request-id": "req-500", origin: kiln.url }, body: JSON.stringify({ email: u.user.email, password: u.password }) }],
      ] as const) {
        const res = await fetch(`${kiln.url}${path}`, init);
        expect(res.status).toBe(500);
        const body = (await res.json()) as Record<string, string>;
        expect(body).toEqual({ error: "internal_error", message: expect.stringContaining("req-500"), requestId: "req-500" });
        expect(JSON.stringify(body)).not.toMatch(/stack|\.ts:|PGlite|closed/i);
      }
    } finally {
      await kiln.stop();
    }
  });

  it("does not take the process down: health reports the database as unavailable", async () => {
    const kiln = await startTestKiln();
    try {
      await kiln.db.close();
      const res = await fetch(`${kiln.url}/healthz`);
      expect(res.status).toBe(503);
      expect(await res.json()).toEqual({ error: "service_unavailable", message: "The app database does not answer." });
    } finally {
      await kiln.stop();
    }
  });
});
