import { actor, UserError } from "rivetkit";
import { ACTOR_ERRORS, forbidden, resolveCaller, type Caller } from "../auth.js";
import { actorServices } from "../services.js";
import { sealToken, type SealedToken } from "./crypto.js";

export interface UserGitHubInput {
  userId: string;
}

interface UserGitHubState {
  userId: string | null;
  githubId: number | null;
  login: string | null;
  /** Kiln organizations this GitHub identity belongs to through GitHub (from the GitHub member index). */
  orgs: string[];
  /** The OAuth token from GitHub sign-in, AES-256-GCM encrypted; never in plain text, never returned. */
  token: SealedToken | null;
  updatedAt: string | null;
}

/** What the user (and Kiln) may read: never the token. */
export interface GitHubIdentity {
  githubId: number | null;
  login: string | null;
  orgs: string[];
  hasToken: boolean;
  updatedAt: string | null;
}

/**
 * UserGitHubDataActor, key ["user", userId, "github"]: one user's GitHub identity from GitHub
 * sign-in. Scoped to the user, not an organization: only Kiln and the user may connect.
 */
export const userGitHub = actor({
  createState: (_c, input: UserGitHubInput | undefined): UserGitHubState => ({ userId: input?.userId ?? null, githubId: null, login: null, orgs: [], token: null, updatedAt: null }),
  createConnState: async (c, params: unknown): Promise<Caller> => {
    const caller = await resolveCaller(params);
    if (caller.internal && caller.userId === null) return caller;
    if (!c.state.userId || caller.userId !== c.state.userId) throw forbidden("This is another user's GitHub identity.");
    return caller;
  },
  actions: {
    /** Kiln-internal: the user signed in with GitHub; the token is sealed before it is kept. */
    recordSignIn: async (c, signIn: { githubId: number; login?: string | null; accessToken?: string | null; orgs: string[] }): Promise<GitHubIdentity> => {
      if (!c.conn.state.internal) throw forbidden("This action is internal to Kiln.");
      if (!c.state.userId) throw new UserError("Unknown user.", { code: ACTOR_ERRORS.notFound });
      const s = c.state;
      s.githubId = signIn.githubId;
      if (signIn.login) s.login = signIn.login;
      if (signIn.accessToken) s.token = sealToken(signIn.accessToken, actorServices().internalKey);
      s.orgs = [...new Set(signIn.orgs)];
      s.updatedAt = new Date().toISOString();
      await c.saveState({ immediate: true });
      return identity(s);
    },

    /** The user's GitHub identity, without the token. */
    identity: (c): GitHubIdentity => identity(c.state),
  },
});

function identity(s: UserGitHubState): GitHubIdentity {
  return { githubId: s.githubId, login: s.login, orgs: [...s.orgs], hasToken: s.token !== null, updatedAt: s.updatedAt };
}

