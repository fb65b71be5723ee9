import { and, eq, lt } from "drizzle-orm";
import { githubRepoId, type GitHubRepoRow } from "../organization/github.js";
import { isInstallationRefusal } from "./app.js";
import { members, pulls, repos } from "./db.js";
import { upsertPull } from "./handlers.js";
import { broadcastStatus, githubServices, publishMembers, publishPull, publishRepos, tasksOnBranches, type GitHubContext } from "./publish.js";

/** Repositories per page, and repositories whose open pull requests one step lists. */
export const REPOS_PER_PAGE = 100;
export const PULL_REPOS_PER_STEP = 5;

export function repoRow(r: { id: number; full_name: string; default_branch?: string; private: boolean; clone_url?: string }): GitHubRepoRow {
  return {
    githubId: r.id,
    fullName: r.full_name,
    cloneUrl: r.clone_url ?? `https://github.com/${r.full_name}.git`,
    defaultBranch: r.default_branch ?? "main",
    private: r.private,
  };
}

async function octokit(c: GitHubContext) {
  const installation = c.state.installation;
  if (!installation) throw new Error("No installation to sync.");
  return githubServices().app.forInstallation(installation.id);
}

/** Starts a sync: a new generation, progress at zero. Null when there is nothing to sync. */
export async function startSync(c: GitHubContext): Promise<number | null> {
  const s = c.state;
  s.syncPending = false;
  if (!s.installation || s.status === "suspended" || s.status === "disconnected") return null;
  const generation = s.sync.generation + 1;
  s.sync = { generation, running: true, phase: "repositories", repositories: 0, members: 0, pullRequests: 0, startedAt: new Date().toISOString(), finishedAt: null, error: null };
  s.status = "syncing";
  await broadcastStatus(c);
  return generation;
}

/** One page of the installation's repositories. Returns whether there is another. */
export async function syncReposPage(c: GitHubContext, generation: number, page: number): Promise<boolean> {
  const gh = await octokit(c);
  const { data } = await gh.rest.apps.listReposAccessibleToInstallation({ per_page: REPOS_PER_PAGE, page });
  const rows: GitHubRepoRow[] = [];
  for (const r of data.repositories) {
    const row = repoRow(r);
    const values = { fullName: row.fullName, defaultBranch: row.defaultBranch, private: row.private, archived: r.archived ?? false, removed: false, generation };
    await c.db.insert(repos).values({ id: r.id, ...values }).onConflictDoUpdate({ target: repos.id, set: values });
    rows.push(row);
  }
  await publishRepos(c, rows, []);
  c.state.sync.repositories += data.repositories.length;
  await broadcastStatus(c);
  return page * REPOS_PER_PAGE < data.total_count && data.repositories.length > 0;
}

/** The GitHub org's members (admins first), through Octokit's pagination; a personal account is its own admin. */
export async function syncMembers(c: GitHubContext, generation: number): Promise<void> {
  const installation = c.state.installation!;
  c.state.sync.phase = "members";
  const found: { id: number; login: string; role: string }[] = [];
  if (installation.accountType === "Organization") {
    const gh = await octokit(c);
    // The org's profile (display name, avatar) rides on each sync: GitHub sends no webhook for it.
    const { data: profile } = await gh.rest.orgs.get({ org: installation.accountLogin });
    installation.displayName = profile.name ?? null;
    installation.avatarUrl = profile.avatar_url;
    const admins = await gh.paginate(gh.rest.orgs.listMembers, { org: installation.accountLogin, role: "admin", per_page: 100 });
    const all = await gh.paginate(gh.rest.orgs.listMembers, { org: installation.accountLogin, role: "all", per_page: 100 });
    const adminIds = new Set(admins.map((m) => m.id));
    for (const m of all) found.push({ id: m.id, login: m.login, role: adminIds.has(m.id) ? "admin" : "member" });
  } else {
    found.push({ id: installation.accountId, login: installation.accountLogin, role: "admin" });
  }
  for (const m of found) {
    const values = { login: m.login, role: m.role, generation };
    await c.db.insert(members).values({ githubId: m.id, ...values }).onConflictDoUpdate({ target: members.githubId, set: values });
  }
  c.state.sync.members = found.length;
  c.state.sync.phase = "pull_requests";
  await broadcastStatus(c);
}

/** Open pull requests of a few repositories, from `offset` in id order. Returns the next offset, or null at the end. */
export async function syncPullsBatch(c: GitHubContext, generation: number, offset: number): Promise<number | null> {
  const batch = await c.db
    .select({ id: repos.id, fullName: repos.fullName })
    .from(repos)
    .where(and(eq(repos.removed, false), eq(repos.generation, generation)))
    .orderBy(repos.id)
    .limit(PULL_REPOS_PER_STEP)
    .offset(offset);
  if (!batch.length) return null;
  const gh = await octokit(c);
  const seen: { repoId: number; number: number; branch: string }[] = [];
  for (const repo of batch) {
    const [owner, name] = repo.fullName.split("/");
    const open = await gh.paginate(gh.rest.pulls.list, { owner: owner!, repo: name!, state: "open", per_page: 100 });
    for (const pr of open) {
      await upsertPull(c, repo.id, { ...pr, draft: pr.draft ?? false }, generation);
      seen.push({ repoId: repo.id, number: pr.number, branch: pr.head.ref });
    }
    c.state.sync.pullRequests += open.length;
  }
  // One question to the org for the batch (not one per pull request): which of these branches have a task.
  const onBranch = await tasksOnBranches(c, seen.map((p) => ({ repoId: p.repoId, branch: p.branch })));
  for (const p of seen) await publishPull(c, p.repoId, p.number, onBranch.get(`${githubRepoId(p.repoId)}:${p.branch}`) ?? null);
  await broadcastStatus(c);
  return batch.length < PULL_REPOS_PER_STEP ? null : offset + batch.length;
}

/** Rows this sync did not see are gone on GitHub: repositories hidden, members removed, open pulls dropped. */
export async function sweepAndFinish(c: GitHubContext, generation: number): Promise<void> {
  c.state.sync.phase = "sweep";
  const gone = await c.db.select({ id: repos.id }).from(repos).where(and(lt(repos.generation, generation), eq(repos.removed, false)));
  await c.db.update(repos).set({ removed: true }).where(lt(repos.generation, generation));
  await c.db.delete(members).where(lt(members.generation, generation));
  await c.db.delete(pulls).where(and(lt(pulls.generation, generation), eq(pulls.state, "open")));
  await publishRepos(c, [], gone.map((r) => r.id));
  await publishMembers(c);
  c.state.sync = { ...c.state.sync, running: false, phase: null, finishedAt: new Date().toISOString() };
  if (c.state.status === "syncing") c.state.status = "connected";
  await broadcastStatus(c);
}

/**
 * A sync that failed: GitHub refusing the installation (401/403/404) means its access is gone,
 * which only a person can fix; anything else leaves the connection as it was.
 */
export function failSync(c: GitHubContext, error: { message: string; status?: number }): string {
  const refused = isInstallationRefusal(error);
  c.state.sync = { ...c.state.sync, running: false, phase: null, finishedAt: new Date().toISOString(), error: error.message };
  if (refused) {
    c.state.status = "reconnect_required";
    c.state.message = "GitHub refused this installation's credentials. Check the App's installation on GitHub (it may have been removed or lost access), then reconnect (POST /v1/orgs/:orgId/github/reconnect).";
  } else if (c.state.status === "syncing") {
    c.state.status = "connected";
  }
  return refused ? c.state.message! : `GitHub sync failed: ${error.message}`;
}
