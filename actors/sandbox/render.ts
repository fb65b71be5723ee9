import { createHmac } from "node:crypto";
import { SandboxError, type ExecResult, type SandboxProvider, type SandboxRef, type SandboxErrorCode } from "./provider.js";

export interface RenderProviderConfig {
  apiKey: string;
  /** `https://api.render.com/v1` unless pointed elsewhere. */
  apiUrl: string;
  ownerId: string;
  /** The worker image: it has sandbox-agent on its PATH. */
  image: string;
  plan: string;
  region: string;
  /** Checked on the service's public URL once its deploy is live. */
  healthPath: string;
}

interface RenderService {
  id: string;
  name: string;
  serviceDetails?: { url?: string; region?: string };
}

interface RenderDeploy {
  id: string;
  status: string;
}

const FAILED_DEPLOYS = new Set(["build_failed", "update_failed", "canceled", "deactivated", "pre_deploy_failed"]);
/** Render's web services listen on $PORT, 10000 by default. */
const WORKER_COMMAND = `sh -c 'exec sandbox-agent server --no-telemetry -H 0.0.0.0 -p "\${PORT:-10000}" --token="$SANDBOX_AGENT_TOKEN"'`;

/**
 * The `render` provider, for cloud workers only: one Render web service per worker, created from
 * the worker image through Render's REST API, following its documented flow (create the service,
 * wait for its deploy to go live, then for health). Nothing here waits: a deploy in progress
 * answers `not_ready` and the worker's durable workflow asks again. Commands and agent sessions
 * are not offered; a Render worker connects back to Kiln on its own.
 */
export class RenderSandboxProvider implements SandboxProvider {
  readonly id = "render";
  private readonly serviceIds = new Map<string, string>();

  constructor(
    private readonly config: RenderProviderConfig,
    private readonly internalKey: string,
    private readonly agentEnv: Record<string, string> = {},
  ) {}

  static nameFor(sandboxId: string): string {
    return `kiln-${sandboxId}`.toLowerCase();
  }

  private agentToken(sandboxId: string): string {
    return createHmac("sha256", this.internalKey).update(`render-sandbox-agent:${sandboxId}`).digest("hex");
  }

  /** One Render API call; its errors become SandboxErrors carrying Render's own message. */
  private async api<T>(method: string, path: string, body: unknown, code: SandboxErrorCode): Promise<{ status: number; body: T | undefined }> {
    let res: Response;
    try {
      res = await fetch(`${this.config.apiUrl}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${this.config.apiKey}`,
          accept: "application/json",
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(30_000),
      });
    } catch (err) {
      throw new SandboxError(code, `Render's API did not answer ${method} ${path}: ${(err as Error).message}`);
    }
    const text = await res.text();
    const parsed = parseJson<T>(text);
    // A missing service is an answer for reads and deletes; for a create it is an error (an unknown owner).
    if (res.status === 404 && method !== "POST") return { status: 404, body: undefined };
    if (!res.ok) {
      const message = (parsed as { message?: string } | undefined)?.message ?? text.slice(0, 300);
      throw new SandboxError(code, `Render answered ${res.status} to ${method} ${path}: ${message}`);
    }
    return { status: res.status, body: parsed };
  }

  private async find(ref: SandboxRef, code: SandboxErrorCode): Promise<RenderService | undefined> {
    const known = this.serviceIds.get(ref.sandboxId);
    if (known) {
      const { body } = await this.api<RenderService>("GET", `/services/${known}`, undefined, code);
      if (body) return body;
      this.serviceIds.delete(ref.sandboxId);
      return undefined;
    }
    const name = RenderSandboxProvider.nameFor(ref.sandboxId);
    const q = new URLSearchParams({ ownerId: this.config.ownerId, name, limit: "20" });
    const { body } = await this.api<{ service: RenderService }[]>("GET", `/services?${q}`, undefined, code);
    const service = body?.map((x) => x.service).find((s) => s.name === name);
    if (service) this.serviceIds.set(ref.sandboxId, service.id);
    return service;
  }

  private async get(ref: SandboxRef, code: SandboxErrorCode): Promise<RenderService> {
    const service = await this.find(ref, code);
    if (!service) throw new SandboxError("sandbox_not_found", `Render service ${RenderSandboxProvider.nameFor(ref.sandboxId)} does not exist.`);
    return service;
  }

  /** Creates the service unless an earlier, interrupted attempt already did (found by its name). */
  async create(input: { orgId: string; sandboxId: string }): Promise<SandboxRef> {
    const ref = { provider: this.id, sandboxId: input.sandboxId };
    if (await this.find(ref, "create_failed")) return ref;
    const { body } = await this.api<{ service: RenderService }>(
      "POST",
      "/services",
      {
        type: "web_service",
        name: RenderSandboxProvider.nameFor(input.sandboxId),
        ownerId: this.config.ownerId,
        autoDeploy: "no",
        image: { ownerId: this.config.ownerId, imagePath: this.config.image },
        envVars: [
          { key: "SANDBOX_AGENT_TOKEN", value: this.agentToken(input.sandboxId) },
          { key: "KILN_ORG_ID", value: input.orgId },
          ...Object.entries(this.agentEnv).map(([key, value]) => ({ key, value })),
        ],
        serviceDetails: {
          runtime: "image",
          plan: this.config.plan,
          region: this.config.region,
          healthCheckPath: this.config.healthPath,
          envSpecificDetails: { dockerCommand: WORKER_COMMAND },
        },
      },
      "create_failed",
    );
    if (body?.service.id) this.serviceIds.set(input.sandboxId, body.service.id);
    return ref;
  }

  /** Done once the service's latest deploy is live; a failed deploy fails at once. */
  async start(ref: SandboxRef): Promise<void> {
    const service = await this.get(ref, "start_failed");
    const { body } = await this.api<{ deploy: RenderDeploy }[]>("GET", `/services/${service.id}/deploys?limit=1`, undefined, "start_failed");
    const deploy = body?.[0]?.deploy;
    if (!deploy) throw new SandboxError("not_ready", "The Render service has no deploy yet.");
    if (deploy.status === "live") return;
    if (FAILED_DEPLOYS.has(deploy.status)) throw new SandboxError("instance_failed", `Render deploy ${deploy.id} ended ${deploy.status}.`);
    throw new SandboxError("not_ready", `Render deploy ${deploy.id} is ${deploy.status}.`);
  }

  async ensureServer(ref: SandboxRef): Promise<{ endpoint: string | null }> {
    const service = await this.get(ref, "server_unhealthy");
    const url = service.serviceDetails?.url?.replace(/\/+$/, "");
    if (!url) throw new SandboxError("not_ready", "The Render service has no URL yet.");
    try {
      const res = await fetch(`${url}${this.config.healthPath}`, {
        headers: { authorization: `Bearer ${this.agentToken(ref.sandboxId)}` },
        signal: AbortSignal.timeout(5_000),
      });
      if (res.ok) return { endpoint: url };
      throw new SandboxError("not_ready", `The worker's health check answered ${res.status}.`);
    } catch (err) {
      if (err instanceof SandboxError) throw err;
      throw new SandboxError("not_ready", `The worker's health check failed: ${(err as Error).message}`);
    }
  }

  exec(): Promise<ExecResult> {
    return Promise.reject(new SandboxError("unsupported", "Render instances run cloud workers; they do not run task commands."));
  }

  /** Workers are never stopped, only deleted: suspending would keep billing resources around. */
  async stop(): Promise<void> {}

  /** Deletes the service for real (not a suspend). Idempotent: a service already gone is done. */
  async destroy(ref: SandboxRef): Promise<void> {
    const service = await this.find(ref, "command_failed");
    if (!service) return;
    await this.api("DELETE", `/services/${service.id}`, undefined, "command_failed");
    this.serviceIds.delete(ref.sandboxId);
  }
}

function parseJson<T>(text: string): T | undefined {
  try {
    return text ? (JSON.parse(text) as T) : undefined;
  } catch {
    return undefined;
  }
}
