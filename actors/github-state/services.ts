import type { GitHubApp } from "./app.js";

/** A Kiln user who signed in with a GitHub account. */
export interface KilnGitHubUser {
  githubId: number;
  userId: string;
  name: string;
  email: string;
}

/**
 * What the GitHub actors need from the process: the App's credentials (token cache in memory
 * only) and two lookups in the app database. Installed with the other actor services when the
 * GitHub App is configured.
 */
export interface GitHubServices {
  app: GitHubApp;
  /** The Kiln users who signed in with these GitHub accounts (better-auth's `account` rows). */
  kilnUsersForGitHub(githubIds: number[]): Promise<KilnGitHubUser[]>;
  /** Index of an org's GitHub members, so a pending member's first GitHub sign-in finds their orgs. */
  indexGitHubMembers(orgId: string, githubIds: number[]): Promise<void>;
}
