import { z } from "@hono/zod-openapi";
import { pathId } from "../../shared/schemas/text.js";

/** Path parameters shared by the routes. Ids are checked by the resource, which answers its own 404. */
export const OrgParams = z.object({ orgId: pathId() });
export const RepoParams = OrgParams.extend({ repoId: pathId() });
export const TaskParams = OrgParams.extend({ taskId: pathId() });
export const SessionParams = TaskParams.extend({ sessionId: pathId() });
export const WorkerParams = z.object({ id: pathId() });
export const WorkerHealthParams = z.object({ orgId: pathId(), workerId: pathId() });
