import type { Logger } from "pino";
import { internalParams } from "../actors/auth.js";
import { keys } from "../shared/keys.js";
import type { Organizations } from "./organizations.js";
import type { KilnClient } from "./rivet.js";
import type { Workers } from "./workers.js";

/**
 * After a start (including one after kill -9), asks every organization to resume the tasks and
 * workers it still has provisioning (or, for workers, deleting). Actors sleep until called, so nothing else would wake them. Each org
 * either resumes its tasks' workflows or fails them with a reason; none is left `starting`.
 */
export async function resumeProvisioning(
  orgs: Organizations,
  client: KilnClient,
  logger: Logger,
  stoppedSandboxes: { orgId: string; sandboxId: string }[] = [],
  workers?: Workers,
): Promise<void> {
  if (workers) {
    try {
      const adopted = await workers.adoptIndexedViews();
      if (adopted) logger.info({ adopted }, "organizations adopted the workers an earlier Kiln indexed");
    } catch (err) {
      logger.error({ err }, "could not move indexed workers into their organizations");
    }
  }
  // Servers of the previous run were stopped before actors started; their actors learn it here.
  for (const s of stoppedSandboxes) {
    try {
      await client.sandboxInstance.get(keys.sandbox(s.orgId, "local", s.sandboxId), { params: internalParams() }).markStopped();
    } catch (err) {
      logger.warn({ err, sandboxId: s.sandboxId }, "could not mark a sandbox stopped");
    }
  }
  let orgIds: string[];
  try {
    orgIds = await orgs.allOrgIds();
  } catch (err) {
    logger.error({ err }, "could not list organizations to resume");
    return;
  }
  for (const orgId of orgIds) {
    try {
      const org = client.organization.get(keys.organization(orgId), { params: internalParams() });
      const result = await org.resumeTasks();
      if (result.resumed || result.failed) logger.info({ orgId, ...result }, "resumed provisioning after start");
      // Workers left provisioning or deleting by the previous run: their org knows which.
      const workersResumed = await org.resumeWorkers();
      if (workersResumed) logger.info({ orgId, workersResumed }, "resumed workers interrupted by a restart");
    } catch (err) {
      logger.error({ err, orgId }, "could not resume an organization's tasks");
    }
  }
}
