import { createHash, randomBytes } from "node:crypto";
import type { Worker, WorkerInstance, WorkerStatus, WorkerTokens, WorkerView } from "../../shared/schemas/worker.js";
import { actorServices } from "../services.js";

/** Given by the gateway when it creates a worker; clients never create WorkerActors directly. */
export interface WorkerInput {
  orgId: string;
  workerId: string;
  name: string;
  description: string | null;
  destination: "cloud" | "local";
  workspacePath: string | null;
  createdBy: string;
  tokenHashes: TokenHashes;
  /** Where a cloud worker runs (`local`, `daytona`, `render`): fixed at creation, so teardown always reaches it. */
  provider: string;
}

export interface TokenHashes {
  owner: string;
  host: string;
  client: string;
}

export interface WorkerState extends Omit<WorkerInput, "orgId"> {
  orgId: string | null;
  status: WorkerStatus | "deleted";
  failure: Worker["failure"];
  teardown: Worker["teardown"];
  instance: WorkerInstance | null;
  createdAt: string;
  updatedAt: string;
}

export type WorkerCommand = { type: "provision" } | { type: "deprovision" };

export function initialWorkerState(input: WorkerInput | undefined): WorkerState {
  const now = new Date().toISOString();
  return {
    orgId: input?.orgId ?? null,
    workerId: input?.workerId ?? "",
    name: input?.name ?? "",
    description: input?.description ?? null,
    destination: input?.destination ?? "cloud",
    workspacePath: input?.workspacePath ?? null,
    createdBy: input?.createdBy ?? "",
    tokenHashes: input?.tokenHashes ?? { owner: "", host: "", client: "" },
    provider: input?.provider ?? "local",
    // A local worker runs on the user's machine: nothing to provision.
    status: input?.destination === "local" ? "healthy" : "provisioning",
    failure: null,
    teardown: null,
    // A cloud worker's URL is known from the start, so a client can poll `url + /health` right after the 202.
    instance:
      input?.destination === "local"
        ? { provider: "user-machine", url: null, status: "awaiting_connection" }
        : { provider: input?.provider ?? "local", url: input ? workerUrl(input.orgId, input.workerId) : null, status: "provisioning" },
    createdAt: now,
    updatedAt: now,
  };
}

/** Where a cloud worker's instance answers, through Kiln: `<public URL>/w/<orgId>/<workerId>`. */
export function workerUrl(orgId: string, workerId: string): string {
  return `${actorServices().publicUrl}/w/${orgId}/${workerId}`;
}

/**
 * The instance URL is derived on every read, never trusted from storage: Kiln's public URL may
 * differ between runs (a new port, a new domain), and a stored one would send clients to the old.
 */
export function withCurrentUrl(view: WorkerView): WorkerView {
  if (!view.instance?.url || !view.worker.orgId) return view;
  return { ...view, instance: { ...view.instance, url: workerUrl(view.worker.orgId, view.worker.id) } };
}

export function workerView(s: WorkerState): WorkerView {
  return withCurrentUrl({
    worker: {
      id: s.workerId,
      orgId: s.orgId ?? "",
      name: s.name,
      description: s.description,
      destination: s.destination,
      workspacePath: s.workspacePath,
      status: s.status === "deleted" ? "deleting" : s.status,
      failure: s.failure,
      teardown: s.teardown,
      createdBy: s.createdBy,
      createdAt: s.createdAt,
      updatedAt: s.updatedAt,
    },
    instance: s.instance,
  });
}

export function hashToken(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

/** Three fresh tokens, returned once; only their hashes are kept. */
export function newWorkerTokens(): { tokens: WorkerTokens; hashes: TokenHashes } {
  const make = (kind: string) => `kiln_w${kind}_${randomBytes(24).toString("base64url")}`;
  const tokens = { owner: make("o"), host: make("h"), client: make("c") };
  return { tokens, hashes: { owner: hashToken(tokens.owner), host: hashToken(tokens.host), client: hashToken(tokens.client) } };
}
