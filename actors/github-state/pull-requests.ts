import { and, eq } from "drizzle-orm";
import { UserError } from "rivetkit";
import type { PullRequestRef } from "../../shared/schemas/github.js";
import { keys } from "../../shared/keys.js";
import { ACTOR_ERRORS, internalParams } from "../auth.js";
import { githubRepoId } from "../organization/github.js";
import { isInstallationRefusal } from "./app.js";
import { pulls, repos } from "./db.js";
import { upsertPull } from "./handlers.js";
import { broadcastStatus, checksFor, githubServices, publishPull, type GitHubContext } from "./publish.js";

export interface OpenPullRequest {
  taskId: string;
  /** GitHub's repository id (the Kiln repo is `gh-<id>`). */
  repoId: number;
  title?: string;
  body?: string;
  draft?: boolean;
}

/**
 * Pushes the task's branch and opens its pull request through Octokit. A pull request already
 * open for the branch (GitHub answers 422) is linked instead of duplicated.
 */
export async function openPullRequest(c: GitHubContext, req: OpenPullRequest): Promise<{ pullRequest: PullRequestRef; created: boolean }> {
  const { orgId, installation } = c.state;
  if (!orgId || !installation || c.state.status === "disconnected") throw new UserError("This organization has no GitHub App installation.", { code: "github_not_installed" });
  if (c.state.status === "suspended" || c.state.status === "reconnect_required") {
    throw new UserError(`The GitHub connection is ${c.state.status.replace("_", " ")}.`, { code: ACTOR_ERRORS.conflict });
  }
  const repo = (await c.db.select().from(repos).where(eq(repos.id, req.repoId)).limit(1))[0];
  if (!repo || repo.removed) throw new UserError("This repository is not in the GitHub App installation.", { code: ACTOR_ERRORS.repoNotFound });
  const task = c.client().task.get(keys.task(orgId, githubRepoId(req.repoId), req.taskId), { params: internalParams() });
  // The token is minted here first, so a refused installation answers as one (409, reconnect)
  // rather than as the TaskActor's failure; the push below then takes it from the cache.
  await githubServices()
    .app.installationToken(installation.id)
    .catch(async (err: unknown) => {
      throw await githubRefusal(c, err);
    });
  const pushed = await task.pushBranch({ installationId: installation.id });
  const [owner, name] = repo.fullName.split("/") as [string, string];
  const gh = await githubServices().app.forInstallation(installation.id);
  let created = true;
  let pr;
  try {
    try {
      ({ data: pr } = await gh.rest.pulls.create({ owner, repo: name, head: pushed.branch, base: repo.defaultBranch, title: req.title ?? pushed.title, body: req.body ?? pushed.prompt, draft: req.draft ?? false }));
    } catch (err) {
      if (isInstallationRefusal(err) || (err as { status?: number }).status !== 422) throw err;
      const open = await gh.rest.pulls.list({ owner, repo: name, head: `${owner}:${pushed.branch}`, state: "open", per_page: 10 });
      pr = open.data.find((p) => p.head.ref === pushed.branch);
      if (!pr) throw err;
      created = false;
    }
  } catch (err) {
    throw await githubRefusal(c, err);
  }
  await upsertPull(c, req.repoId, { ...pr, draft: pr.draft ?? false }, c.state.sync.generation);
  await c.db.update(pulls).set({ taskId: req.taskId }).where(and(eq(pulls.repoId, req.repoId), eq(pulls.number, pr.number)));
  await publishPull(c, req.repoId, pr.number);
  return {
    created,
    pullRequest: { number: pr.number, url: pr.html_url, state: "open", draft: pr.draft ?? false, reviewDecision: null, checks: await checksFor(c.db, pr.head.sha) },
  };
}

/**
 * GitHub's answer as the caller's error, never a 500: a refused installation needs a person to
 * reconnect it (the connection says so from now on), anything else is GitHub being unavailable.
 */
async function githubRefusal(c: GitHubContext, err: unknown): Promise<UserError> {
  const status = (err as { status?: unknown } | null)?.status;
  if (isInstallationRefusal(err)) {
    c.state.status = "reconnect_required";
    // No route in the words: error bodies have paths scrubbed, and this one is shown to people.
    c.state.message = "GitHub refused this installation's credentials. Check the App's installation on GitHub (it may have been removed or lost access), then an owner or admin reconnects it.";
    await broadcastStatus(c);
    return new UserError(c.state.message, { code: ACTOR_ERRORS.conflict });
  }
  if (status === 422) return new UserError("GitHub would not open this pull request (is the branch ahead of the base?).", { code: ACTOR_ERRORS.conflict });
  return new UserError(`GitHub did not open the pull request${typeof status === "number" ? ` (it answered ${status})` : ""}. Try again later.`, { code: "service_unavailable" });
}
