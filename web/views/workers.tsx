import { useState } from "preact/hooks";
import type { KilnClient } from "../../shared/client.js";
import type { WorkerTokens } from "../../shared/schemas/worker.js";
import { ErrorText, useAction, submitWith } from "../errors.js";
import type { OrgLive } from "../org-live.js";

/** The org's cloud workers, live: their status arrives by the org subscription. */
export function WorkersView({ client, live, orgId }: { client: KilnClient; live: OrgLive; orgId: string }) {
  const [name, setName] = useState("");
  const [destination, setDestination] = useState<"cloud" | "local">("cloud");
  const [workspacePath, setWorkspacePath] = useState("");
  const [tokens, setTokens] = useState<{ name: string; tokens: WorkerTokens } | null>(null);
  const create = useAction(async () => {
    const created = await client.createWorker({ name, destination, orgId, ...(destination === "local" ? { workspacePath } : {}) });
    live.putWorker({ worker: created.worker, instance: created.instance, revision: created.revision });
    setTokens({ name: created.worker.name, tokens: created.tokens });
    setName("");
  });
  const remove = useAction(async (id: string) => {
    await client.deleteWorker(id);
    live.dropWorker(id);
  });
  return (
    <div class="columns">
      <section class="card" aria-labelledby="workers-h">
        <h1 id="workers-h">Workers</h1>
        {!live.workers.length ? (
          <p class="muted">No workers yet.</p>
        ) : (
          <ul class="workers" aria-label="Workers">
            {live.workers.map(({ worker, instance }) => (
              <li key={worker.id} data-worker-id={worker.id} data-status={worker.status}>
                <span class="title">{worker.name}</span> <span class={`badge ${worker.status}`}>{worker.status}</span>{" "}
                <span class="muted">
                  {worker.destination}
                  {instance?.url ? ` · ${instance.url}` : ""}
                </span>
                {worker.failure && <span class="error"> {worker.failure.message}</span>}
                <button type="button" aria-label={`Delete worker ${worker.name}`} onClick={() => void remove.run(worker.id)} disabled={remove.busy || worker.status === "deleting"}>
                  Delete
                </button>
              </li>
            ))}
          </ul>
        )}
        <ErrorText error={remove.error} />
      </section>
      <div class="side">
        {tokens && <TokensOnce name={tokens.name} tokens={tokens.tokens} onDone={() => setTokens(null)} />}
        <form
          class="card"
          aria-label="New worker"
          onSubmit={submitWith(create.run)}
        >
          <h2>New worker</h2>
          <label>
            Worker name
            <input value={name} onInput={(e) => setName(e.currentTarget.value)} required />
          </label>
          <label>
            Where it runs
            <select value={destination} onChange={(e) => setDestination(e.currentTarget.value === "local" ? "local" : "cloud")}>
              <option value="cloud">Cloud</option>
              <option value="local">My machine</option>
            </select>
          </label>
          {destination === "local" && (
            <label>
              Workspace path
              <input value={workspacePath} onInput={(e) => setWorkspacePath(e.currentTarget.value)} required />
            </label>
          )}
          <ErrorText error={create.error} />
          <button type="submit" class="primary" disabled={create.busy}>
            Create worker
          </button>
        </form>
      </div>
    </div>
  );
}

/** Tokens are shown only once, right after creation: Kiln keeps only their hashes. */
function TokensOnce({ name, tokens, onDone }: { name: string; tokens: WorkerTokens; onDone(): void }) {
  const [copied, setCopied] = useState<string | null>(null);
  const copy = async (label: string, value: string) => {
    try {
      await navigator.clipboard.writeText(value);
      setCopied(label);
    } catch {
      setCopied(null);
    }
  };
  return (
    <section class="card tokens" role="region" aria-label="Worker tokens">
      <h2>Tokens for {name}</h2>
      <p>Copy them now: they are not shown again.</p>
      <dl>
        {(Object.entries(tokens) as [string, string][]).map(([label, value]) => (
          <div key={label}>
            <dt>{label}</dt>
            <dd>
              <code data-token={label}>{value}</code>
              <button type="button" aria-label={`Copy ${label} token`} onClick={() => void copy(label, value)}>
                {copied === label ? "Copied" : "Copy"}
              </button>
            </dd>
          </div>
        ))}
      </dl>
      <button type="button" onClick={onDone}>
        I have copied them
      </button>
    </section>
  );
}
