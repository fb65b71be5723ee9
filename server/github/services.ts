import type { Logger } from "pino";
import { internalParams } from "../../actors/auth.js";
import { GitHubApp, type GitHubAppConfig } from "../../actors/github-state/app.js";
import type { GitHubServices } from "../../actors/github-state/services.js";
import { keys } from "../../shared/keys.js";
import type { KilnClient } from "../rivet.js";
import type { GitHubIndex } from "./gateway.js";

/** The GitHub side of the actor services, when the App is configured. */
export function createGitHubServices(config: GitHubAppConfig | undefined, index: GitHubIndex): GitHubServices | undefined {
  if (!config) return undefined;
  return {
    app: new GitHubApp(config),
    kilnUsersForGitHub: (ids) => index.kilnUsersForGitHub(ids),
    indexGitHubMembers: (orgId, ids) => index.indexGitHubMembers(orgId, ids),
  };
}


/** After a start (kill -9 included): wakes every GitHubStateActor, whose workflow then processes what it had recorded. */
export async function resumeGitHub(index: GitHubIndex, client: KilnClient, logger: Logger): Promise<void> {
  for (const orgId of await index.allInstallationOrgs()) {
    try {
      const { requeued } = await client.githubState.getOrCreate(keys.githubState(orgId), { params: internalParams(), createWithInput: { orgId } }).resume();
      if (requeued) logger.info({ orgId, requeued }, "resumed GitHub deliveries after start");
    } catch (err) {
      logger.error({ err, orgId }, "could not resume an organization's GitHub deliveries");
    }
  }
}

/**
 * A user signed in with GitHub: their identity (token sealed) goes to their UserGitHubDataActor,
 * and every org that lists them as a GitHub member lets them in now (a pending member joins).
 */
export async function recordGitHubSignIn(index: GitHubIndex, client: KilnClient, account: { userId: string; accountId: string; accessToken: string | null }): Promise<void> {
  const githubId = Number(account.accountId);
  if (!Number.isSafeInteger(githubId)) return;
  const orgs = await index.orgsWaitingFor(githubId);
  await client.userGitHub
    .getOrCreate(keys.userGitHub(account.userId), { params: internalParams(), createWithInput: { userId: account.userId } })
    .recordSignIn({ githubId, accessToken: account.accessToken, orgs });
  for (const orgId of orgs) {
    await client.githubState.getOrCreate(keys.githubState(orgId), { params: internalParams(), createWithInput: { orgId } }).memberSignedIn();
  }
}
