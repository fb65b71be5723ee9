import type { MiddlewareHandler } from "hono";
import { ForbiddenError } from "../../shared/errors.js";
import type { Organizations } from "../organizations.js";
import type { KilnEnv } from "../types.js";

const ORG_ID = /^[A-Za-z0-9_-]{1,128}$/;

/**
 * Routes under /v1/orgs/:orgId need the caller to be a member, read from the membership index.
 * Unknown orgs, malformed ids and orgs the caller is not in get the same answer, so ids can't be probed.
 */
export function requireOrgMember(orgs: Organizations): MiddlewareHandler<KilnEnv> {
  return async (c, next) => {
    const orgId = c.req.param("orgId") ?? "";
    if (!ORG_ID.test(orgId) || !(await orgs.isMember(orgId, c.get("user").id))) {
      throw new ForbiddenError("You are not a member of this organization.");
    }
    c.set("orgId", orgId);
    await next();
  };
}
