import type { OpenAPIHono } from "@hono/zod-openapi";
import type { Devices } from "./devices.js";
import { limitBody } from "./middleware/body-limit.js";
import type { KilnClient } from "./rivet.js";
import { agentRoutes } from "./routes/agents.js";
import { deviceRoutes } from "./routes/devices.js";
import { watcherRoutes } from "./routes/watchers.js";
import { workerApiRoutes } from "./routes/worker-api.js";
import type { PersonalTokens } from "./tokens.js";
import type { KilnEnv } from "./types.js";

/** Request bodies of the device API: a completion's output is the largest (200,000 characters). */
const DEVICE_API_BODY_LIMIT = 1024 * 1024;
const V1_BODY_LIMIT = 128 * 1024;

/**
 * Mounts the Mac app's device API: the worker endpoints (device tokens) and the `/v1` routes for
 * devices, agents and watchers (behind the app's session middleware and org membership check).
 */
export function mountDeviceApi(app: OpenAPIHono<KilnEnv>, deps: { devices: Devices; tokens: PersonalTokens; client: () => KilnClient }): void {
  const { devices } = deps;
  app.use("/api/workers/*", limitBody(DEVICE_API_BODY_LIMIT));
  for (const path of ["/v1/devices", "/v1/devices/*", "/v1/orgs/:orgId/agents", "/v1/orgs/:orgId/agents/*", "/v1/orgs/:orgId/watchers", "/v1/orgs/:orgId/watchers/*"]) {
    app.use(path, limitBody(V1_BODY_LIMIT));
  }
  app.route("/", workerApiRoutes(deps.tokens, devices, deps.client) as unknown as OpenAPIHono<KilnEnv>);
  app.route("/", deviceRoutes(devices));
  app.route("/", agentRoutes(deps.client));
  app.route("/", watcherRoutes(deps.client, devices));
}
