import type { KilnClient } from "../../shared/client.js";
import type { Me } from "../../shared/schemas/auth.js";
import { href, navigate, type Route } from "../route.js";

interface Props {
  client: KilnClient;
  /** Null until `/v1/me` answers: the org view does not wait for it. */
  me: Me | null;
  orgId: string;
  view: Route["view"];
  online: boolean;
  onSignedOut(): void;
}

export function Header({ client, me, orgId, view, online, onSignedOut }: Props) {
  const signOut = async () => {
    // Signed out here whatever Kiln answers: the token is dropped from this browser either way.
    await client.signOut().catch(() => undefined);
    onSignedOut();
  };
  const known = me?.organizations.some((o) => o.id === orgId) ?? false;
  return (
    <header class="top">
      <a class="brand" href={href.org(orgId)}>
        Kiln
      </a>
      <label class="org-switch">
        <span class="sr-only">Organization</span>
        <select aria-label="Organization" value={orgId} onChange={(e) => navigate(href.org(e.currentTarget.value))}>
          {!known && <option value={orgId}>{orgId}</option>}
          {me?.organizations.map((o) => (
            <option key={o.id} value={o.id}>
              {o.name} ({o.kind})
            </option>
          ))}
        </select>
      </label>
      <nav aria-label="Sections">
        <a href={href.org(orgId)} aria-current={view === "org" || view === "task" ? "page" : undefined}>
          Tasks
        </a>
        <a href={href.workers(orgId)} aria-current={view === "workers" ? "page" : undefined}>
          Workers
        </a>
        <a href={href.team(orgId)} aria-current={view === "team" ? "page" : undefined}>
          Team
        </a>
      </nav>
      <span class={online ? "status online" : "status offline"} role="status" aria-live="polite">
        {online ? "Live" : "Offline, reconnecting…"}
      </span>
      <span class="me" title={me?.user.email}>
        {me?.user.email}
      </span>
      <button type="button" onClick={() => void signOut()}>
        Sign out
      </button>
    </header>
  );
}
