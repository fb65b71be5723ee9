import type { KilnClient } from "../../shared/client.js";
import { ErrorText, useAction } from "../errors.js";
import type { OrgLive } from "../org-live.js";

/** The org's open runtime issues (failing workflow steps), as a banner anyone in the org can clear. */
export function RuntimeIssuesBanner({ client, live, orgId }: { client: KilnClient; live: OrgLive; orgId: string }) {
  const open = live.issues.filter((i) => !i.resolvedAt);
  const clear = useAction(async () => live.setIssues(await client.clearRuntimeIssues(orgId)));
  if (!open.length) return null;
  return (
    <section class="banner" role="region" aria-label="Runtime issues">
      <p>
        <strong>
          {open.length} runtime {open.length === 1 ? "issue" : "issues"}
        </strong>
        {open.some((i) => i.willRetry) && " (retrying)"}
      </p>
      <ul>
        {open.slice(0, 5).map((i) => (
          <li key={i.id}>
            <code>{i.scope}</code> {i.step && <>at {i.step}: </>}
            {i.message}
          </li>
        ))}
      </ul>
      <button type="button" onClick={() => void clear.run()} disabled={clear.busy}>
        Clear runtime issues
      </button>
      <ErrorText error={clear.error} />
    </section>
  );
}
