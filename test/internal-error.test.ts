import { describe, expect, it } from "vitest";
import { bearer, jsonInit, signUp, socketTransport } from "./support/http.js";
import { startTestKiln } from "./support/kiln.js";
import { keys } from "../shared/keys.js";
import { rivetClient } from "./support/rivet.js";

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

  // RivetKit sends an unexpected error's own text to clients when NODE_ENV=development; over a
  // WebSocket the gateway cannot rewrite it, so the actors never let it out.
  for (const nodeEnv of ["development", "production", undefined]) {
    it(`reaches an open WebSocket as internal_error with no internals (NODE_ENV ${nodeEnv ?? "unset"})`, async () => {
      const kiln = await startTestKiln();
      const saved = process.env.NODE_ENV;
      const client = rivetClient(kiln.url);
      try {
        const u = await signUp(socketTransport(kiln.url));
        const created = await fetch(`${kiln.url}/v1/orgs`, jsonInit("POST", { name: "Team" }, bearer(u.token)));
        expect(created.status).toBe(201);
        const { organization } = (await created.json()) as { organization: { id: string } };
        const conn = rivetClient(kiln.url, u.token).organization.get(keys.organization(organization.id), { params: { token: u.token } }).connect();
        try {
          await conn.summary();
          // RivetKit reads NODE_ENV on each error, so the open socket sees the change.
          if (nodeEnv === undefined) delete process.env.NODE_ENV;
          else process.env.NODE_ENV = nodeEnv;
          // With the app database closed, a rename fails where no code anticipates it: pushing the
          // org's new state into the gateway's membership index.
          await kiln.db.close();
          const err = (await conn.updateProfile({ name: "Renamed" }).then(
            () => undefined,
            (e: unknown) => e,
          )) as { code?: string; message?: string; metadata?: unknown } | undefined;
          expect(err?.code).toBe("internal_error");
          expect(JSON.stringify({ message: err?.message, metadata: err?.metadata })).not.toMatch(/insert|update|org_membership|params|select|\.ts:|PGlite|closed|\/tmp\/|https?:\/\//i);
        } finally {
          process.env.NODE_ENV = saved;
          await conn.dispose();
        }
      } finally {
        process.env.NODE_ENV = saved;
        await client.dispose();
        await kiln.stop();
      }
    });
  }

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
