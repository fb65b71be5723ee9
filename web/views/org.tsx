import type { KilnClient } from "../../shared/client.js";
import type { OrgLive } from "../org-live.js";
import { RuntimeIssuesBanner } from "./issues.js";
import { ReposPanel } from "./repos.js";
import { NewTaskForm, TaskList } from "./tasks.js";

/** The org's home: its runtime issues, its live task list, and the forms that add to it. */
export function OrgView({ client, live, orgId }: { client: KilnClient; live: OrgLive; orgId: string }) {
  return (
    <div class="org">
      <RuntimeIssuesBanner client={client} live={live} orgId={orgId} />
      <div class="columns">
        <section aria-labelledby="tasks-h" class="card">
          <h1 id="tasks-h">{live.org ? `${live.org.name}: tasks` : "Tasks"}</h1>
          <TaskList live={live} orgId={orgId} />
        </section>
        <div class="side">
          <NewTaskForm client={client} live={live} orgId={orgId} />
          <ReposPanel client={client} live={live} orgId={orgId} />
        </div>
      </div>
    </div>
  );
}
