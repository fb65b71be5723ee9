import { actor, UserError } from "rivetkit";
import type { OrgSummary } from "../../shared/schemas/org.js";
import { ACTOR_ERRORS, internalParams, resolveCaller, type Caller } from "../auth.js";
import { keys, personalOrgId } from "../../shared/keys.js";
import type { OrganizationInput } from "../organization/index.js";
import type { Registry } from "../registry.js";

export interface AppUser {
  id: string;
  name: string;
  email: string;
}

/**
 * AppShellOrganization, key ["app"]: the app-level coordinator. It runs sign-in side effects,
 * today giving every user exactly one personal organization (later also GitHub identity and
 * memberships). The user → organizations read index is the gateway's `org_membership` table,
 * which each OrganizationActor keeps; this actor never copies it.
 */
export const appShell = actor({
  state: { usersOnboarded: 0 },
  createConnState: async (_c, params: unknown): Promise<Caller> => {
    const caller = await resolveCaller(params);
    if (!caller.internal) throw new UserError("The app shell is internal to Kiln.", { code: ACTOR_ERRORS.forbidden });
    return caller;
  },
  actions: {
    /** Kiln-internal: a user was created (or signed in without an org): make sure their personal org exists. Idempotent. */
    userOnboarded: async (c, user: AppUser): Promise<OrgSummary> => {
      const input: OrganizationInput = {
        id: personalOrgId(user.id),
        kind: "personal",
        name: user.name ? `${user.name}'s workspace` : "Personal workspace",
        owner: { userId: user.id, name: user.name, email: user.email },
      };
      const org = await c
        .client<Registry>()
        .organization.getOrCreate(keys.organization(input.id), { params: internalParams(), createWithInput: input })
        .ensure(input);
      c.state.usersOnboarded += 1;
      return org;
    },
  },
});
