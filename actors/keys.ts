/**
 * Every actor key is built here, so no key array is spelled twice.
 * Keys follow the tree in ACTORS.md: an actor's key scopes all of its data.
 */
export const keys = {
  organization: (orgId: string) => ["org", orgId],
} as const;

/** The personal organization of a user has a stable id derived from the user id. */
export function personalOrgId(userId: string): string {
  return `personal-${userId}`;
}
