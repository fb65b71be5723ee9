import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { answerInvitation, invite, isExpired, type MembershipState } from "../actors/organization/members.js";
import { ERROR_STATUS } from "../shared/errors.js";
import { createKilnClient } from "../shared/client.js";
import type { Invitation } from "../shared/schemas/members.js";
import type { OrgSummary } from "../shared/schemas/org.js";
import { api } from "./support/api.js";
import { databaseBackends } from "./support/db.js";
import { signUp, socketTransport, type SignedUp } from "./support/http.js";
import { startTestKiln, type TestKiln } from "./support/kiln.js";
import { until } from "./support/poll.js";

const backends = await databaseBackends();

describe.each(backends)("team organizations on %s: invitations, roles and removal", (backend) => {
  let kiln: TestKiln;
  let ann: SignedUp;
  let ben: SignedUp;
  let cara: SignedUp;
  const as = (u: SignedUp) => api(socketTransport(kiln.url), u.token);

  beforeAll(async () => {
    kiln = await startTestKiln({ backend });
    const t = socketTransport(kiln.url);
    [ann, ben, cara] = [await signUp(t, { name: "Ann" }), await signUp(t, { name: "Ben" }), await signUp(t, { name: "Cara" })];
  });
  afterAll(async () => {
    await kiln?.stop();
  });

  async function createTeam(owner: SignedUp, name: string): Promise<OrgSummary> {
    const r = await as(owner).post<{ organization: OrgSummary }>("/v1/orgs", { name });
    expect(r.status).toBe(201);
    return r.body.organization;
  }

  async function inviteAndAccept(org: OrgSummary, from: SignedUp, to: SignedUp, role = "member"): Promise<void> {
    const inv = await as(from).post<{ invitation: Invitation }>(`/v1/orgs/${org.id}/invitations`, { email: to.user.email, role });
    expect(inv.status).toBe(201);
    expect((await as(to).post(`/v1/invitations/${inv.body.invitation.id}/accept`)).status).toBe(200);
  }

  it("invites a second user by email, who sees the invitation, accepts, and finds the org in /v1/me", async () => {
    const org = await createTeam(ann, "Ann & co");
    expect(org).toMatchObject({ kind: "team", name: "Ann & co", members: [expect.objectContaining({ userId: ann.user.id, role: "owner" })] });

    const inv = await as(ann).post<{ invitation: Invitation }>(`/v1/orgs/${org.id}/invitations`, { email: ben.user.email.toUpperCase(), role: "member" });
    expect(inv.status).toBe(201);
    expect(inv.body.invitation).toMatchObject({ email: ben.user.email, orgId: org.id, orgName: "Ann & co", invitedBy: "Ann", role: "member" });
    // It can be accepted for 7 days, and says until when.
    expect(Date.parse(inv.body.invitation.expiresAt) - Date.parse(inv.body.invitation.createdAt)).toBe(7 * 24 * 3600_000);

    // Ben sees it; Cara, with another email, neither sees it nor can accept it.
    const bens = await as(ben).get<{ invitations: Invitation[] }>("/v1/invitations");
    expect(bens.body.invitations.map((i) => [i.id, i.expiresAt])).toEqual([[inv.body.invitation.id, inv.body.invitation.expiresAt]]);
    expect((await as(cara).get<{ invitations: Invitation[] }>("/v1/invitations")).body.invitations).toEqual([]);
    expect(await as(cara).post(`/v1/invitations/${inv.body.invitation.id}/accept`)).toMatchObject({ status: 404, body: { error: "invitation_not_found" } });
    // Not a member yet.
    expect((await as(ben).get(`/v1/orgs/${org.id}`)).status).toBe(403);

    const accepted = await as(ben).post<{ organization: OrgSummary }>(`/v1/invitations/${inv.body.invitation.id}/accept`);
    expect(accepted.status).toBe(200);
    const me = await as(ben).get<{ organizations: { id: string; kind: string; role: string }[] }>("/v1/me");
    expect(me.body.organizations).toContainEqual({ id: org.id, kind: "team", name: "Ann & co", role: "member" });
    const members = await as(ann).get<{ members: { userId: string; role: string }[] }>(`/v1/orgs/${org.id}/members`);
    expect(members.body.members.map((m) => [m.userId, m.role])).toEqual([
      [ann.user.id, "owner"],
      [ben.user.id, "member"],
    ]);
    expect((await as(ben).get<{ invitations: Invitation[] }>("/v1/invitations")).body.invitations).toEqual([]);
    expect((await as(ann).get<{ invitations: Invitation[] }>(`/v1/orgs/${org.id}/invitations`)).body.invitations).toEqual([]);
  });

  it("lets owners and admins manage members, within their role", async () => {
    const org = await createTeam(ann, "Roles");
    await inviteAndAccept(org, ann, ben);
    // A member may not invite or change roles.
    expect((await as(ben).post(`/v1/orgs/${org.id}/invitations`, { email: cara.user.email })).status).toBe(403);
    expect((await as(ben).patch(`/v1/orgs/${org.id}/members/${ben.user.id}`, { role: "admin" })).status).toBe(403);

    expect((await as(ann).patch(`/v1/orgs/${org.id}/members/${ben.user.id}`, { role: "admin" })).status).toBe(200);
    // An admin invites, but neither grants nor takes the owner role.
    expect((await as(ben).post(`/v1/orgs/${org.id}/invitations`, { email: cara.user.email, role: "owner" })).status).toBe(403);
    expect((await as(ben).patch(`/v1/orgs/${org.id}/members/${ann.user.id}`, { role: "member" })).status).toBe(403);
    expect((await as(ben).del(`/v1/orgs/${org.id}/members/${ann.user.id}`)).status).toBe(403);
    await inviteAndAccept(org, ben, cara);

    // The last owner stays.
    expect(await as(ann).patch(`/v1/orgs/${org.id}/members/${ann.user.id}`, { role: "member" })).toMatchObject({ status: 409, body: { error: "conflict" } });
    expect((await as(ann).del(`/v1/orgs/${org.id}/members/${ann.user.id}`)).status).toBe(409);
    expect((await as(ann).patch(`/v1/orgs/${org.id}/members/nobody`, { role: "member" })).status).toBe(404);
    expect((await as(ann).patch(`/v1/orgs/${org.id}/members/${ben.user.id}`, { role: "boss" })).status).toBe(400);

    // Cara leaves by herself.
    expect((await as(cara).del(`/v1/orgs/${org.id}/members/${cara.user.id}`)).status).toBe(204);
    expect((await as(cara).get(`/v1/orgs/${org.id}`)).status).toBe(403);
  });

  it("refuses members in a personal organization", async () => {
    const personal = `personal-${ann.user.id}`;
    expect(await as(ann).post(`/v1/orgs/${personal}/invitations`, { email: ben.user.email })).toMatchObject({ status: 409, body: { error: "personal_org" } });
  });

  it("closes a removed member's live subscription and refuses their next call", async () => {
    const org = await createTeam(ann, "Removal");
    await inviteAndAccept(org, ann, ben);
    const client = createKilnClient({ baseUrl: kiln.url, token: ben.token });
    const errors: string[] = [];
    let opened = 0;
    const stop = client.subscribeOrganization(org.id, { onOpen: () => (opened += 1), onError: (e) => errors.push((e as { code?: string }).code ?? "?") });
    try {
      await until(async () => opened, (n) => n >= 1, { timeoutMs: 15_000 });
      expect((await as(ben).get(`/v1/orgs/${org.id}/members`)).status).toBe(200);

      expect((await as(ann).del(`/v1/orgs/${org.id}/members/${ben.user.id}`)).status).toBe(204);
      // The connection is closed by the actor; its reconnect is refused.
      await until(async () => errors, (e) => e.includes("forbidden"), { timeoutMs: 15_000 });
      expect((await as(ben).get(`/v1/orgs/${org.id}/members`)).status).toBe(403);
      expect((await as(ben).get<{ organizations: { id: string }[] }>("/v1/me")).body.organizations.map((o) => o.id)).not.toContain(org.id);
    } finally {
      await stop();
      await client.dispose();
    }
  });

  it("gives parallel invites and accepts defined answers", async () => {
    const org = await createTeam(ann, "Races");
    const invites = await Promise.all(Array.from({ length: 6 }, () => as(ann).post<{ invitation: Invitation }>(`/v1/orgs/${org.id}/invitations`, { email: cara.user.email })));
    expect(invites.map((r) => r.status).sort()).toEqual([201, 409, 409, 409, 409, 409]);
    const id = invites.find((r) => r.status === 201)!.body.invitation.id;

    // Meanwhile more invitations land, so the index sees several changes at once.
    const others = await Promise.all(["x1", "x2", "x3"].map((p) => as(ann).post(`/v1/orgs/${org.id}/invitations`, { email: `${p}-${org.id}@example.com` })));
    expect(others.map((r) => r.status)).toEqual([201, 201, 201]);

    const accepts = await Promise.all(Array.from({ length: 6 }, () => as(cara).post(`/v1/invitations/${id}/accept`)));
    expect(accepts.map((r) => r.status).sort()).toEqual([200, 404, 404, 404, 404, 404]);
    const members = await as(ann).get<{ members: { userId: string }[] }>(`/v1/orgs/${org.id}/members`);
    expect(members.body.members.map((m) => m.userId)).toEqual([ann.user.id, cara.user.id]);
    // The index agrees with the actor: three invitations left, Cara a member.
    expect((await as(ann).get<{ invitations: Invitation[] }>(`/v1/orgs/${org.id}/invitations`)).body.invitations).toHaveLength(3);
    expect((await as(cara).get<{ organizations: { id: string }[] }>("/v1/me")).body.organizations.map((o) => o.id)).toContain(org.id);
  });
});

describe("an invitation past its 7 days", () => {
  const caller = { userId: "u-ann", internal: false };
  const team = (createdAt: string): MembershipState => ({
    id: "team-x",
    kind: "team",
    members: { "u-ann": { userId: "u-ann", name: "Ann", email: "ann@example.com", role: "owner", joinedAt: createdAt } },
    invitations: { inv_old: { id: "inv_old", email: "ben@example.com", role: "member", invitedBy: "Ann", createdAt } },
  });
  const eightDaysAgo = () => new Date(Date.now() - 8 * 24 * 3600_000).toISOString();
  const ben = { userId: "u-ben", name: "Ben", email: "ben@example.com" };

  it("cannot be accepted: invitation_expired (410), and Ben does not join", () => {
    const state = team(eightDaysAgo());
    expect(() => answerInvitation(state, "inv_old", ben, true)).toThrow(expect.objectContaining({ code: "invitation_expired" }));
    expect(state.members["u-ben"]).toBeUndefined();
    expect(ERROR_STATUS.invitation_expired).toBe(410);
    // Declining still clears it.
    answerInvitation(state, "inv_old", ben, false);
    expect(state.invitations).toEqual({});
  });

  it("is replaced by a new invitation to the same email instead of answering conflict", () => {
    const state = team(eightDaysAgo());
    const row = invite(state, caller, { email: "ben@example.com" });
    expect(Object.keys(state.invitations ?? {})).toEqual([row.id]);
    expect(isExpired(row)).toBe(false);
    answerInvitation(state, row.id, ben, true);
    expect(state.members["u-ben"]?.role).toBe("member");
  });
});
