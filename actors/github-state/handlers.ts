import { and, eq } from "drizzle-orm";
import { keys } from "../../shared/keys.js";
import { internalParams } from "../auth.js";
import type { OrganizationInput } from "../organization/index.js";
import { checks, members, pulls, repos } from "./db.js";
import { broadcastStatus, githubServices, publishBranchHead, publishMembers, publishPull, publishPullsAt, publishRepos, type GitHubContext } from "./publish.js";
import { repoRow } from "./sync.js";

/** The parts of GitHub's webhook payloads Kiln reads. A payload without them fails its delivery. */
interface Account { id: number; login: string; type?: string; avatar_url?: string }
interface RepoPayload { id: number; full_name: string; name: string; owner: Account; default_branch?: string; private: boolean; clone_url?: string; archived?: boolean }
interface Payload {
  action?: string;
  installation?: { id: number; account?: Account };
  repository?: RepoPayload;
  repositories_added?: { id: number; full_name: string; private: boolean }[];
  repositories_removed?: { id: number }[];
  membership?: { role: string; user: Account };
  ref?: string;
  after?: string;
  deleted?: boolean;
  head_commit?: { timestamp?: string } | null;
  pusher?: { name?: string };
  pull_request?: { number: number; html_url: string; title: string; state: string; merged?: boolean; merged_at?: string | null; draft?: boolean; head: { ref: string; sha: string } };
  review?: { state: string };
  check_run?: { head_sha: string; name: string; status: string; conclusion: string | null };
  check_suite?: { head_sha: string; status: string; conclusion: string | null; app?: { slug?: string; name?: string } };
  sha?: string;
  context?: string;
  state?: string;
}

/** What a delivery asks of the workflow after it is applied. */
export type DeliveryOutcome = "processed" | "ignored" | "sync";

/**
 * Applies one delivery: local rows first, then the pushes to the org and its tasks. Every write
 * is an upsert or a set, so a retry after a failure part-way applies it again safely.
 */
export async function applyEvent(c: GitHubContext, event: string, p: Payload): Promise<DeliveryOutcome> {
  switch (event) {
    case "installation":
      return applyInstallation(c, p);
    case "installation_repositories":
      return applyInstallationRepos(c, p);
    case "repository":
      return applyRepository(c, p);
    case "organization":
      return applyOrganization(c, p);
    case "push":
      return applyPush(c, p);
    case "pull_request":
      return applyPullRequest(c, p);
    case "pull_request_review":
      return applyReview(c, p);
    case "check_run":
      return applyCheck(c, p.check_run!.head_sha, `run:${p.check_run!.name}`, ciState(p.check_run!.status, p.check_run!.conclusion));
    case "check_suite": {
      const suite = p.check_suite!;
      return applyCheck(c, suite.head_sha, `suite:${suite.app?.slug ?? suite.app?.name ?? "suite"}`, ciState(suite.status, suite.conclusion));
    }
    case "status":
      return applyCheck(c, p.sha!, `status:${p.context!}`, p.state === "success" ? "success" : p.state === "pending" ? "pending" : "failure");
    default:
      return "ignored";
  }
}

function ciState(status: string, conclusion: string | null): string {
  if (status !== "completed") return "pending";
  return conclusion === "success" || conclusion === "neutral" || conclusion === "skipped" ? "success" : "failure";
}

async function applyInstallation(c: GitHubContext, p: Payload): Promise<DeliveryOutcome> {
  const inst = p.installation!;
  const s = c.state;
  switch (p.action) {
    case "created": {
      const account = inst.account!;
      s.installation = { id: inst.id, accountId: account.id, accountLogin: account.login, accountType: account.type ?? "Organization", avatarUrl: account.avatar_url ?? null };
      s.status = "connected";
      s.message = null;
      await ensureOrganization(c);
      await broadcastStatus(c);
      return "sync";
    }
    case "deleted": {
      s.status = "disconnected";
      s.message = "The GitHub App was uninstalled.";
      const hidden = await c.db.select({ id: repos.id }).from(repos);
      await c.db.update(repos).set({ removed: true });
      await publishRepos(c, [], hidden.map((r) => r.id));
      await broadcastStatus(c);
      return "processed";
    }
    case "suspend":
      s.status = "suspended";
      s.message = "The GitHub App installation is suspended; unsuspend it on GitHub to resume.";
      await broadcastStatus(c);
      return "processed";
    case "unsuspend":
      s.status = "connected";
      s.message = null;
      await broadcastStatus(c);
      return "sync";
    default:
      return "ignored";
  }
}

/** A GitHub org's installation makes (or finds) its Kiln organization; a personal account's attaches to the org routed to. */
async function ensureOrganization(c: GitHubContext): Promise<void> {
  const { orgId, installation } = c.state;
  if (!orgId || !installation || !orgId.startsWith("gh-")) return;
  const input: OrganizationInput = { id: orgId, kind: "github", name: installation.accountLogin };
  await c.client().organization.getOrCreate(keys.organization(orgId), { params: internalParams(), createWithInput: input }).ensure(input);
}

async function applyInstallationRepos(c: GitHubContext, p: Payload): Promise<DeliveryOutcome> {
  if (!c.state.installation) return "ignored";
  const octokit = await githubServices().app.forInstallation(c.state.installation.id);
  const added = [];
  for (const r of p.repositories_added ?? []) {
    const [owner, name] = r.full_name.split("/");
    const { data } = await octokit.rest.repos.get({ owner: owner!, repo: name! });
    added.push(await upsertRepo(c, data as RepoPayload, c.state.sync.generation));
  }
  const removed = (p.repositories_removed ?? []).map((r) => r.id);
  for (const id of removed) await c.db.update(repos).set({ removed: true }).where(eq(repos.id, id));
  await publishRepos(c, added, removed);
  return "processed";
}

async function upsertRepo(c: GitHubContext, r: RepoPayload, generation: number) {
  const row = repoRow(r);
  const values = { fullName: row.fullName, defaultBranch: row.defaultBranch, private: row.private, archived: r.archived ?? false, removed: false, generation };
  await c.db.insert(repos).values({ id: r.id, ...values }).onConflictDoUpdate({ target: repos.id, set: values });
  return row;
}

async function applyRepository(c: GitHubContext, p: Payload): Promise<DeliveryOutcome> {
  const r = p.repository!;
  const known = (await c.db.select().from(repos).where(eq(repos.id, r.id)).limit(1))[0];
  if (!known) return "ignored";
  if (p.action === "deleted") {
    await c.db.update(repos).set({ removed: true }).where(eq(repos.id, r.id));
    await publishRepos(c, [], [r.id]);
    return "processed";
  }
  if (p.action !== "renamed" && p.action !== "archived" && p.action !== "unarchived" && p.action !== "edited") return "ignored";
  await publishRepos(c, [await upsertRepo(c, r, known.generation)], []);
  return "processed";
}

async function applyOrganization(c: GitHubContext, p: Payload): Promise<DeliveryOutcome> {
  const m = p.membership;
  if (!m || (p.action !== "member_added" && p.action !== "member_removed")) return "ignored";
  if (p.action === "member_added") {
    const values = { login: m.user.login, role: m.role === "admin" ? "admin" : "member", generation: c.state.sync.generation };
    await c.db.insert(members).values({ githubId: m.user.id, ...values }).onConflictDoUpdate({ target: members.githubId, set: values });
  } else {
    await c.db.delete(members).where(eq(members.githubId, m.user.id));
  }
  await publishMembers(c);
  await broadcastStatus(c);
  return "processed";
}

/**
 * A push to a branch: the task on that branch records its new head (or that the branch is gone),
 * and open pull requests from it follow their head commit (their CI state is per commit).
 */
async function applyPush(c: GitHubContext, p: Payload): Promise<DeliveryOutcome> {
  const branch = p.ref?.startsWith("refs/heads/") ? p.ref.slice("refs/heads/".length) : null;
  if (!branch || !p.repository || !p.after) return "ignored";
  const open = await c.db.select().from(pulls).where(and(eq(pulls.repoId, p.repository.id), eq(pulls.headRef, branch)));
  for (const pr of open) {
    await c.db.update(pulls).set({ headSha: p.after }).where(and(eq(pulls.repoId, pr.repoId), eq(pulls.number, pr.number)));
    await publishPull(c, pr.repoId, pr.number);
  }
  const onTask = await publishBranchHead(c, p.repository.id, branch, {
    sha: p.deleted ? null : p.after,
    pushedAt: p.head_commit?.timestamp ?? new Date().toISOString(),
    pusher: p.pusher?.name ?? null,
  });
  return open.length || onTask ? "processed" : "ignored";
}

async function applyPullRequest(c: GitHubContext, p: Payload): Promise<DeliveryOutcome> {
  const pr = p.pull_request!;
  const repoId = p.repository!.id;
  await upsertPull(c, repoId, pr, c.state.sync.generation);
  await publishPull(c, repoId, pr.number);
  return "processed";
}

export async function upsertPull(c: GitHubContext, repoId: number, pr: NonNullable<Payload["pull_request"]>, generation: number): Promise<void> {
  const state = pr.merged || pr.merged_at ? "merged" : pr.state === "closed" ? "closed" : "open";
  const values = { url: pr.html_url, title: pr.title, state, draft: pr.draft ?? false, headRef: pr.head.ref, headSha: pr.head.sha, generation };
  await c.db.insert(pulls).values({ repoId, number: pr.number, ...values }).onConflictDoUpdate({ target: [pulls.repoId, pulls.number], set: values });
}

async function applyReview(c: GitHubContext, p: Payload): Promise<DeliveryOutcome> {
  const repoId = p.repository!.id;
  const pr = p.pull_request!;
  const review = p.review!.state.toLowerCase();
  const decision = review === "approved" ? "approved" : review === "changes_requested" ? "changes_requested" : p.action === "dismissed" ? "review_required" : null;
  if (!decision) return "ignored";
  await upsertPull(c, repoId, pr, c.state.sync.generation);
  await c.db.update(pulls).set({ reviewDecision: decision }).where(and(eq(pulls.repoId, repoId), eq(pulls.number, pr.number)));
  await publishPull(c, repoId, pr.number);
  return "processed";
}

async function applyCheck(c: GitHubContext, sha: string, name: string, state: string): Promise<DeliveryOutcome> {
  await c.db.insert(checks).values({ sha, name, state }).onConflictDoUpdate({ target: [checks.sha, checks.name], set: { state } });
  await publishPullsAt(c, sha);
  return "processed";
}
