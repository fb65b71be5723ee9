import { createAppAuth } from "@octokit/auth-app";
import { Octokit } from "@octokit/rest";

/** The GitHub App's configuration (GITHUB_APP_*). Holds secrets: never logged, never returned. */
export interface GitHubAppConfig {
  appId: string;
  /** PEM, with real newlines. */
  privateKey: string;
  webhookSecret: string;
  slug: string | undefined;
  /** `https://api.github.com`, or another API (a fake in tests). */
  apiUrl: string;
}

/**
 * The App's credentials for this process: app JWTs and installation tokens through
 * `@octokit/auth-app`, whose in-memory cache keeps each installation token until shortly before
 * it expires. Tokens never leave this object except into an Octokit or a single git command.
 */
export class GitHubApp {
  private readonly auth: ReturnType<typeof createAppAuth>;

  constructor(readonly config: GitHubAppConfig) {
    this.auth = createAppAuth({
      appId: config.appId,
      privateKey: config.privateKey,
      request: new Octokit({ baseUrl: config.apiUrl }).request,
    });
  }

  /** An installation token, from the cache when it is still fresh. */
  async installationToken(installationId: number): Promise<string> {
    const { token } = await this.auth({ type: "installation", installationId });
    return token;
  }

  /** An Octokit acting as the installation. */
  async forInstallation(installationId: number): Promise<Octokit> {
    return new Octokit({ auth: await this.installationToken(installationId), baseUrl: this.config.apiUrl, log: quietLog });
  }
}

/** Octokit logs deprecations and request failures to the console; Kiln reports failures itself. */
const quietLog = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };

/** GitHub refused the installation itself: its token can't be minted, or it lost access. */
export function isInstallationRefusal(err: unknown): boolean {
  const status = (err as { status?: unknown } | null)?.status;
  return status === 401 || status === 403 || status === 404;
}
