import { useEffect, useState } from "preact/hooks";
import type { KilnClient } from "../../shared/client.js";
import type { Invitation } from "../../shared/schemas/members.js";
import type { OrgMemberRole } from "../../shared/schemas/org.js";
import { ErrorText, errorMessage, useAction, submitWith } from "../errors.js";
import type { OrgLive } from "../org-live.js";
import { href, navigate } from "../route.js";

/** The org's people: its members (live, from the org's state), its pending invitations, and a new team org. */
export function TeamView({ client, live, orgId, onMeChanged }: { client: KilnClient; live: OrgLive; orgId: string; onMeChanged(): Promise<void> }) {
  const team = live.org?.kind === "team";
  return (
    <div class="columns">
      <section class="card" aria-labelledby="members-h">
        <h1 id="members-h">{live.org ? `${live.org.name}: members` : "Members"}</h1>
        <ul class="members" aria-label="Members">
          {live.org?.members.map((m) => (
            <li key={m.userId}>
              {m.name} <span class="muted">{m.email}</span> <span class="badge">{m.role}</span>
            </li>
          ))}
        </ul>
        {team ? <Invitations client={client} orgId={orgId} /> : <p class="muted">A personal organization has no other members. Create a team organization to work with others.</p>}
      </section>
      <div class="side">
        <NewTeamOrg client={client} onMeChanged={onMeChanged} />
      </div>
    </div>
  );
}

function Invitations({ client, orgId }: { client: KilnClient; orgId: string }) {
  const [pending, setPending] = useState<Invitation[]>([]);
  const [email, setEmail] = useState("");
  const [role, setRole] = useState<OrgMemberRole>("member");
  const [loadError, setLoadError] = useState<string | null>(null);
  useEffect(() => {
    client.listInvitations(orgId).then(setPending, (err: unknown) => setLoadError(errorMessage(err)));
  }, [client, orgId]);
  const invite = useAction(async () => {
    const inv = await client.invite(orgId, email, role);
    setPending((p) => [...p.filter((i) => i.id !== inv.id), inv]);
    setEmail("");
  });
  const revoke = useAction(async (id: string) => {
    await client.revokeInvitation(orgId, id);
    setPending((p) => p.filter((i) => i.id !== id));
  });
  return (
    <>
      <h2>Invitations</h2>
      <ErrorText error={loadError} />
      {pending.length ? (
        <ul class="members" aria-label="Pending invitations">
          {pending.map((i) => (
            <li key={i.id}>
              {i.email} <span class="badge">{i.role}</span>{" "}
              <button type="button" aria-label={`Revoke invitation for ${i.email}`} onClick={() => void revoke.run(i.id)} disabled={revoke.busy}>
                Revoke
              </button>
            </li>
          ))}
        </ul>
      ) : (
        <p class="muted">No pending invitations.</p>
      )}
      <ErrorText error={revoke.error} />
      <form
        class="row wrap"
        aria-label="Invite by email"
        onSubmit={submitWith(invite.run)}
      >
        <label class="grow">
          Email to invite
          <input type="email" value={email} onInput={(e) => setEmail(e.currentTarget.value)} required />
        </label>
        <label>
          Role
          <select value={role} onChange={(e) => setRole(e.currentTarget.value as OrgMemberRole)}>
            <option value="member">member</option>
            <option value="admin">admin</option>
            <option value="owner">owner</option>
          </select>
        </label>
        <button type="submit" disabled={invite.busy}>
          Invite
        </button>
      </form>
      <ErrorText error={invite.error} />
    </>
  );
}

function NewTeamOrg({ client, onMeChanged }: { client: KilnClient; onMeChanged(): Promise<void> }) {
  const [name, setName] = useState("");
  const create = useAction(async () => {
    const org = await client.createOrg(name);
    setName("");
    await onMeChanged();
    navigate(href.team(org.id));
  });
  return (
    <form
      class="card"
      aria-label="New team organization"
      onSubmit={submitWith(create.run)}
    >
      <h2>New team organization</h2>
      <label>
        Team name
        <input value={name} onInput={(e) => setName(e.currentTarget.value)} required />
      </label>
      <ErrorText error={create.error} />
      <button type="submit" class="primary" disabled={create.busy}>
        Create team organization
      </button>
    </form>
  );
}

/** Invitations addressed to the signed-in user, with their answers, above every view. */
export function MyInvitations({ client, onMeChanged }: { client: KilnClient; onMeChanged(): Promise<void> }) {
  const [mine, setMine] = useState<Invitation[]>([]);
  useEffect(() => {
    client.myInvitations().then(setMine, () => undefined);
  }, [client]);
  const answer = useAction(async (inv: Invitation, accept: boolean) => {
    if (accept) await client.acceptInvitation(inv.id);
    else await client.declineInvitation(inv.id);
    setMine((m) => m.filter((i) => i.id !== inv.id));
    if (accept) {
      await onMeChanged();
      navigate(href.org(inv.orgId));
    }
  });
  if (!mine.length) return null;
  return (
    <section class="banner invite" role="region" aria-label="Your invitations">
      {mine.map((i) => (
        <p key={i.id}>
          {i.invitedBy} invited you to <strong>{i.orgName}</strong> as {i.role}.{" "}
          <button type="button" class="primary" aria-label={`Accept invitation to ${i.orgName}`} onClick={() => void answer.run(i, true)} disabled={answer.busy}>
            Accept
          </button>{" "}
          <button type="button" aria-label={`Decline invitation to ${i.orgName}`} onClick={() => void answer.run(i, false)} disabled={answer.busy}>
            Decline
          </button>
        </p>
      ))}
      <ErrorText error={answer.error} />
    </section>
  );
}
