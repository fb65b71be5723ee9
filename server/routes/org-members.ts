import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { errorResponses, jsonBody, jsonResponse, SESSION_SECURITY } from "../../shared/schemas/common.js";
import { KilnError } from "../../shared/errors.js";
import {
  AcceptResultSchema,
  CreateOrgBodySchema,
  InvitationResultSchema,
  InvitationsResultSchema,
  InviteBodySchema,
  MemberRoleBodySchema,
  MembersResultSchema,
} from "../../shared/schemas/members.js";
import { OrgSummarySchema } from "../../shared/schemas/org.js";
import { orgActor } from "../actor-handles.js";
import type { Organizations } from "../organizations.js";
import type { KilnClient } from "../rivet.js";
import type { KilnEnv } from "../types.js";
import { pathId } from "../../shared/schemas/text.js";
import { OrgParams } from "./params.js";

const base = { tags: ["members"], security: SESSION_SECURITY };
const id = pathId();
const MemberParams = z.object({ orgId: id, userId: id });
const OrgInvitationParams = z.object({ orgId: id, invitationId: id });
const InvitationParams = z.object({ invitationId: id });
const NoContent = { description: "Done" };

const createOrg = createRoute({
  ...base,
  method: "post",
  path: "/v1/orgs",
  summary: "Create a team organization, with you as its owner",
  request: { body: jsonBody(CreateOrgBodySchema) },
  responses: { 201: jsonResponse(z.object({ organization: OrgSummarySchema }), "Created"), ...errorResponses(400, 401) },
});

const listMembers = createRoute({
  ...base,
  method: "get",
  path: "/v1/orgs/{orgId}/members",
  summary: "The organization's members",
  request: { params: OrgParams },
  responses: { 200: jsonResponse(MembersResultSchema, "Members"), ...errorResponses(401, 403) },
});

const setRole = createRoute({
  ...base,
  method: "patch",
  path: "/v1/orgs/{orgId}/members/{userId}",
  summary: "Change a member's role (owners and admins; only owners grant or take `owner`)",
  description: "409 `conflict` for the last owner; 409 `personal_org` / `github_managed` where members are not managed in Kiln.",
  request: { params: MemberParams, body: jsonBody(MemberRoleBodySchema) },
  responses: { 200: jsonResponse(z.object({ organization: OrgSummarySchema }), "Updated"), ...errorResponses(400, 401, 403, 404, 409) },
});

const removeMember = createRoute({
  ...base,
  method: "delete",
  path: "/v1/orgs/{orgId}/members/{userId}",
  summary: "Remove a member (owners and admins), or leave (yourself)",
  description: "The member's live subscriptions to the organization close at once and their next call is refused.",
  request: { params: MemberParams },
  responses: { 204: NoContent, ...errorResponses(401, 403, 404, 409) },
});

const listOrgInvitations = createRoute({
  ...base,
  method: "get",
  path: "/v1/orgs/{orgId}/invitations",
  summary: "The organization's pending invitations",
  request: { params: OrgParams },
  responses: { 200: jsonResponse(InvitationsResultSchema, "Pending invitations"), ...errorResponses(401, 403) },
});

const inviteRoute = createRoute({
  ...base,
  method: "post",
  path: "/v1/orgs/{orgId}/invitations",
  summary: "Invite someone by email (owners and admins, team organizations only)",
  description: "409 `conflict` when the email is already a member or already invited; 409 `personal_org` on a personal organization.",
  request: { params: OrgParams, body: jsonBody(InviteBodySchema) },
  responses: { 201: jsonResponse(InvitationResultSchema, "Invited"), ...errorResponses(400, 401, 403, 409) },
});

const revokeRoute = createRoute({
  ...base,
  method: "delete",
  path: "/v1/orgs/{orgId}/invitations/{invitationId}",
  summary: "Revoke a pending invitation (owners and admins)",
  request: { params: OrgInvitationParams },
  responses: { 204: NoContent, ...errorResponses(401, 403, 404) },
});

const myInvitations = createRoute({
  ...base,
  method: "get",
  path: "/v1/invitations",
  summary: "Invitations waiting for your email",
  responses: { 200: jsonResponse(InvitationsResultSchema, "Your pending invitations"), ...errorResponses(401) },
});

const acceptRoute = createRoute({
  ...base,
  method: "post",
  path: "/v1/invitations/{invitationId}/accept",
  summary: "Accept an invitation sent to your email, and join the organization",
  description: "404 `invitation_not_found` when it was already answered or revoked, or is for another email; 410 `invitation_expired` 7 days after it was sent (`expiresAt`).",
  request: { params: InvitationParams },
  responses: { 200: jsonResponse(AcceptResultSchema, "Joined"), ...errorResponses(401, 404, 410) },
});

const declineRoute = createRoute({
  ...base,
  method: "post",
  path: "/v1/invitations/{invitationId}/decline",
  summary: "Decline an invitation sent to your email",
  request: { params: InvitationParams },
  responses: { 204: NoContent, ...errorResponses(401, 404) },
});

function invitationNotFound(): KilnError {
  return new KilnError("invitation_not_found", "No such invitation: it was answered, revoked, or is for another email.");
}

/** Team organizations: creation, members and invitations. The OrganizationActor decides every change. */
export function orgMemberRoutes(orgs: Organizations, client: () => KilnClient) {
  return new OpenAPIHono<KilnEnv>()
    .openapi(createOrg, async (c) => {
      const organization = await orgs.createTeam(c.get("user"), c.req.valid("json").name);
      return c.json({ organization }, 201);
    })
    .openapi(listMembers, async (c) => {
      const org = await orgActor(client(), c.get("orgId"), c.get("user").id).summary();
      return c.json({ members: org.members }, 200);
    })
    .openapi(setRole, async (c) => {
      const { userId } = c.req.valid("param");
      const organization = await orgActor(client(), c.get("orgId"), c.get("user").id).setMemberRole(userId, c.req.valid("json"));
      return c.json({ organization }, 200);
    })
    .openapi(removeMember, async (c) => {
      await orgActor(client(), c.get("orgId"), c.get("user").id).removeMemberAs(c.req.valid("param").userId);
      return c.body(null, 204);
    })
    .openapi(listOrgInvitations, async (c) => {
      const invitations = await orgActor(client(), c.get("orgId"), c.get("user").id).listInvitations();
      return c.json({ invitations }, 200);
    })
    .openapi(inviteRoute, async (c) => {
      const invitation = await orgActor(client(), c.get("orgId"), c.get("user").id).invite(c.req.valid("json"));
      return c.json({ invitation }, 201);
    })
    .openapi(revokeRoute, async (c) => {
      await orgActor(client(), c.get("orgId"), c.get("user").id).revokeInvitation(c.req.valid("param").invitationId);
      return c.body(null, 204);
    })
    .openapi(myInvitations, async (c) => {
      return c.json({ invitations: await orgs.invitationsFor(c.get("user").email) }, 200);
    })
    .openapi(acceptRoute, async (c) => {
      const organization = await orgs.answerInvitation(c.get("user"), c.req.valid("param").invitationId, true);
      if (!organization) throw invitationNotFound();
      return c.json({ organization }, 200);
    })
    .openapi(declineRoute, async (c) => {
      if (!(await orgs.answerInvitation(c.get("user"), c.req.valid("param").invitationId, false))) throw invitationNotFound();
      return c.body(null, 204);
    });
}
