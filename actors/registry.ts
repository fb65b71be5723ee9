import { setup } from "rivetkit";
import { appShell } from "./app-shell/index.js";
import { history } from "./history/index.js";
import { organization } from "./organization/index.js";
import { repository } from "./repository/index.js";
import { sandboxInstance } from "./sandbox-instance/index.js";
import { sessionStatusSync } from "./session-status-sync/index.js";
import { task } from "./task/index.js";
import { worker } from "./worker/index.js";
import { githubState } from "./github-state/index.js";
import { userGitHub } from "./user-github/index.js";
import { device } from "./device/index.js";
import { watcher } from "./watcher/index.js";
import { taskSession } from "./task-session/index.js";

/** Kiln's actor registry. Serving and driver choice live in server/rivet.ts. */
export const registry = setup({
  use: { appShell, organization, repository, history, task, taskSession, sessionStatusSync, sandboxInstance, worker, device, watcher, githubState, userGitHub },
});

export type Registry = typeof registry;
