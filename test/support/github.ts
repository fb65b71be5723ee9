import { randomUUID } from "node:crypto";
import { Webhooks } from "@octokit/webhooks";
import examples from "@octokit/webhooks-examples";
import type { FakeGitHub, FakeUser } from "../fakes/github.js";
import { cookieFrom } from "./http.js";

export const WEBHOOK_SECRET = "kiln-test-webhook-secret";

/** A Kiln configured with the fake as its GitHub App (the key with literal `\n`, as env files carry it) and GitHub sign-in. */
export function githubEnv(fake: FakeGitHub): Record<string, string> {
  return {
    GITHUB_APP_ID: fake.appId,
    GITHUB_APP_PRIVATE_KEY: fake.privateKey.trim().replace(/\n/g, "\\n"),
    GITHUB_WEBHOOK_SECRET: WEBHOOK_SECRET,
    GITHUB_API_URL: fake.url,
    GITHUB_CLIENT_ID: "gh-client-id",
    GITHUB_CLIENT_SECRET: "gh-client-secret",
    KILN_SANDBOX_PROVIDER: "local-git",
  };
}

type Payload = Record<string, unknown> & { action?: string };

/** A real recorded payload from @octokit/webhooks-examples (a deep copy, to rewrite ids in). */
export function example(event: string, action?: string): Payload {
  const group = (examples as { name: string; examples: Payload[] }[]).find((e) => e.name === event);
  const found = group?.examples.find((p) => action === undefined || p.action === action);
  if (!found) throw new Error(`no example ${event}.${action ?? ""}`);
  return structuredClone(found);
}

export interface Delivery {
  id?: string;
  /** Override the signature (a wrong one); `null` sends none. */
  signature?: string | null;
  secret?: string;
}

/** Posts a delivery signed as GitHub signs it (HMAC-SHA256 of the raw body, `x-hub-signature-256`). */
export async function deliver(baseUrl: string, event: string, payload: unknown, opts: Delivery = {}): Promise<{ status: number; body: Record<string, unknown>; id: string }> {
  const body = JSON.stringify(payload);
  const id = opts.id ?? randomUUID();
  const signature = opts.signature === undefined ? await new Webhooks({ secret: opts.secret ?? WEBHOOK_SECRET }).sign(body) : opts.signature;
  const headers: Record<string, string> = { "content-type": "application/json", "x-github-event": event, "x-github-delivery": id, "user-agent": "GitHub-Hookshot/test" };
  if (signature !== null) headers["x-hub-signature-256"] = signature;
  const res = await fetch(`${baseUrl}/api/rivet/app/webhooks/github`, { method: "POST", headers, body });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {}, id };
}

/** `installation.created` for an account, from the recorded example with ids rewritten. */
export function installationCreated(installationId: number, account: { id: number; login: string; type: "Organization" | "User" }): Payload {
  const p = example("installation", "created");
  const inst = p.installation as Record<string, unknown>;
  inst.id = installationId;
  inst.account = { ...(inst.account as object), ...account };
  inst.target_type = account.type;
  return p;
}

/**
 * Sends `https://github.com` and `https://api.github.com` (better-auth's fixed GitHub sign-in URLs)
 * to the fake, for Kilns running in this process. Returns the undo.
 */
export function redirectGitHubSignIn(fake: FakeGitHub): () => void {
  const real = globalThis.fetch;
  globalThis.fetch = ((input: Parameters<typeof fetch>[0], init?: RequestInit) => {
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    const m = /^https:\/\/(api\.)?github\.com(\/.*)$/.exec(url);
    if (!m) return real(input, init);
    const req = input instanceof Request ? input : undefined;
    return real(`${fake.url}${m[2]}`, req ? { method: req.method, headers: req.headers, body: req.body, duplex: "half", ...init } as RequestInit : init);
  }) as typeof fetch;
  return () => {
    globalThis.fetch = real;
  };
}

/** Signs a GitHub account in to Kiln through the real OAuth callback; returns the session token. */
export async function signInWithGitHub(baseUrl: string, user: FakeUser): Promise<string> {
  const origin = new URL(baseUrl).origin;
  const start = await fetch(`${baseUrl}/api/auth/sign-in/social`, {
    method: "POST",
    headers: { "content-type": "application/json", origin },
    body: JSON.stringify({ provider: "github", callbackURL: "/", disableRedirect: true }),
  });
  if (start.status !== 200) throw new Error(`social sign-in: ${start.status} ${await start.text()}`);
  const state = new URL(((await start.json()) as { url: string }).url).searchParams.get("state");
  const callback = await fetch(`${baseUrl}/api/auth/callback/github?code=user-${user.id}&state=${state}`, { headers: { cookie: cookieFrom(start), origin }, redirect: "manual" });
  const token = callback.headers.get("set-auth-token") ?? decodeURIComponent(/better-auth\.session_token=([^;]+)/.exec(callback.headers.getSetCookie().join(";"))?.[1] ?? "");
  if (!token) throw new Error(`GitHub callback gave no session: ${callback.status} ${callback.headers.get("location")}`);
  return token;
}
