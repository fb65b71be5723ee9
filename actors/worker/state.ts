import { createHash, randomBytes } from "node:crypto";
import type { CreateWorkerBody, Worker, WorkerInstance, WorkerStatus, WorkerTokens, WorkerView } from "../../shared/schemas/worker.js";
import { nextRevision } from "../revision.js";
import { actorServices } from "../services.js";

/** Given by the worker's OrganizationActor, which creates it; clients never create WorkerActors directly. */
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
  /** The org's first view of the worker carries these, so the worker's own views follow it (absent in older inputs). */
  createdAt?: string;
  revision?: number;
}

export interface TokenHashes {
  owner: string;
  host: string;
  client: string;
}

export interface WorkerState extends Omit<WorkerInput, "orgId" | "createdAt" | "revision"> {
  orgId: string | null;
  /** The view's revision (`actors/revision.ts`); absent in older state. */
  revision?: number;
  status: WorkerStatus | "deleted";
  failure: Worker["failure"];
  teardown: Worker["teardown"];
  instance: WorkerInstance | null;
  createdAt: string;
  updatedAt: string;
}

/** `created`: a local worker's first message, which only brings the actor into existence. */
export type WorkerCommand = { type: "provision" } | { type: "deprovision" } | { type: "created" };

export function initialWorkerState(input: WorkerInput | undefined): WorkerState {
  const now = input?.createdAt ?? new Date().toISOString();
  return {
    revision: input?.revision ?? 0,
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
    revision: s.revision ?? 0,
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

/**
 * A new worker's id, tokens and creation input, minted by its OrganizationActor. The tokens are
 * returned once, to the creator; the WorkerActor is given their hashes only.
 */
export function newWorker(
  orgId: string,
  createdBy: string,
  body: Pick<CreateWorkerBody, "name" | "description" | "destination" | "workspacePath">,
  cloudProvider: string,
): { input: WorkerInput; tokens: WorkerTokens } {
  const workerId = `w_${randomBytes(12).toString("base64url").replace(/[^A-Za-z0-9]/g, "x").slice(0, 16)}`;
  const { tokens, hashes } = newWorkerTokens();
  return {
    tokens,
    input: {
      orgId,
      workerId,
      name: body.name,
      description: body.description ?? null,
      destination: body.destination,
      workspacePath: body.workspacePath ?? null,
      createdBy,
      tokenHashes: hashes,
      provider: body.destination === "cloud" ? cloudProvider : "user-machine",
      createdAt: new Date().toISOString(),
      revision: nextRevision(undefined),
    },
  };
}
