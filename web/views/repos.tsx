import { useState } from "preact/hooks";
import type { KilnClient } from "../../shared/client.js";
import { ErrorText, useAction, submitWith } from "../errors.js";
import type { OrgLive } from "../org-live.js";

export function ReposPanel({ client, live, orgId }: { client: KilnClient; live: OrgLive; orgId: string }) {
  const [remote, setRemote] = useState("");
  const add = useAction(async () => {
    live.putRepo(await client.addRepo(orgId, remote));
    setRemote("");
  });
  return (
    <section class="card" aria-labelledby="repos-h">
      <h2 id="repos-h">Repositories</h2>
      {live.repos.length ? (
        <ul class="repos" aria-label="Repositories">
          {live.repos.map((r) => (
            <li key={r.id} title={r.remoteUrl}>
              {r.name}
            </li>
          ))}
        </ul>
      ) : (
        <p class="muted">No repositories yet.</p>
      )}
      <form
        class="row"
        onSubmit={submitWith(add.run)}
      >
        <label class="grow">
          <span class="sr-only">Repository URL or path</span>
          <input aria-label="Repository URL or path" placeholder="https://… or git@… or a local path" value={remote} onInput={(e) => setRemote(e.currentTarget.value)} required />
        </label>
        <button type="submit" disabled={add.busy}>
          Add repository
        </button>
      </form>
      <ErrorText error={add.error} />
    </section>
  );
}
