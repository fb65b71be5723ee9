import type { RequestLog } from "./middleware/request-context.js";

export interface SessionUser {
  id: string;
  email: string;
  name: string;
}

export interface SessionInfo {
  id: string;
  expiresAt: Date;
}

/** Variables every Kiln route can read from the Hono context. */
export interface KilnEnv {
  Variables: {
    requestId: string;
    log: RequestLog;
    user: SessionUser;
    session: SessionInfo;
    /** Set by requireOrgMember once the caller is known to belong to it. */
    orgId: string;
    /** The caller's address for better-auth's limits (socket, or X-Forwarded-For from a trusted proxy). */
    clientAddress: string;
    /** Set when the request authenticated with a personal access token instead of a session. */
    tokenId: string | undefined;
  };
}
