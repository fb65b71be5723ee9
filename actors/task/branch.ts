import { UserError } from "rivetkit";
import type { TaskView } from "../../shared/schemas/task.js";
import { keys } from "../../shared/keys.js";
import { ACTOR_ERRORS, internalParams } from "../auth.js";
import { sandboxGit } from "../sandbox/git.js";
import { appendHistory, publishTask, taskExec, taskSandbox, type TaskContext } from "./publish.js";
import { taskView } from "./state.js";

function conflict(message: string): UserError {
  return new UserError(message, { code: ACTOR_ERRORS.conflict });
}

/**
 * Renames the task's branch: reserves the name in the org's branch index, then `git branch -m` in
 * the working copy (undoing the reservation when git fails). Runs under the task's lock, so the
 * state it checks first is still the state it writes after the git call.
 */
export async function renameBranch(c: TaskContext, name: string, userId: string | null): Promise<TaskView> {
  const s = c.state;
  if (s.killed) throw conflict("The task is being killed.");
  if (s.lifecycle.state !== "ready" || !s.sandbox) {
    throw conflict(`The branch can be renamed once the task is ready (it is ${s.lifecycle.label.toLowerCase()}).`);
  }
  if (name === s.branch) return taskView(s, userId);
  await taskSandbox(c).ensure();
  const exec = taskExec(c);
  if (await sandboxGit.branchExists(exec, name)) throw conflict(`A branch named ${name} already exists.`);
  const org = c.client().organization.get(keys.organization(s.orgId ?? ""), { params: internalParams() });
  const from = s.branch;
  try {
    await org.reserveBranch(s.repoId, s.taskId, name);
  } catch (err) {
    // An error from another actor arrives as a client error; keep its code for our caller.
    if ((err as { code?: string }).code === ACTOR_ERRORS.conflict) throw conflict((err as Error).message);
    throw err;
  }
  try {
    await sandboxGit.renameBranch(exec, from, name);
  } catch (err) {
    await org.reserveBranch(s.repoId, s.taskId, from);
    throw err;
  }
  s.branch = name;
  await publishTask(c);
  await appendHistory(c, "branch_renamed", `Branch renamed from ${from} to ${name}`, userId);
  return taskView(s, userId);
}
