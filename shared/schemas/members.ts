import { z } from "zod";
import { OrgMemberRoleSchema, OrgMemberSchema, OrgSummarySchema } from "./org.js";
import { text } from "./text.js";

/** How long an invitation can be accepted. */
export const INVITATION_TTL_MS = 7 * 24 * 3600_000;

/** When an invitation created at `createdAt` (ISO) expires (ISO). */
export function invitationExpiresAt(createdAt: string): string {
  return new Date(Date.parse(createdAt) + INVITATION_TTL_MS).toISOString();
}

const email = text(254).email().transform((v) => v.toLowerCase());

export const CreateOrgBodySchema = z
  .object({ name: text(120).trim().min(1) })
  .strict()
  .meta({ id: "CreateOrgBody" });
export type CreateOrgBody = z.infer<typeof CreateOrgBodySchema>;

export const InviteBodySchema = z
  .object({
    email,
    role: OrgMemberRoleSchema.default("member").meta({ description: "Only owners may invite owners" }),
  })
  .strict()
  .meta({ id: "InviteBody" });
export type InviteBody = z.infer<typeof InviteBodySchema>;

export const MemberRoleBodySchema = z.object({ role: OrgMemberRoleSchema }).strict().meta({ id: "MemberRoleBody" });
export type MemberRoleBody = z.infer<typeof MemberRoleBodySchema>;

/** A pending invitation to a team organization, as the org's members and the invitee see it. */
export const InvitationSchema = z
  .object({
    id: z.string(),
    orgId: z.string(),
    orgName: z.string(),
    email: z.string(),
    role: OrgMemberRoleSchema,
    invitedBy: z.string().meta({ description: "The inviting member's name" }),
    createdAt: z.string(),
    expiresAt: z.string().meta({ description: "7 days after `createdAt`; accepting after that answers 410 `invitation_expired` (invite again)" }),
  })
  .meta({ id: "Invitation" });
export type Invitation = z.infer<typeof InvitationSchema>;

export const MembersResultSchema = z.object({ members: z.array(OrgMemberSchema) }).meta({ id: "MembersResult" });
export const InvitationsResultSchema = z.object({ invitations: z.array(InvitationSchema) }).meta({ id: "InvitationsResult" });
export const InvitationResultSchema = z.object({ invitation: InvitationSchema }).meta({ id: "InvitationResult" });
export const AcceptResultSchema = z.object({ organization: OrgSummarySchema }).meta({ id: "AcceptInvitationResult" });

