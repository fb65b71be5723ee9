import type { GitHubAppConfig } from "../../actors/github-state/app.js";

const REQUIRED = ["GITHUB_APP_ID", "GITHUB_APP_PRIVATE_KEY", "GITHUB_WEBHOOK_SECRET"] as const;

const set = (env: Record<string, string | undefined>, name: string) => (env[name] ?? "").trim() !== "";

/**
 * The GitHub App is all or none: a partial set is a mistake, and each missing variable is named.
 * (GITHUB_CLIENT_ID/SECRET stay the sign-in app, checked on their own.)
 */
export function githubAppProblems(env: Record<string, string | undefined>): { name: string; message: string }[] {
  const given = REQUIRED.filter((n) => set(env, n));
  const problems: { name: string; message: string }[] = [];
  if (given.length > 0 && given.length < REQUIRED.length) {
    for (const name of REQUIRED) if (!set(env, name)) problems.push({ name, message: `is required when ${given.join(" and ")} ${given.length === 1 ? "is" : "are"} set (the GitHub App is configured all or none)` });
  }
  if (set(env, "GITHUB_APP_ID") && !/^\d{1,12}$/.test(env.GITHUB_APP_ID!.trim())) problems.push({ name: "GITHUB_APP_ID", message: "must be the App's numeric id" });
  const key = normalizePem(env.GITHUB_APP_PRIVATE_KEY ?? "");
  if (set(env, "GITHUB_APP_PRIVATE_KEY") && !/-----BEGIN (RSA )?PRIVATE KEY-----/.test(key)) {
    problems.push({ name: "GITHUB_APP_PRIVATE_KEY", message: "must be the App's PEM private key (literal \\n accepted)" });
  }
  if (set(env, "GITHUB_API_URL") && !/^https?:\/\/[^\s]+$/.test(env.GITHUB_API_URL!.trim())) problems.push({ name: "GITHUB_API_URL", message: "must be an http(s) URL" });
  if (set(env, "GITHUB_APP_SLUG") && !/^[a-z0-9-]{1,100}$/i.test(env.GITHUB_APP_SLUG!.trim())) problems.push({ name: "GITHUB_APP_SLUG", message: "must be the App's slug" });
  return problems;
}

/** The App's configuration, or undefined when none of it is set. Call after `githubAppProblems` found none. */
export function githubAppConfig(env: Record<string, string | undefined>): GitHubAppConfig | undefined {
  if (!REQUIRED.every((n) => set(env, n))) return undefined;
  return {
    appId: env.GITHUB_APP_ID!.trim(),
    privateKey: normalizePem(env.GITHUB_APP_PRIVATE_KEY!),
    webhookSecret: env.GITHUB_WEBHOOK_SECRET!.trim(),
    slug: env.GITHUB_APP_SLUG?.trim() || undefined,
    apiUrl: (env.GITHUB_API_URL?.trim() || "https://api.github.com").replace(/\/+$/, ""),
  };
}

/** Env files and CI secrets often carry a PEM on one line with literal `\n`. */
function normalizePem(value: string): string {
  return value.trim().replace(/\\n/g, "\n");
}
