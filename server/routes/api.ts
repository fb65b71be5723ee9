import { OpenAPIHono } from "@hono/zod-openapi";
import type { Organizations } from "../organizations.js";
import type { KilnClient } from "../rivet.js";
import type { KilnEnv } from "../types.js";
import type { TaskView } from "../../shared/schemas/task.js";
import type { Devices } from "../devices.js";
import type { PersonalTokens } from "../tokens.js";
import type { ViewCache } from "../view-cache.js";
import type { Workers } from "../workers.js";
import { agentRoutes } from "./agents.js";
import { deviceRoutes } from "./devices.js";
import { meRoutes } from "./me.js";
import { orgMemberRoutes } from "./org-members.js";
import { githubRoutes } from "./github.js";
import { orgRoutes } from "./orgs.js";
import { repoRoutes } from "./repos.js";
import { runtimeIssueRoutes } from "./runtime-issues.js";
import { sessionRoutes } from "./sessions.js";
import { taskRoutes } from "./tasks.js";
import { tokenRoutes } from "./tokens.js";
import { watcherRoutes } from "./watchers.js";
import { workerRoutes } from "./workers.js";

export interface ApiDeps {
  organizations: Organizations;
  client: () => KilnClient;
  workers: Workers;
  tokens: PersonalTokens;
  /** Task views served from memory (see `taskRoutes`). */
  taskViews: ViewCache<TaskView>;
  devices: Devices;
  /** Whether the GitHub App is configured (its routes answer 503 otherwise). */
  githubConfigured?: boolean;
}

/**
 * Every signed-in `/v1` route, chained into one app so its type carries them all: `shared/client.ts`
 * is typed from `KilnApi` (Hono's `hc`), so a route added here is in the client's types at once.
 * The caller mounts it behind the session and org-membership middleware.
 */
export function apiRoutes(deps: ApiDeps) {
  return new OpenAPIHono<KilnEnv>()
    .route("/", meRoutes(deps.organizations))
    .route("/", orgRoutes(deps.client))
    .route("/", orgMemberRoutes(deps.organizations, deps.client))
    .route("/", githubRoutes(deps.githubConfigured ?? false, deps.client))
    .route("/", repoRoutes(deps.client))
    .route("/", taskRoutes(deps.client, deps.taskViews))
    .route("/", sessionRoutes(deps.client))
    .route("/", workerRoutes(deps.workers))
    .route("/", runtimeIssueRoutes(deps.client))
    .route("/", tokenRoutes(deps.tokens))
    .route("/", deviceRoutes(deps.devices))
    .route("/", agentRoutes(deps.client))
    .route("/", watcherRoutes(deps.client, deps.devices));
}

export type KilnApi = ReturnType<typeof apiRoutes>;
