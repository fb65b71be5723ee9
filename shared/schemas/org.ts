import { z } from "zod";

export const OrgKindSchema = z.enum(["personal", "github"]);
export type OrgKind = z.infer<typeof OrgKindSchema>;

export const OrgMemberRoleSchema = z.enum(["owner", "admin", "member"]);
export type OrgMemberRole = z.infer<typeof OrgMemberRoleSchema>;

export const OrgMemberSchema = z.object({
  userId: z.string(),
  name: z.string(),
  email: z.string(),
  role: OrgMemberRoleSchema,
  joinedAt: z.string(),
});
export type OrgMember = z.infer<typeof OrgMemberSchema>;

/** What a member sees of an organization; also the payload of its `orgUpdated` event. */
export const OrgSummarySchema = z
  .object({
    id: z.string(),
    kind: OrgKindSchema,
    name: z.string(),
    createdAt: z.string(),
    updatedAt: z.string(),
    members: z.array(OrgMemberSchema),
  })
  .meta({ id: "OrgSummary" });
export type OrgSummary = z.infer<typeof OrgSummarySchema>;

/** One row of `/v1/me`'s organization list. */
export const OrgMembershipSchema = z
  .object({
    id: z.string(),
    kind: OrgKindSchema,
    name: z.string(),
    role: OrgMemberRoleSchema,
  })
  .meta({ id: "OrgMembership" });
export type OrgMembership = z.infer<typeof OrgMembershipSchema>;

export const OrgProfileUpdateSchema = z.object({
  name: z.string().trim().min(1).max(120),
});
export type OrgProfileUpdate = z.infer<typeof OrgProfileUpdateSchema>;
