import type { Logger } from "pino";

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
    log: Logger;
    user: SessionUser;
    session: SessionInfo;
  };
}
