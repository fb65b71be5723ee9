import type { WorkflowErrorEvent } from "rivetkit/workflow";
import type { RuntimeIssueReport } from "../shared/schemas/task.js";
import { internalParams } from "./auth.js";
import { keys } from "../shared/keys.js";
import type { Registry } from "./registry.js";
import { actorLog } from "./services.js";
import type { Client } from "rivetkit";

export interface IssueSource {
  orgId: string | null;
  actorType: string;
  actorId: string;
  scope: string;
}

/** Normalizes a workflow error event into the organization's runtime-issue shape. */
export function toRuntimeIssue(source: IssueSource, event: WorkflowErrorEvent): RuntimeIssueReport {
  const base = { actorType: source.actorType, actorId: source.actorId, scope: source.scope, occurredAt: new Date().toISOString() };
  if ("step" in event) {
    const s = event.step;
    return { ...base, workflow: s.workflowId, step: s.stepName, attempt: s.attempt, willRetry: s.willRetry, message: s.error.message };
  }
  if ("rollback" in event) {
    const r = event.rollback;
    return { ...base, workflow: r.workflowId, step: r.stepName, attempt: null, willRetry: false, message: `rollback failed: ${r.error.message}` };
  }
  return { ...base, workflow: event.workflow.workflowId, step: null, attempt: null, willRetry: false, message: event.workflow.error.message };
}

/**
 * The `onError` hook every workflow actor installs: the issue goes to its organization, the
 * source of truth for error badges. A report that cannot be delivered is logged, never thrown,
 * so reporting can't fail the workflow it reports on.
 */
export async function reportRuntimeIssue(client: Client<Registry>, source: IssueSource, event: WorkflowErrorEvent): Promise<void> {
  await deliver(client, source.orgId, toRuntimeIssue(source, event));
}

async function deliver(client: Client<Registry>, orgId: string | null, report: RuntimeIssueReport): Promise<void> {
  if (!orgId) return;
  try {
    await client.organization.get(keys.organization(orgId), { params: internalParams() }).recordRuntimeIssue(report);
  } catch (err) {
    actorLog().error({ err, report }, "could not record a runtime issue");
  }
}

/**
 * For failures a workflow handles itself (a worker marked failed), which never reach `onError`:
 * the organization still hears of them.
 */
export async function reportHandledFailure(
  client: Client<Registry>,
  source: IssueSource,
  failure: { workflow: string; step: string; message: string },
): Promise<void> {
  await deliver(client, source.orgId, {
    actorType: source.actorType,
    actorId: source.actorId,
    scope: source.scope,
    occurredAt: new Date().toISOString(),
    workflow: failure.workflow,
    step: failure.step,
    attempt: null,
    willRetry: false,
    message: failure.message,
  });
}

/** Tells the organization that an actor succeeded, which resolves its open issues. */
export async function resolveRuntimeIssues(client: Client<Registry>, orgId: string, actorId: string): Promise<void> {
  await client.organization.get(keys.organization(orgId), { params: internalParams() }).resolveRuntimeIssues(actorId);
}
