import type { WorkflowErrorEvent } from "rivetkit/workflow";
import type { RuntimeIssueReport } from "../shared/schemas/task.js";
import { internalParams } from "./auth.js";
import { keys } from "./keys.js";
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
  const report = toRuntimeIssue(source, event);
  if (!source.orgId) return;
  try {
    await client.organization.get(keys.organization(source.orgId), { params: internalParams() }).recordRuntimeIssue(report);
  } catch (err) {
    actorLog().error({ err, report }, "could not record a runtime issue");
  }
}

/** Tells the organization that an actor succeeded, which resolves its open issues. */
export async function resolveRuntimeIssues(client: Client<Registry>, orgId: string, actorId: string): Promise<void> {
  await client.organization.get(keys.organization(orgId), { params: internalParams() }).resolveRuntimeIssues(actorId);
}
