import type { OpenAPIHono } from "@hono/zod-openapi";
import type { Devices } from "./devices.js";
import { limitBody } from "./middleware/body-limit.js";
import type { KilnClient } from "./rivet.js";
import { workerApiRoutes } from "./routes/worker-api.js";
import type { PersonalTokens } from "./tokens.js";
import type { KilnEnv } from "./types.js";

/** Request bodies of the device API: a completion's output is the largest (200,000 characters). */
const DEVICE_API_BODY_LIMIT = 1024 * 1024;
const V1_BODY_LIMIT = 128 * 1024;

/**
 * Mounts the Mac app's device API: the worker endpoints (device tokens), and the body limits of the
 * `/v1` routes for devices, agents and watchers. Those routes themselves are in `routes/api.ts`
 * with every other `/v1` route, so the typed client covers them; mount this before it.
 */
export function mountDeviceApi(app: OpenAPIHono<KilnEnv>, deps: { devices: Devices; tokens: PersonalTokens; client: () => KilnClient }): void {
  const { devices } = deps;
  app.use("/api/workers/*", limitBody(DEVICE_API_BODY_LIMIT));
  for (const path of ["/v1/devices", "/v1/devices/*", "/v1/orgs/:orgId/agents", "/v1/orgs/:orgId/agents/*", "/v1/orgs/:orgId/watchers", "/v1/orgs/:orgId/watchers/*"]) {
    app.use(path, limitBody(V1_BODY_LIMIT));
  }
  app.route("/", workerApiRoutes(deps.tokens, devices, deps.client) as unknown as OpenAPIHono<KilnEnv>);
}
