import { actor } from "rivetkit";
import { authorizeOrgChild, type Caller } from "../auth.js";

export interface RepositoryInput {
  orgId: string;
  repoId: string;
  remoteUrl: string;
  name: string;
  defaultBranch: string | null;
}

export interface RepositoryState {
  orgId: string | null;
  repoId: string;
  remoteUrl: string;
  name: string;
  defaultBranch: string | null;
  createdAt: string;
}

/**
 * RepositoryActor, key ["org", orgId, "repo", repoId]: one repository's coordinator. It is created
 * when the repo is added; its HistoryActor and TaskActors sit under its key. For now it holds the
 * repo's identity; the branch and task index live in the OrganizationActor (see ACTORS.md).
 */
export const repository = actor({
  createState: (_c, input: RepositoryInput | undefined): RepositoryState => ({
    orgId: input?.orgId ?? null,
    repoId: input?.repoId ?? "",
    remoteUrl: input?.remoteUrl ?? "",
    name: input?.name ?? "",
    defaultBranch: input?.defaultBranch ?? null,
    createdAt: new Date().toISOString(),
  }),
  createConnState: (c, params: unknown): Promise<Caller> => authorizeOrgChild(c.state.orgId, params, c),
  actions: {
    describe: (c): RepositoryState => ({ ...c.state }),
  },
});
