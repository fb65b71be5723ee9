import { createPublicKey, createVerify, generateKeyPairSync, randomBytes } from "node:crypto";
import type { ServerResponse } from "node:http";
import fixtures from "@octokit/fixtures";
import { bearerToken, sendJson, startBaseServer, type BaseFake, type FakeRequest } from "./http.js";

/**
 * A fake GitHub REST API that `@octokit/rest` and `@octokit/auth-app` accept, for the calls Kiln
 * makes as a GitHub App:
 *
 * - POST /app/installations/{id}/access_tokens   201 `{ token, expires_at }` for a valid RS256 app JWT
 *   (`iss` = app id, expiring within 10 minutes); 401 for a bad JWT; 404 for an unknown, removed or
 *   `revoke`d installation (as GitHub answers once an App loses an installation)
 * - GET  /installation/repositories              the installation's repositories, paginated with `Link`
 * - GET  /repos/{owner}/{repo}                   a repository
 * - GET  /orgs/{org}                             the installation's organization (display name, avatar)
 * - GET  /orgs/{org}/members?role=admin|all      members, paginated with `Link`
 * - GET  /repos/{owner}/{repo}/pulls?state=open  open pull requests, paginated
 * - POST /repos/{owner}/{repo}/pulls             201 a new pull request; 422 when one is open for the head
 * And GitHub sign-in (OAuth), for `https://github.com` / `https://api.github.com` redirected here:
 * - POST /login/oauth/access_token  a user token for the code `user-<githubId>`
 * - GET  /user, /user/emails        that user
 *
 * Objects are GitHub's recorded responses from `@octokit/fixtures` (the `get-repository`
 * scenario) with ids and names rewritten. Installation tokens are checked on every call.
 */

type Json = Record<string, unknown>;
const repoTemplate = (fixtures.get("api.github.com/get-repository") as { response: Json }[])[0]!.response;
const userTemplate = repoTemplate.owner as Json;

export interface FakeRepo {
  id: number;
  fullName: string;
  defaultBranch?: string;
  private?: boolean;
  cloneUrl?: string;
}

export interface FakeMember {
  id: number;
  login: string;
  role: "admin" | "member";
}

export interface FakePull {
  number: number;
  title: string;
  head: string;
  base: string;
  draft: boolean;
  body: string | null;
  sha: string;
}

interface Installation {
  id: number;
  /** `name`: the GitHub organization's display name (GitHub's `name`, null when unset). */
  account: { id: number; login: string; type: "Organization" | "User"; name?: string };
  repos: FakeRepo[];
  revoked: boolean;
}

export interface FakeUser {
  id: number;
  login: string;
  name: string;
  email: string;
}

export interface FakeGitHub extends BaseFake {
  /** A GitHub account that can sign in to Kiln with the OAuth code `user-<id>`. */
  addUser(user: FakeUser): void;
  /** The OAuth tokens handed out at sign-in, to look for them where they must not be. */
  userTokens(): string[];
  appId: string;
  /** PKCS#1 PEM, as GitHub hands it out. */
  privateKey: string;
  addInstallation(id: number, account: Installation["account"], repos?: FakeRepo[]): void;
  setRepos(installationId: number, repos: FakeRepo[]): void;
  setMembers(org: string, members: FakeMember[]): void;
  /** GitHub stops honouring the installation (uninstalled, or the App lost access). */
  revoke(installationId: number, revoked?: boolean): void;
  pulls(fullName: string): FakePull[];
  addPull(fullName: string, pull: Omit<FakePull, "number" | "sha"> & { sha?: string }): FakePull;
  tokensIssued(): number;
}

function repoJson(r: FakeRepo, owner: Installation["account"]): Json {
  const [login, name] = r.fullName.split("/");
  return {
    ...repoTemplate,
    id: r.id,
    node_id: Buffer.from(`010:Repository${r.id}`).toString("base64"),
    name,
    full_name: r.fullName,
    private: r.private ?? false,
    owner: { ...userTemplate, id: owner.id, login, type: owner.type },
    html_url: `https://github.com/${r.fullName}`,
    clone_url: r.cloneUrl ?? `https://github.com/${r.fullName}.git`,
    default_branch: r.defaultBranch ?? "main",
    archived: false,
  };
}

/** GitHub's avatar URL for an account id. */
export function avatarOf(id: number): string {
  return `https://avatars.githubusercontent.com/u/${id}?v=4`;
}

function userJson(m: { id: number; login: string }): Json {
  return { ...userTemplate, id: m.id, login: m.login, type: "User", html_url: `https://github.com/${m.login}`, avatar_url: avatarOf(m.id) };
}

function pullJson(fullName: string, p: FakePull): Json {
  return {
    number: p.number,
    html_url: `https://github.com/${fullName}/pull/${p.number}`,
    title: p.title,
    body: p.body,
    state: "open",
    draft: p.draft,
    merged_at: null,
    head: { ref: p.head, sha: p.sha },
    base: { ref: p.base },
  };
}

function page<T>(req: FakeRequest, res: ServerResponse, baseUrl: string, items: T[]): void {
  const perPage = Math.min(Number(req.query.get("per_page") ?? 30) || 30, 100);
  const n = Math.max(Number(req.query.get("page") ?? 1) || 1, 1);
  const last = Math.max(Math.ceil(items.length / perPage), 1);
  const links: string[] = [];
  const at = (p: number) => {
    const q = new URLSearchParams(req.query);
    q.set("page", String(p));
    q.set("per_page", String(perPage));
    return `<${baseUrl}${req.path}?${q}>`;
  };
  if (n < last) links.push(`${at(n + 1)}; rel="next"`, `${at(last)}; rel="last"`);
  if (n > 1) links.push(`${at(n - 1)}; rel="prev"`, `${at(1)}; rel="first"`);
  sendJson(res, 200, items.slice((n - 1) * perPage, n * perPage), links.length ? { link: links.join(", ") } : {});
}

function verifyAppJwt(jwt: string, publicKey: ReturnType<typeof createPublicKey>, appId: string): boolean {
  const [h, p, s] = jwt.split(".");
  if (!h || !p || !s) return false;
  const header = JSON.parse(Buffer.from(h, "base64url").toString()) as { alg?: string };
  if (header.alg !== "RS256") return false;
  const ok = createVerify("RSA-SHA256").update(`${h}.${p}`).verify(publicKey, Buffer.from(s, "base64url"));
  const claims = JSON.parse(Buffer.from(p, "base64url").toString()) as { iss?: unknown; exp?: number; iat?: number };
  const now = Math.floor(Date.now() / 1000);
  return ok && String(claims.iss) === appId && typeof claims.exp === "number" && claims.exp > now && claims.exp - now <= 600 + 60;
}

export async function startFakeGitHub(): Promise<FakeGitHub> {
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048, privateKeyEncoding: { type: "pkcs1", format: "pem" }, publicKeyEncoding: { type: "spki", format: "pem" } });
  const publicKey = createPublicKey(privateKey);
  const appId = "4242";
  const installations = new Map<number, Installation>();
  const tokens = new Map<string, number>();
  const members = new Map<string, FakeMember[]>();
  const pulls = new Map<string, FakePull[]>();
  let issued = 0;
  const users = new Map<number, FakeUser>();
  const userTokens = new Map<string, number>();
  let baseUrl = "";

  const installationOf = (req: FakeRequest): Installation | undefined => {
    const token = bearerToken(req.raw) ?? /^token\s+(.+)$/i.exec(String(req.raw.headers.authorization ?? ""))?.[1];
    const inst = token ? installations.get(tokens.get(token) ?? -1) : undefined;
    return inst && !inst.revoked ? inst : undefined;
  };
  const repoOf = (inst: Installation, owner: string, name: string) => inst.repos.find((r) => r.fullName.toLowerCase() === `${owner}/${name}`.toLowerCase());
  const unauthorized = (res: ServerResponse) => sendJson(res, 401, { message: "Bad credentials", documentation_url: "https://docs.github.com/rest" });
  const notFound = (res: ServerResponse) => sendJson(res, 404, { message: "Not Found", documentation_url: "https://docs.github.com/rest" });

  const fake = await startBaseServer(async (req, res) => {
    let m = /^\/app\/installations\/(\d+)\/access_tokens$/.exec(req.path);
    if (req.method === "POST" && m) {
      if (!verifyAppJwt(bearerToken(req.raw) ?? "", publicKey, appId)) return unauthorized(res);
      const inst = installations.get(Number(m[1]));
      if (!inst || inst.revoked) return notFound(res);
      const token = `ghs_${randomBytes(18).toString("base64url")}`;
      tokens.set(token, inst.id);
      issued += 1;
      return sendJson(res, 201, { token, expires_at: new Date(Date.now() + 3600_000).toISOString(), permissions: { metadata: "read" }, repository_selection: "selected" });
    }
    if (req.method === "POST" && req.path === "/login/oauth/access_token") {
      const form = typeof req.body === "string" ? new URLSearchParams(req.body) : new URLSearchParams(req.body as Record<string, string>);
      const id = Number(/^user-(\d+)$/.exec(form.get("code") ?? "")?.[1]);
      if (!users.has(id)) return sendJson(res, 200, { error: "bad_verification_code" });
      const token = `gho_${randomBytes(18).toString("base64url")}`;
      userTokens.set(token, id);
      return sendJson(res, 200, { access_token: token, token_type: "bearer", scope: "read:user,user:email" });
    }
    if (req.method === "GET" && (req.path === "/user" || req.path === "/user/emails")) {
      const user = users.get(userTokens.get(bearerToken(req.raw) ?? "") ?? -1);
      if (!user) return unauthorized(res);
      if (req.path === "/user/emails") return sendJson(res, 200, [{ email: user.email, primary: true, verified: true, visibility: "private" }]);
      return sendJson(res, 200, { ...userJson(user), name: user.name, email: user.email });
    }
    const inst = installationOf(req);
    if (!inst) return unauthorized(res);
    if (req.method === "GET" && req.path === "/installation/repositories") {
      const perPage = Math.min(Number(req.query.get("per_page") ?? 30) || 30, 100);
      const n = Math.max(Number(req.query.get("page") ?? 1) || 1, 1);
      return sendJson(res, 200, { total_count: inst.repos.length, repository_selection: "selected", repositories: inst.repos.slice((n - 1) * perPage, n * perPage).map((r) => repoJson(r, inst.account)) });
    }
    if ((m = /^\/orgs\/([^/]+)$/.exec(req.path)) && req.method === "GET") {
      if (inst.account.type !== "Organization" || inst.account.login.toLowerCase() !== m[1]!.toLowerCase()) return notFound(res);
      return sendJson(res, 200, { ...userJson(inst.account), type: "Organization", name: inst.account.name ?? null, avatar_url: avatarOf(inst.account.id) });
    }
    if ((m = /^\/orgs\/([^/]+)\/members$/.exec(req.path)) && req.method === "GET") {
      if (inst.account.login.toLowerCase() !== m[1]!.toLowerCase()) return notFound(res);
      const role = req.query.get("role") ?? "all";
      const list = (members.get(inst.account.login) ?? []).filter((x) => role === "all" || x.role === role);
      return page(req, res, baseUrl, list.map(userJson));
    }
    if ((m = /^\/repos\/([^/]+)\/([^/]+)$/.exec(req.path)) && req.method === "GET") {
      const repo = repoOf(inst, m[1]!, m[2]!);
      return repo ? sendJson(res, 200, repoJson(repo, inst.account)) : notFound(res);
    }
    if ((m = /^\/repos\/([^/]+)\/([^/]+)\/pulls$/.exec(req.path))) {
      const repo = repoOf(inst, m[1]!, m[2]!);
      if (!repo) return notFound(res);
      const list = pulls.get(repo.fullName) ?? [];
      if (req.method === "GET") return page(req, res, baseUrl, list.map((p) => pullJson(repo.fullName, p)));
      const body = req.body as { title?: string; head?: string; base?: string; draft?: boolean; body?: string };
      if (!body?.title || !body.head || !body.base) return sendJson(res, 422, { message: "Validation Failed", errors: [{ resource: "PullRequest", code: "missing_field" }] });
      if (list.some((p) => p.head === body.head)) {
        return sendJson(res, 422, { message: "Validation Failed", errors: [{ resource: "PullRequest", code: "custom", message: `A pull request already exists for ${repo.fullName.split("/")[0]}:${body.head}.` }] });
      }
      const created = add(repo.fullName, { title: body.title, head: body.head, base: body.base, draft: body.draft ?? false, body: body.body ?? null });
      return sendJson(res, 201, pullJson(repo.fullName, created));
    }
    return notFound(res);
  });
  baseUrl = fake.url;

  function add(fullName: string, p: Omit<FakePull, "number" | "sha"> & { sha?: string }): FakePull {
    const list = pulls.get(fullName) ?? [];
    const created: FakePull = { ...p, number: list.length + 1, sha: p.sha ?? randomBytes(20).toString("hex") };
    list.push(created);
    pulls.set(fullName, list);
    return created;
  }

  return {
    ...fake,
    appId,
    privateKey,
    addUser: (u) => void users.set(u.id, u),
    userTokens: () => [...userTokens.keys()],
    addInstallation: (id, account, repos = []) => void installations.set(id, { id, account, repos, revoked: false }),
    setRepos: (id, repos) => {
      const inst = installations.get(id);
      if (inst) inst.repos = repos;
    },
    setMembers: (org, list) => void members.set(org, list),
    revoke: (id, revoked = true) => {
      const inst = installations.get(id);
      if (inst) inst.revoked = revoked;
    },
    pulls: (fullName) => pulls.get(fullName) ?? [],
    addPull: add,
    tokensIssued: () => issued,
  };
}
