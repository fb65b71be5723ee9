import type { WorkflowLoopContextOf } from "rivetkit/workflow";
import type { TaskPhase } from "../../shared/schemas/task.js";
import { resolveRuntimeIssues } from "../runtime-issues.js";
import { sandboxGit } from "../sandbox/git.js";
import { internalParams } from "../auth.js";
import type { Registry } from "../registry.js";
import { actorServices } from "../services.js";
import { keys } from "../../shared/keys.js";
import type { task } from "./index.js";
import { appendHistory, publishTask, taskExec, taskSandbox } from "./publish.js";
import { PHASE_LABELS, sandboxRefFor, type TaskCommand } from "./state.js";

type Loop = WorkflowLoopContextOf<typeof task>;

/** Retries for one provisioning step: transient failures (a flaky network clone) get a second chance. */
const STEP_RETRIES = 2;

interface ProvisionStep {
  phase: Exclude<TaskPhase, "queued" | "ready" | "archived" | "killed">;
  run(loop: Loop): Promise<void>;
}

/**
 * The provisioning phases, in order. Each is one named durable step (the names are part of
 * workflow history) and goes through the task's SandboxInstanceActor.
 */
const PROVISION_STEPS: ProvisionStep[] = [
  { phase: "create-sandbox", run: async (loop) => void (await taskSandbox(loop).create()) },
  { phase: "start-sandbox", run: async (loop) => void (await taskSandbox(loop).start()) },
  { phase: "ensure-server", run: async (loop) => void (await taskSandbox(loop).ensure()) },
  { phase: "clone-repo", run: async (loop) => sandboxGit.clone(taskExec(loop), loop.state.remoteUrl, await githubToken(loop)) },
  { phase: "checkout-branch", run: (loop) => sandboxGit.checkout(taskExec(loop), loop.state.branch) },
];

/** A repository from the GitHub App (`gh-<id>`) clones with the installation's token; others as they are. */
async function githubToken(loop: Loop): Promise<string | undefined> {
  const github = actorServices().github;
  if (!github || !loop.state.orgId || !loop.state.repoId.startsWith("gh-")) return undefined;
  const installationId = await loop.client<Registry>().githubState.get(keys.githubState(loop.state.orgId), { params: internalParams() }).installationId();
  return installationId === null ? undefined : github.app.installationToken(installationId);
}

async function enterPhase(loop: Loop, phase: TaskPhase): Promise<void> {
  const s = loop.state;
  if (s.lifecycle.phase === phase && s.lifecycle.state === "starting") return;
  s.lifecycle = { phase, state: "starting", label: PHASE_LABELS[phase], message: null };
  if (phase === "start-sandbox") s.sandbox = sandboxRefFor(s);
  await publishTask(loop);
}

/**
 * Provisions the task's sandbox and working copy. Safe to run again: every step is idempotent.
 * All reads of actor state happen inside steps, where the workflow engine allows them.
 */
async function provision(loop: Loop): Promise<void> {
  const startable = await loop.step("check-provision", async () => loop.state.lifecycle.state === "starting" && !loop.state.killed);
  if (!startable) return;
  for (const step of PROVISION_STEPS) {
    const result = await loop.tryStep({
      name: step.phase,
      maxRetries: STEP_RETRIES,
      retryBackoffBase: 1000,
      timeout: 10 * 60_000,
      catch: ["exhausted", "timeout", "critical"],
      run: async (): Promise<"done" | "killed"> => {
        // A kill that arrived mid-provisioning stops here; its own command then tears down.
        if (loop.state.killed) return "killed";
        await enterPhase(loop, step.phase);
        await step.run(loop);
        return "done";
      },
    });
    if (result.ok && result.value === "killed") return;
    if (!result.ok) {
      const failure = result.failure;
      await loop.step("record-error", async () => {
        const s = loop.state;
        const message = `${PHASE_LABELS[step.phase]} failed: ${failure.error.message}`;
        s.lifecycle = { phase: step.phase, state: "error", label: "Failed", message };
        await publishTask(loop);
        await appendHistory(loop, "error", message, null);
      });
      return;
    }
  }
  await loop.step("mark-ready", async () => {
    const s = loop.state;
    if (s.killed) return;
    s.baseCommit = await sandboxGit.head(taskExec(loop)).catch(() => null);
    s.lifecycle = { phase: "ready", state: "ready", label: PHASE_LABELS.ready, message: null };
    await publishTask(loop);
    await appendHistory(loop, "provisioned", `Sandbox ready on branch ${s.branch}`, null);
    if (s.orgId) await resolveRuntimeIssues(loop.client(), s.orgId, loop.actorId);
  });
}

async function archive(loop: Loop, by: string | null, reason?: string): Promise<void> {
  // Under the task's lock: a branch rename or session open in flight finishes before the sandbox
  // goes, and none starts after it (the task is archived when the lock is released).
  const alreadyArchived = await loop.step("stop-sandbox", () =>
    loop.vars.lock.run(async () => {
      const s = loop.state;
      if (s.lifecycle.state === "archived") return true;
      if (s.sandbox) await taskSandbox(loop).stop();
      s.lifecycle = { phase: "archived", state: "archived", label: PHASE_LABELS.archived, message: reason ?? null };
      return false;
    }),
  );
  await loop.step("mark-archived", async () => {
    if (alreadyArchived === true) return;
    const s = loop.state;
    s.lifecycle = { phase: "archived", state: "archived", label: PHASE_LABELS.archived, message: reason ?? null };
    await publishTask(loop);
    await appendHistory(loop, "archived", reason ? `Task archived: ${reason}` : "Task archived", by);
  });
}

async function kill(loop: Loop, by: string | null): Promise<void> {
  await loop.step("destroy-sandbox", () =>
    loop.vars.lock.run(async () => {
      const s = loop.state;
      if (s.lifecycle.phase !== "killed") await taskSandbox(loop).destroy();
    }),
  );
  await loop.step("mark-killed", async () => {
    const s = loop.state;
    if (s.lifecycle.phase === "killed") return;
    s.killed = true;
    s.sandbox = null;
    s.lifecycle = { phase: "killed", state: "archived", label: PHASE_LABELS.killed, message: null };
    await publishTask(loop);
    await appendHistory(loop, "killed", "Task killed; its sandbox was destroyed", by);
  });
}

/** One command at a time, in arrival order: provisioning, archive and kill never interleave. */
export async function runTaskCommand(loop: Loop, command: TaskCommand): Promise<void> {
  if (command.type === "provision") await provision(loop);
  else if (command.type === "archive") await archive(loop, command.by, command.reason);
  else await kill(loop, command.by);
}
