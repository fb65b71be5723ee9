import type { Logger } from "pino";
import { internalParams } from "../../actors/auth.js";
import { GitHubApp, type GitHubAppConfig } from "../../actors/github-state/app.js";
import type { GitHubServices } from "../../actors/github-state/services.js";
import { keys, personalOrgId } from "../../shared/keys.js";
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
  await movePersonalInstallations(index, client, githubId, account.userId);
  const orgs = await index.orgsWaitingFor(githubId);
  await client.userGitHub
    .getOrCreate(keys.userGitHub(account.userId), { params: internalParams(), createWithInput: { userId: account.userId } })
    .recordSignIn({ githubId, accessToken: account.accessToken, orgs });
  for (const orgId of orgs) {
    await client.githubState.getOrCreate(keys.githubState(orgId), { params: internalParams(), createWithInput: { orgId } }).memberSignedIn();
  }
}

/**
 * An installation on a personal GitHub account made before its Kiln user arrived waits in a
 * `gh-<id>` org; at that user's GitHub sign-in it moves to their personal org. The waiting org's
 * GitHubStateActor lets go of it (its repositories hidden, its member index cleared), the route
 * changes, and the personal org's GitHubStateActor takes it and syncs. Retried at the next sign-in
 * if interrupted: each step is idempotent.
 */
async function movePersonalInstallations(index: GitHubIndex, client: KilnClient, githubId: number, userId: string): Promise<void> {
  const personal = personalOrgId(userId);
  const state = (orgId: string) => client.githubState.getOrCreate(keys.githubState(orgId), { params: internalParams(), createWithInput: { orgId } });
  for (const route of await index.personalInstallationsWaitingFor(githubId)) {
    const installation = await state(route.orgId).release(personal);
    if (installation) await state(personal).adopt(installation);
    await index.reroute(route.installationId, personal);
  }
}
