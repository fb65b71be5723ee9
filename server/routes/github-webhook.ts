import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { Webhooks } from "@octokit/webhooks";
import type { GitHubAppConfig } from "../../actors/github-state/app.js";
import { internalParams } from "../../actors/auth.js";
import { KilnError } from "../../shared/errors.js";
import { keys } from "../../shared/keys.js";
import { errorResponses, jsonResponse } from "../../shared/schemas/common.js";
import type { GitHubIndex } from "../github/gateway.js";
import { limitBody } from "../middleware/body-limit.js";
import type { KilnClient } from "../rivet.js";
import type { KilnEnv } from "../types.js";

/** The path the compose Smee service relays to. */
export const GITHUB_WEBHOOK_PATH = "/api/rivet/app/webhooks/github";
/** GitHub caps webhook payloads at 25 MB. */
const MAX_PAYLOAD_BYTES = 25 * 1024 * 1024 + 1024;

const header = z.string().max(256).optional();
const base = { tags: ["github"] };
const route = createRoute({
  ...base,
  method: "post",
  path: GITHUB_WEBHOOK_PATH,
  summary: "GitHub App webhooks (signed with GITHUB_WEBHOOK_SECRET)",
  description:
    "202 once the delivery is durably recorded (processing follows); 200 `{duplicate: true}` for a delivery id seen before; 202 `{ignored: true}` for an installation Kiln does not know. 400 without `x-hub-signature-256`, `x-github-event` or `x-github-delivery`; 401 for a bad signature; 503 `github_not_configured` without the GitHub App, 503 `service_unavailable` when 10,000 of the organization's deliveries already wait to be processed (redeliver later).",
  request: {
    headers: z.object({ "x-hub-signature-256": header, "x-github-event": header, "x-github-delivery": header }),
  },
  responses: {
    200: jsonResponse(z.object({ duplicate: z.literal(true) }), "A redelivery: nothing changes"),
    202: jsonResponse(z.object({ accepted: z.boolean(), ignored: z.boolean().optional() }), "Recorded"),
    ...errorResponses(400, 401, 503),
  },
});

interface Routable {
  action?: string;
  installation?: { id?: number; account?: { id?: number; type?: string } };
}

/**
 * Verifies a delivery on its raw body with @octokit/webhooks, then hands it to the org's
 * GitHubStateActor, which records it (dedupe by delivery id) before this answers. Unsigned or
 * badly signed requests never reach an actor.
 */
export function githubWebhookRoutes(opts: { app: GitHubAppConfig | undefined; index: GitHubIndex; client: () => KilnClient }) {
  const webhooks = opts.app ? new Webhooks({ secret: opts.app.webhookSecret }) : undefined;
  // Deliveries for installations Kiln does not know belong to no org, so no GitHubStateActor counts
  // them: this process does, by event, and each log line carries the running count.
  const unknownInstallation = new Map<string, number>();
  const router = new OpenAPIHono<KilnEnv>();
  router.use(GITHUB_WEBHOOK_PATH, limitBody(MAX_PAYLOAD_BYTES));
  return router.openapi(route, async (c) => {
    if (!webhooks) throw new KilnError("github_not_configured", "The GitHub App is not configured on this Kiln (GITHUB_APP_ID, GITHUB_APP_PRIVATE_KEY, GITHUB_WEBHOOK_SECRET).");
    const signature = c.req.header("x-hub-signature-256");
    const event = c.req.header("x-github-event");
    const id = c.req.header("x-github-delivery");
    if (!signature || !event || !id) throw new KilnError("invalid_request", "A GitHub delivery carries x-hub-signature-256, x-github-event and x-github-delivery.");
    if (!/^[A-Za-z0-9_.-]{1,128}$/.test(id) || !/^[a-z_]{1,64}$/.test(event)) throw new KilnError("invalid_request", "Malformed x-github-event or x-github-delivery.");
    const body = await c.req.text();
    if (!(await webhooks.verify(body, signature).catch(() => false))) throw new KilnError("unauthorized", "The delivery's signature does not match GITHUB_WEBHOOK_SECRET.");
    let payload: Routable;
    try {
      payload = JSON.parse(body) as Routable;
    } catch {
      throw new KilnError("invalid_request", "The delivery's body is not JSON.");
    }
    const log = c.get("log");
    const installationId = payload.installation?.id;
    let orgId = typeof installationId === "number" ? await opts.index.orgFor(installationId) : null;
    const account = payload.installation?.account;
    if (!orgId && event === "installation" && payload.action === "created" && typeof installationId === "number" && typeof account?.id === "number") {
      orgId = await opts.index.routeInstallation(installationId, account.id, account.type ?? "Organization");
    }
    if (!orgId) {
      const key = unknownInstallation.has(event) || unknownInstallation.size < 64 ? event : "other";
      unknownInstallation.set(key, (unknownInstallation.get(key) ?? 0) + 1);
      log.info({ event, delivery: id, installationId, ignoredUnknownInstallation: Object.fromEntries(unknownInstallation) }, "github delivery for an unknown installation: acknowledged, ignored");
      return c.json({ accepted: true, ignored: true }, 202);
    }
    const state = opts.client().githubState.getOrCreate(keys.githubState(orgId), { params: internalParams(), createWithInput: { orgId } });
    const result = await state.receiveDelivery({ id, event, action: typeof payload.action === "string" ? payload.action.slice(0, 64) : null, payload: body });
    log.info({ event, delivery: id, orgId, duplicate: result.duplicate }, "github delivery recorded");
    if (result.duplicate) return c.json({ duplicate: true as const }, 200);
    return c.json({ accepted: true }, 202);
  });
}
