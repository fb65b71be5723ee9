import { Loop, type WorkflowLoopContextOf } from "rivetkit/workflow";
import { internalParams } from "../auth.js";
import { keys } from "../../shared/keys.js";
import { reportHandledFailure, resolveRuntimeIssues } from "../runtime-issues.js";
import { actorServices } from "../services.js";
import type { Client } from "rivetkit/client";
import type { Registry } from "../registry.js";
import type { WorkerDeleted, WorkerView } from "../../shared/schemas/worker.js";
import { nextRevision } from "../revision.js";
import type { worker } from "./index.js";
import { workerUrl, workerView, type WorkerCommand, type WorkerState } from "./state.js";

type Loop = WorkflowLoopContextOf<typeof worker>;

/** Pause between teardown attempts after a failure: a deletion is retried until it succeeds. */
export const TEARDOWN_RETRY_MS = 2_000;
/** Pause between provisioning checks while the instance settles (a Daytona sandbox starting, a Render deploy). */
const POLL_MS = 1_000;
/** A worker still not up after this long fails: a Render deploy takes minutes, never this long. */
const PROVISION_DEADLINE_MS = 20 * 60_000;
/** Failures that may pass (a network error, a slow server) are retried this many times in a row before the worker fails. */
const MAX_TRANSIENT_FAILURES = 3;
/** Failures that will not pass by retrying: fail the worker at once, with the provider's message. */
const PERMANENT_CODES = new Set(["start_failed", "instance_failed", "binary_missing", "unsupported"]);

type Outcome =
  | { kind: "ready" }
  | { kind: "cancelled" }
  | { kind: "pending"; message: string }
  | { kind: "failed"; phase: string; message: string; permanent: boolean };

/** The worker's SandboxInstanceActor, on the provider fixed at the worker's creation. */
export function workerSandbox(s: Pick<WorkerState, "orgId" | "provider" | "workerId">, client: Client<Registry>) {
  const provider = workerProvider(s);
  return client.sandboxInstance.getOrCreate(keys.sandbox(s.orgId ?? "", provider, s.workerId), {
    params: internalParams(),
    createWithInput: { orgId: s.orgId ?? "", provider, sandboxId: s.workerId },
  });
}

/** Workers persisted before providers were recorded have none in their state; all of them ran locally. */
export function workerProvider(s: Pick<WorkerState, "provider">): string {
  return s.provider || "local";
}

/** What both worker actions and workflow steps can do to publish: read state, broadcast, reach other actors. */
export interface WorkerPublisher {
  state: Loop["state"];
  client: Loop["client"];
  broadcast(name: "workerUpdated", view: WorkerView): void;
  broadcast(name: "workerDeleted", body: WorkerDeleted): void;
}

/**
 * Publishes the worker's change under a new revision: to its own subscribers at once (in the
 * order the changes were made), then up to its OrganizationActor, which owns the org's worker
 * list and applies only a revision above the one it holds. The push is awaited and not caught:
 * a workflow step whose push failed is retried, so the list never silently keeps an old status.
 */
export async function publishWorker(c: WorkerPublisher): Promise<void> {
  const s = c.state;
  s.updatedAt = new Date().toISOString();
  s.revision = nextRevision(s.revision);
  if (!s.orgId) return;
  const view = s.status === "deleted" ? null : workerView(s);
  if (view) c.broadcast("workerUpdated", view);
  else c.broadcast("workerDeleted", { id: s.workerId, revision: s.revision });
  await c
    .client<Registry>()
    .organization.get(keys.organization(s.orgId), { params: internalParams() })
    .recordWorker(view ? { view } : { deletedId: s.workerId, revision: s.revision });
}

/** Where the instance runs, when the provider has regions. */
function region(provider: string): string | undefined {
  const services = actorServices();
  if (provider === "daytona") return services.daytona?.target;
  if (provider === "render") return services.render?.region;
  return undefined;
}

/**
 * One provisioning check: create the instance (idempotent) and make sure its server answers.
 * Never throws: a provider's answer becomes an outcome the loop acts on.
 */
async function advance(loop: Loop): Promise<Outcome> {
  if (loop.state.status !== "provisioning") return { kind: "cancelled" };
  const sandbox = workerSandbox(loop.state, loop.client<Registry>());
  let phase = "create-instance";
  try {
    await sandbox.create();
    phase = "start-server";
    await sandbox.ensure();
    return { kind: "ready" };
  } catch (err) {
    const code = (err as { code?: string }).code ?? "";
    const message = (err as Error).message ?? String(err);
    if (code === "not_ready") return { kind: "pending", message };
    return { kind: "failed", phase, message, permanent: PERMANENT_CODES.has(code) };
  }
}

async function provision(loop: Loop): Promise<void> {
  // The first provisioning flow's steps: a worker an upgrade caught mid-way replays past them.
  for (const previous of ["check-provision", "create-instance", "start-server"]) await loop.removed(previous, "step");
  // Unconditional: a step that returned early on some replays and not others would leave the
  // loop's recorded entries unvisited. A worker no longer provisioning ends as `cancelled`.
  const startedAt = await loop.step("provision-started", async () => Date.now());
  const outcome = await loop.loop<{ transientFailures: number }, Outcome>({
    name: "await-instance",
    state: { transientFailures: 0 },
    run: async (it, st) => {
      const probe = await it.tryStep<Outcome>({
        name: "advance",
        timeout: 160_000,
        maxRetries: 0,
        catch: ["exhausted", "timeout", "critical"],
        run: () => advance(it),
      });
      const result: Outcome = probe.ok ? probe.value : { kind: "failed", phase: "provision", message: probe.failure.error.message, permanent: false };
      if (result.kind === "ready" || result.kind === "cancelled") return Loop.break(result);
      const failures = result.kind === "failed" ? st.transientFailures + 1 : 0;
      if (result.kind === "failed" && (result.permanent || failures >= MAX_TRANSIENT_FAILURES)) return Loop.break(result);
      const elapsed = await it.step("elapsed", async () => Date.now() - startedAt);
      if (elapsed > PROVISION_DEADLINE_MS) {
        return Loop.break<Outcome>({ kind: "failed", phase: "await-instance", message: `not up after ${Math.round(elapsed / 60_000)} min (${result.message})`, permanent: true });
      }
      await it.sleep("poll-wait", POLL_MS * Math.min(failures + 1, 5));
      return Loop.continue({ transientFailures: failures });
    },
  });

  if (outcome.kind === "failed") {
    await loop.step("mark-failed", async () => {
      const s = loop.state;
      // A retry of this step (the push to the org failed) finds the state already changed and
      // publishes again, so the index never keeps showing `provisioning`.
      if (s.status === "provisioning") {
        s.status = "failed";
        s.failure = { code: "provisioning_failed", message: `${outcome.phase} failed: ${outcome.message}` };
        s.instance = { provider: workerProvider(s), url: s.orgId ? workerUrl(s.orgId, s.workerId) : null, status: "failed" };
      }
      if (s.status !== "failed" || !s.failure) return;
      await publishWorker(loop);
      await reportHandledFailure(
        loop.client<Registry>(),
        { orgId: s.orgId, actorType: "worker", actorId: loop.actorId, scope: `worker:${s.workerId}` },
        { workflow: "provision", step: outcome.phase, message: s.failure.message },
      );
    });
    return;
  }
  if (outcome.kind !== "ready") return;
  await loop.step("mark-healthy", async () => {
    const s = loop.state;
    if (s.status === "provisioning") {
      s.status = "healthy";
      const where = region(workerProvider(s));
      s.instance = { provider: workerProvider(s), url: s.orgId ? workerUrl(s.orgId, s.workerId) : null, status: "running", ...(where ? { region: where } : {}) };
    }
    if (s.status !== "healthy") return;
    await publishWorker(loop);
    if (s.orgId) await resolveRuntimeIssues(loop.client(), s.orgId, loop.actorId);
  });
}

/** Deletes the instance for real, retrying until it is gone; a failure is recorded on the worker, never swallowed. */
async function deprovision(loop: Loop): Promise<void> {
  await loop.loop("teardown", async (attempt) => {
    const result = await attempt.tryStep({
      name: "destroy-instance",
      maxRetries: 1,
      retryBackoffBase: 500,
      timeout: 160_000,
      catch: ["exhausted", "timeout", "critical"],
      run: async () => {
        if (attempt.state.destination === "cloud") await workerSandbox(attempt.state, attempt.client<Registry>()).destroy();
      },
    });
    if (result.ok) return Loop.break(undefined);
    await attempt.step("record-teardown-error", async () => {
      const s = attempt.state;
      s.teardown = { attempts: (s.teardown?.attempts ?? 0) + 1, lastError: result.failure.error.message };
      await publishWorker(attempt);
    });
    await attempt.sleep("teardown-backoff", TEARDOWN_RETRY_MS);
    return undefined;
  });
  await loop.step("mark-deleted", async () => {
    loop.state.status = "deleted";
    loop.state.instance = null;
    await publishWorker(loop);
  });
}

export async function runWorkerCommand(loop: Loop, command: WorkerCommand): Promise<void> {
  if (command.type === "provision") await provision(loop);
  else if (command.type === "deprovision") await deprovision(loop);
  // `created` only brought the actor into existence: its organization published its first view.
}
