import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { OrgSummary } from "../shared/schemas/org.js";
import { signUp, socketTransport, type SignedUp } from "./support/http.js";
import { startTestKiln, type TestKiln } from "./support/kiln.js";
import { until } from "./support/poll.js";
import { rivetClient } from "./support/rivet.js";

/** Looks actors up as `user` (the gateway refuses anonymous lookups); each call brings its own params. */
function remoteClient(kiln: TestKiln, user: SignedUp) {
  return rivetClient(kiln.url, user.token);
}

async function rejection(p: Promise<unknown>): Promise<{ code?: string; message?: string }> {
  try {
    await p;
  } catch (err) {
    return err as { code?: string; message?: string };
  }
  throw new Error("expected the call to be refused");
}

function nextEvent<T>(subscribe: (cb: (v: T) => void) => void, ms = 5000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("no event")), ms);
    subscribe((v) => {
      clearTimeout(timer);
      resolve(v);
    });
  });
}

describe("OrganizationActor over a real socket", () => {
  let kiln: TestKiln;
  let owner: SignedUp;
  let outsider: SignedUp;
  let orgKey: string[];
  let client: ReturnType<typeof remoteClient>;

  beforeAll(async () => {
    kiln = await startTestKiln();
    const t = socketTransport(kiln.url);
    owner = await signUp(t, { name: "Olive" });
    outsider = await signUp(t, { name: "Oscar" });
    orgKey = ["org", `personal-${owner.user.id}`];
    client = remoteClient(kiln, owner);
  });
  afterAll(async () => {
    await client?.dispose();
    await kiln?.stop();
  });

  it("lets a member call an action with their session token", async () => {
    const summary = await client.organization.get(orgKey, { params: { token: owner.token } }).summary();
    expect(summary.id).toBe(`personal-${owner.user.id}`);
    expect(summary.members.map((m) => [m.userId, m.role])).toEqual([[owner.user.id, "owner"]]);
  });

  it("delivers an event with the new state to a subscribed member when the org changes", async () => {
    const conn = client.organization.get(orgKey, { params: { token: owner.token } }).connect();
    try {
      const event = nextEvent<OrgSummary>((cb) => conn.on("orgUpdated", cb));
      await conn.updateProfile({ name: "Olive's lab" });
      expect((await event).name).toBe("Olive's lab");
      const me = await kiln.app.request("/v1/me", { headers: { authorization: `Bearer ${owner.token}` } });
      const body = (await me.json()) as { organizations: { name: string }[] };
      expect(body.organizations[0]?.name).toBe("Olive's lab");
    } finally {
      await conn.dispose();
    }
  });

  it("validates a direct action call's input as the REST route does: invalid_request, never an internal error", async () => {
    const org = client.organization.get(orgKey, { params: { token: owner.token } });
    for (const query of [{ limit: "x" }, { limit: 0 }, { repoId: 42 }, { cursor: "not-ours" }]) {
      expect((await rejection(org.listTasks(query as never))).code).toBe("invalid_request");
    }
    expect((await org.listTasks({ limit: 5 })).tasks).toEqual([]);
  });

  it("refuses a non-member's action with forbidden and returns no data", async () => {
    const err = await rejection(client.organization.get(orgKey, { params: { token: outsider.token } }).summary());
    expect(err.code).toBe("forbidden");
  });

  it("refuses a non-member's subscription: it never opens and no event reaches it", async () => {
    const conn = client.organization.get(orgKey, { params: { token: outsider.token } }).connect();
    let leaked = 0;
    conn.on("orgUpdated", () => (leaked += 1));
    const errors: string[] = [];
    conn.onError((e) => errors.push((e as { code?: string }).code ?? "?"));
    try {
      // The refusal arrives whenever the connect is answered; a loaded machine must not fail this.
      await until(async () => errors, (e) => e.includes("forbidden"), { timeoutMs: 15_000 });
      // Then a change the org broadcasts: once a member has it, the refused connection must not.
      const member = client.organization.get(orgKey, { params: { token: owner.token } }).connect();
      try {
        await member.summary();
        const seen = nextEvent<OrgSummary>((cb) => member.on("orgUpdated", cb));
        await member.updateProfile({ name: "Olive's private lab" });
        expect((await seen).name).toBe("Olive's private lab");
        // Give a leaked copy on the other socket time to land before looking.
        await new Promise((r) => setTimeout(r, 250));
      } finally {
        await member.dispose();
      }
      expect(leaked).toBe(0);
      expect((await rejection(conn.summary())).code).toBe("forbidden");
    } finally {
      await conn.dispose();
    }
  });

  it("refuses an anonymous client and an invalid token with unauthorized", async () => {
    expect((await rejection(client.organization.get(orgKey).summary())).code).toBe("unauthorized");
    expect((await rejection(client.organization.get(orgKey, { params: { token: "forged" } }).summary())).code).toBe("unauthorized");
  });

  it("refuses a token once its session is signed out", async () => {
    const t = socketTransport(kiln.url);
    const u = await signUp(t);
    const key = ["org", `personal-${u.user.id}`];
    const own = remoteClient(kiln, u);
    try {
      expect((await own.organization.get(key, { params: { token: u.token } }).summary()).id).toBe(key[1]);
      await t.request("/api/auth/sign-out", { method: "POST", headers: { authorization: `Bearer ${u.token}` } });
      expect((await rejection(own.organization.get(key, { params: { token: u.token } }).summary())).code).toBe("unauthorized");
    } finally {
      await own.dispose();
    }
  });

  it("refuses a forged org id, and clients cannot create organizations", async () => {
    const forged = ["org", "personal-someone-else"];
    const lookup = await rejection(client.organization.get(forged, { params: { token: owner.token } }).summary());
    expect(lookup.code).toBe("not_found");
    const create = await rejection(client.organization.getOrCreate(forged, { params: { token: owner.token } }).summary());
    expect(create.message).toMatch(/Forbidden|created by Kiln/);
    const res = await fetch(`${kiln.url}/api/rivet/actors`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "organization", key: JSON.stringify(forged), crash_policy: "sleep" }),
    });
    expect(res.status).toBe(403);
  });

  it("never trusts ids or roles from the client: a member cannot call internal actions", async () => {
    const handle = client.organization.get(orgKey, { params: { token: owner.token } });
    const err = await rejection(handle.upsertMember({ userId: outsider.user.id, name: "x", email: "x", role: "owner" }));
    expect(err.code).toBe("forbidden");
    const forgedInternal = await rejection(client.organization.get(orgKey, { params: { internal: "guess", actAs: owner.user.id } }).summary());
    expect(forgedInternal.code).toBe("forbidden");
    const summary = await handle.summary();
    expect(summary.members.map((m) => m.userId)).not.toContain(outsider.user.id);
  });

  it("keeps the app shell internal: a signed-in user cannot create organizations through it", async () => {
    const err = await rejection(
      client.appShell.get(["app"], { params: { token: outsider.token } }).userOnboarded({ id: "someone", name: "x", email: "x@example.com" }),
    );
    expect(err.code).toBe("forbidden");
    const me = await kiln.app.request("/v1/me", { headers: { authorization: `Bearer ${outsider.token}` } });
    expect(((await me.json()) as { organizations: { id: string }[] }).organizations.map((o) => o.id)).toEqual([`personal-${outsider.user.id}`]);
  });

  it("does not expose raw actor storage or the actor list to clients", async () => {
    expect((await fetch(`${kiln.url}/api/rivet/actors?name=organization`)).status).toBe(403);
    expect((await fetch(`${kiln.url}/api/rivet/actors/some-id/kv/keys/AA==`)).status).toBe(404);
  });

  it("admits a second member once Kiln adds them, and drops their live connection when removed", async () => {
    const orgId = `personal-${owner.user.id}`;
    await kiln.organizations.upsertMember(orgId, { userId: outsider.user.id, name: "Oscar", email: outsider.user.email, role: "member" });
    const conn = client.organization.get(orgKey, { params: { token: outsider.token } }).connect();
    try {
      expect((await conn.summary()).members).toHaveLength(2);
      const me = await kiln.app.request("/v1/me", { headers: { authorization: `Bearer ${outsider.token}` } });
      const orgs = ((await me.json()) as { organizations: { id: string; role: string }[] }).organizations;
      expect(orgs).toContainEqual(expect.objectContaining({ id: orgId, role: "member" }));
      const forbiddenEdit = await rejection(conn.updateProfile({ name: "Oscar's now" }));
      expect(forbiddenEdit.code).toBe("forbidden");

      await kiln.organizations.removeMember(orgId, outsider.user.id);
      expect((await rejection(conn.summary())).code).toBe("forbidden");
      const after = await kiln.app.request("/v1/me", { headers: { authorization: `Bearer ${outsider.token}` } });
      const left = ((await after.json()) as { organizations: { id: string }[] }).organizations.map((o) => o.id);
      expect(left).not.toContain(orgId);
    } finally {
      await conn.dispose();
    }
  });
});
