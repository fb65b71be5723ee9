import { z } from "zod";
import { text } from "./text.js";
import { TASK_SANDBOX_PROVIDERS } from "../providers.js";
import { GitHubOrgSummarySchema } from "./github.js";

export const OrgKindSchema = z.enum(["personal", "team", "github"]);
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
    sandboxProvider: z.string().nullable().meta({ description: "Where this org's new task sandboxes run; null means this Kiln's default" }),
    githubLogin: z.string().optional().meta({ description: "A GitHub organization's login (its `name` is GitHub's display name, or the login)" }),
    avatarUrl: z.string().nullable().optional().meta({ description: "A GitHub organization's avatar" }),
    github: GitHubOrgSummarySchema.nullable()
      .optional()
      .meta({ description: "The GitHub App connection and its sync progress, live; null when the org has none" }),
    revision: z
      .number()
      .int()
      .meta({ description: "Grows with every change; a live event whose revision is not above the last one applied is stale" }),
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
  name: text(120).trim().min(1),
});
export type OrgProfileUpdate = z.infer<typeof OrgProfileUpdateSchema>;

/** Providers an org may pick for its task sandboxes (each must also be configured on the Kiln). */
export const TaskSandboxProviderSchema = z.enum(TASK_SANDBOX_PROVIDERS);

export const OrgSettingsUpdateSchema = z
  .object({
    sandboxProvider: TaskSandboxProviderSchema.nullable().meta({ description: "null goes back to this Kiln's default" }),
  })
  .strict()
  .meta({ id: "OrgSettingsUpdate" });
export type OrgSettingsUpdate = z.infer<typeof OrgSettingsUpdateSchema>;
