import { actor, event, UserError } from "rivetkit";
import type { OrgKind, OrgMember, OrgMemberRole, OrgSummary } from "../../shared/schemas/org.js";
import { OrgProfileUpdateSchema } from "../../shared/schemas/org.js";
import { ACTOR_ERRORS, forbidden, resolveCaller, type Caller } from "../auth.js";
import { actorServices } from "../services.js";

/** Input given when Kiln creates an organization; clients can never create one. */
export interface OrganizationInput {
  id: string;
  kind: OrgKind;
  name: string;
  owner: { userId: string; name: string; email: string };
}

export interface OrganizationState {
  /** Null when the actor was reached without Kiln's creation input: it then refuses everyone. */
  id: string | null;
  kind: OrgKind;
  name: string;
  createdAt: string;
  updatedAt: string;
  members: Record<string, OrgMember>;
}

function initialState(input: OrganizationInput | undefined): OrganizationState {
  const now = new Date().toISOString();
  if (!input) return { id: null, kind: "personal", name: "", createdAt: now, updatedAt: now, members: {} };
  return {
    id: input.id,
    kind: input.kind,
    name: input.name,
    createdAt: now,
    updatedAt: now,
    members: {
      [input.owner.userId]: { ...input.owner, role: "owner", joinedAt: now },
    },
  };
}

function summarize(state: OrganizationState): OrgSummary {
  return {
    id: state.id ?? "",
    kind: state.kind,
    name: state.name,
    createdAt: state.createdAt,
    updatedAt: state.updatedAt,
    members: Object.values(state.members).sort((a, b) => a.joinedAt.localeCompare(b.joinedAt)),
  };
}

const MANAGER_ROLES: readonly OrgMemberRole[] = ["owner", "admin"];

/**
 * OrganizationActor, key ["org", orgId]: the org's profile and members, the source of truth
 * for membership. Every connection is authorized against `members` before it is accepted,
 * so non-members never receive an action result or an event.
 */
export const organization = actor({
  createState: (_c, input: OrganizationInput | undefined): OrganizationState => initialState(input),
  createConnState: async (c, params: unknown): Promise<Caller> => {
    const caller = await resolveCaller(params);
    if (caller.internal && caller.userId === null) return caller;
    if (c.state.id === null || caller.userId === null || !c.state.members[caller.userId]) throw forbidden();
    return caller;
  },
  events: {
    orgUpdated: event<OrgSummary>(),
  },
  actions: {
    /** The org as a member sees it. */
    summary: (c): OrgSummary => summarize(c.state),

    /** The calling user's role. */
    myRole: (c): OrgMemberRole | null => {
      const userId = c.conn.state.userId;
      return userId ? (c.state.members[userId]?.role ?? null) : null;
    },

    /** Owners and admins rename the organization. Personal orgs keep their owner's name. */
    updateProfile: async (c, update: unknown): Promise<OrgSummary> => {
      const userId = c.conn.state.userId;
      const role = userId ? c.state.members[userId]?.role : undefined;
      if (!c.conn.state.internal && (!role || !MANAGER_ROLES.includes(role))) {
        throw forbidden("Only owners and admins can change the organization.");
      }
      const parsed = OrgProfileUpdateSchema.safeParse(update);
      if (!parsed.success) {
        throw new UserError("Invalid organization profile.", {
          code: ACTOR_ERRORS.invalidRequest,
          metadata: { issues: parsed.error.issues },
        });
      }
      c.state.name = parsed.data.name;
      return commit(c);
    },

    /**
     * Kiln-internal: makes sure the org exists with this owner. Idempotent, so sign-up
     * and `/v1/me` can both call it; a crash between them never leaves a user orgless.
     */
    ensure: async (c, input: OrganizationInput): Promise<OrgSummary> => {
      requireInternal(c.conn.state);
      if (c.state.id === null) Object.assign(c.state, initialState(input));
      if (!c.state.members[input.owner.userId]) {
        c.state.members[input.owner.userId] = { ...input.owner, role: "owner", joinedAt: new Date().toISOString() };
      }
      return commit(c);
    },

    /** Kiln-internal: adds or updates a member (GitHub membership sync, test helpers). */
    upsertMember: async (c, member: Omit<OrgMember, "joinedAt">): Promise<OrgSummary> => {
      requireInternal(c.conn.state);
      requireExists(c.state);
      const existing = c.state.members[member.userId];
      c.state.members[member.userId] = { ...member, joinedAt: existing?.joinedAt ?? new Date().toISOString() };
      return commit(c);
    },

    /** Kiln-internal: removes a member and closes their live connections at once. */
    removeMember: async (c, userId: string): Promise<OrgSummary> => {
      requireInternal(c.conn.state);
      requireExists(c.state);
      if (c.state.members[userId]?.role === "owner" && c.state.kind === "personal") {
        throw new UserError("A personal organization always keeps its owner.", { code: ACTOR_ERRORS.conflict });
      }
      delete c.state.members[userId];
      for (const conn of c.conns.values()) {
        if ((conn.state as Caller | undefined)?.userId === userId) await conn.disconnect("user.forbidden");
      }
      return commit(c);
    },
  },
});

function requireInternal(caller: Caller): void {
  if (!caller.internal) throw forbidden("This action is internal to Kiln.");
}

function requireExists(state: OrganizationState): asserts state is OrganizationState & { id: string } {
  if (state.id === null) throw new UserError("Organization not found.", { code: ACTOR_ERRORS.notFound });
}

interface CommitContext {
  state: OrganizationState;
  saveState(opts: { immediate: boolean }): Promise<void>;
  broadcast(name: "orgUpdated", summary: OrgSummary): void;
}

/**
 * Persists a change before acknowledging it (state is otherwise flushed only about once a second),
 * pushes it into the gateway's membership index, then tells subscribers the new state.
 */
async function commit(c: CommitContext): Promise<OrgSummary> {
  c.state.updatedAt = new Date().toISOString();
  await c.saveState({ immediate: true });
  const summary = summarize(c.state);
  await actorServices().syncOrgIndex({
    orgId: summary.id,
    kind: summary.kind,
    name: summary.name,
    members: summary.members.map((m) => ({ userId: m.userId, role: m.role })),
  });
  c.broadcast("orgUpdated", summary);
  return summary;
}
