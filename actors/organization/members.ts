import { randomBytes } from "node:crypto";
import { UserError } from "rivetkit";
import type { OrgKind, OrgMember, OrgMemberRole } from "../../shared/schemas/org.js";
import { INVITATION_TTL_MS, InviteBodySchema, MemberRoleBodySchema, invitationExpiresAt } from "../../shared/schemas/members.js";
import { ACTOR_ERRORS, forbidden, parseInput, type Caller } from "../auth.js";
import type { OrgInvitationRow } from "../services.js";
import { own } from "../../shared/records.js";

/**
 * Membership rules for team organizations. Every function here reads and writes the actor's
 * state synchronously (no await between the check and the write), so parallel calls on one
 * actor each see the previous one's result: one invite per email, one accept per invitation.
 */
export interface MembershipState {
  id: string | null;
  kind: OrgKind;
  members: Record<string, OrgMember>;
  invitations?: Record<string, OrgInvitationRow>;
}

const MANAGERS: readonly OrgMemberRole[] = ["owner", "admin"];

function roleOf(state: MembershipState, caller: Caller): OrgMemberRole | undefined {
  return caller.userId ? state.members[caller.userId]?.role : undefined;
}

/** Members are managed by people only in team orgs: a personal org has one, a GitHub org gets them from GitHub. */
function requireTeam(state: MembershipState): void {
  if (state.kind === "personal") throw new UserError("A personal organization takes no other members. Create a team organization instead.", { code: "personal_org" });
  if (state.kind === "github") throw new UserError("This organization's members come from GitHub; change them there.", { code: "github_managed" });
}

function requireManager(state: MembershipState, caller: Caller): OrgMemberRole {
  const role = roleOf(state, caller);
  if (!role || !MANAGERS.includes(role)) throw forbidden("Only owners and admins can manage members.");
  return role;
}

function owners(state: MembershipState): number {
  return Object.values(state.members).filter((m) => m.role === "owner").length;
}

export function invite(state: MembershipState, caller: Caller, body: unknown): OrgInvitationRow {
  requireTeam(state);
  const callerRole = requireManager(state, caller);
  const { email, role } = parseInput(InviteBodySchema, body, "Invalid invitation.");
  if (role === "owner" && callerRole !== "owner") throw forbidden("Only owners can invite owners.");
  if (Object.values(state.members).some((m) => m.email.toLowerCase() === email)) {
    throw new UserError(`${email} is already a member.`, { code: ACTOR_ERRORS.conflict });
  }
  const invitations = (state.invitations ??= {});
  // An expired invitation does not stand in the way of a new one: it is replaced.
  for (const i of Object.values(invitations)) if (i.email === email && isExpired(i)) delete invitations[i.id];
  if (Object.values(invitations).some((i) => i.email === email)) {
    throw new UserError(`${email} is already invited.`, { code: ACTOR_ERRORS.conflict });
  }
  const inviter = state.members[caller.userId ?? ""];
  const row: OrgInvitationRow = { id: `inv_${randomBytes(12).toString("base64url")}`, email, role, invitedBy: inviter?.name || inviter?.email || "", createdAt: new Date().toISOString() };
  invitations[row.id] = row;
  return row;
}

export function revokeInvitation(state: MembershipState, caller: Caller, invitationId: string): void {
  requireManager(state, caller);
  const invitations = state.invitations;
  if (!invitations || !own(invitations, invitationId)) throw invitationNotFound();
  delete invitations[invitationId];
}

/**
 * The invitee accepts (or declines). The email is checked against the invitation here, in its
 * owner, whatever the gateway's index said: an invitation for someone else looks like none at all.
 */
export function answerInvitation(state: MembershipState, invitationId: string, user: { userId: string; name: string; email: string }, accept: boolean): void {
  const invitation = state.invitations?.[invitationId];
  if (!invitation || invitation.email !== user.email.toLowerCase()) throw invitationNotFound();
  if (accept && isExpired(invitation)) {
    throw new UserError(`This invitation expired on ${invitationExpiresAt(invitation.createdAt)}. Ask for a new one.`, { code: "invitation_expired" });
  }
  delete state.invitations![invitationId];
  if (!accept || state.members[user.userId]) return;
  state.members[user.userId] = { userId: user.userId, name: user.name, email: user.email, role: invitation.role, joinedAt: new Date().toISOString() };
}

export function changeRole(state: MembershipState, caller: Caller, userId: string, body: unknown): void {
  requireTeam(state);
  const callerRole = requireManager(state, caller);
  const { role } = parseInput(MemberRoleBodySchema, body, "Invalid role.");
  const member = own(state.members, userId);
  if (!member) throw memberNotFound();
  if ((member.role === "owner" || role === "owner") && callerRole !== "owner") throw forbidden("Only owners can grant or take the owner role.");
  if (member.role === "owner" && role !== "owner" && owners(state) === 1) {
    throw new UserError("An organization keeps at least one owner. Make someone else owner first.", { code: ACTOR_ERRORS.conflict });
  }
  member.role = role;
}

/** Owners and admins remove others (admins not owners); anyone may leave. The last owner stays. */
export function removeMemberAs(state: MembershipState, caller: Caller, userId: string): void {
  requireTeam(state);
  const member = own(state.members, userId);
  if (caller.userId !== userId) {
    const callerRole = requireManager(state, caller);
    if (!member) throw memberNotFound();
    if (member.role === "owner" && callerRole !== "owner") throw forbidden("Only owners can remove owners.");
  }
  if (!member) throw memberNotFound();
  if (member.role === "owner" && owners(state) === 1) {
    throw new UserError("An organization keeps at least one owner. Make someone else owner first.", { code: ACTOR_ERRORS.conflict });
  }
  delete state.members[userId];
}

/** Past its 7 days (`INVITATION_TTL_MS`): it can be declined or revoked, not accepted. */
export function isExpired(invitation: OrgInvitationRow, now = Date.now()): boolean {
  return Date.parse(invitation.createdAt) + INVITATION_TTL_MS <= now;
}

function invitationNotFound(): UserError {
  return new UserError("No such invitation: it was answered, revoked, or is for another email.", { code: "invitation_not_found" });
}

function memberNotFound(): UserError {
  return new UserError("No such member in this organization.", { code: "member_not_found" });
}
