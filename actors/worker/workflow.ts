import { Loop, type WorkflowLoopContextOf } from "rivetkit/workflow";
import { internalParams } from "../auth.js";
import { keys } from "../keys.js";
import { resolveRuntimeIssues } from "../runtime-issues.js";
import { actorServices } from "../services.js";
import type { Registry } from "../registry.js";
import type { worker } from "./index.js";
import { WORKER_PROVIDER, workerView, type WorkerCommand } from "./state.js";

type Loop = WorkflowLoopContextOf<typeof worker>;

/** Pause between teardown attempts after a failure: a deletion is retried until it succeeds. */
export const TEARDOWN_RETRY_MS = 2_000;

function instanceSandbox(loop: Loop) {
  const s = loop.state;
  return loop.client<Registry>().sandboxInstance.getOrCreate(keys.sandbox(s.orgId ?? "", WORKER_PROVIDER, s.workerId), {
    params: internalParams(),
    createWithInput: { orgId: s.orgId ?? "", provider: WORKER_PROVIDER, sandboxId: s.workerId },
  });
}

/** Pushes the worker's view to the gateway's index (awaited, so the index never silently lags). */
export async function publishWorker(c: { state: Loop["state"] }): Promise<void> {
  const s = c.state;
  s.updatedAt = new Date().toISOString();
  if (!s.orgId) return;
  await actorServices().syncWorkerIndex(s.orgId, s.workerId, s.createdBy, s.status === "deleted" ? null : workerView(s));
}

async function provision(loop: Loop): Promise<void> {
  const go = await loop.step("check-provision", async () => loop.state.status === "provisioning");
  if (!go) return;
  const created = await loop.tryStep({
    name: "create-instance",
    maxRetries: 2,
    retryBackoffBase: 1000,
    catch: ["exhausted", "timeout", "critical"],
    run: async () => void (await instanceSandbox(loop).create()),
  });
  const started = created.ok
    ? await loop.tryStep({
        name: "start-server",
        maxRetries: 2,
        retryBackoffBase: 1000,
        catch: ["exhausted", "timeout", "critical"],
        run: async () => void (await instanceSandbox(loop).ensure()),
      })
    : created;
  if (!started.ok) {
    const failure = started.failure;
    await loop.step("mark-failed", async () => {
      const s = loop.state;
      if (s.status !== "provisioning") return;
      s.status = "failed";
      s.failure = { code: "provisioning_failed", message: `${failure.stepName} failed: ${failure.error.message}` };
      s.instance = { provider: WORKER_PROVIDER, url: null, status: "failed" };
      await publishWorker(loop);
    });
    return;
  }
  await loop.step("mark-healthy", async () => {
    const s = loop.state;
    if (s.status !== "provisioning") return;
    s.status = "healthy";
    s.instance = { provider: WORKER_PROVIDER, url: `${actorServices().publicUrl}/w/${s.orgId}/${s.workerId}`, status: "running" };
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
      catch: ["exhausted", "timeout", "critical"],
      run: async () => {
        if (attempt.state.destination === "cloud") await instanceSandbox(attempt).destroy();
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
  else await deprovision(loop);
}
