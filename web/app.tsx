import { useEffect, useMemo, useState } from "preact/hooks";
import { createKilnClient, KilnApiError, type KilnClient } from "../shared/client.js";
import type { Me } from "../shared/schemas/auth.js";
import { errorMessage } from "./errors.js";
import { useOrgLive } from "./org-live.js";
import { href, navigate, useRoute, type Route } from "./route.js";
import { auth, storedToken, storeToken } from "./session.js";
import { Header } from "./views/header.js";
import { OrgView } from "./views/org.js";
import { SignIn } from "./views/sign-in.js";
import { TaskView } from "./views/task.js";
import { MyInvitations, TeamView } from "./views/team.js";
import { WorkersView } from "./views/workers.js";

export function App() {
  const [token, setToken] = useState<string | null>(storedToken);
  // After an OAuth redirect the session is in a cookie only: ask for its token once.
  const [lookedForCookie, setLookedForCookie] = useState(Boolean(token));
  useEffect(() => {
    if (lookedForCookie) return;
    auth
      .cookieSession()
      .then((s) => s && signedIn(s.token))
      .catch(() => undefined)
      .finally(() => setLookedForCookie(true));
  }, []);

  const signedIn = (t: string | null) => {
    storeToken(t);
    setToken(t);
  };

  if (!token) return lookedForCookie ? <SignIn onSignedIn={signedIn} /> : <p class="boot">Loading Kiln…</p>;
  return <Workbench key={token} token={token} onSignedOut={() => signedIn(null)} />;
}

function Workbench({ token, onSignedOut }: { token: string; onSignedOut(): void }) {
  const client = useMemo(() => createKilnClient({ baseUrl: location.origin, token }), [token]);
  useEffect(() => () => void client.dispose(), [client]);
  const [me, setMe] = useState<Me | null>(null);
  const [error, setError] = useState<string | null>(null);
  const route = useRoute();

  const loadMe = () =>
    client.me().then(
      (m) => {
        setMe(m);
        setError(null);
      },
      (err: unknown) => {
        if (err instanceof KilnApiError && err.status === 401) onSignedOut();
        else setError(errorMessage(err));
      },
    );
  useEffect(() => void loadMe(), [client]);

  // An org's URL renders at once, reading the org alongside `/v1/me`; only `/` waits for it, to pick the org.
  if (route.view !== "home") {
    return <OrgShell key={route.orgId} client={client} me={me} meError={error} route={route} onMeChanged={loadMe} onSignedOut={onSignedOut} />;
  }
  if (!me) {
    return error ? (
      <main class="center">
        <p class="error" role="alert">
          {error}
        </p>
        <button type="button" onClick={() => void loadMe()}>
          Try again
        </button>
      </main>
    ) : (
      <p class="boot">Loading Kiln…</p>
    );
  }
  const personal = me.organizations.find((o) => o.kind === "personal") ?? me.organizations[0];
  if (personal) navigate(href.org(personal.id));
  return <p class="boot">Loading Kiln…</p>;
}

function OrgShell(props: { client: KilnClient; me: Me | null; meError: string | null; route: Exclude<Route, { view: "home" }>; onMeChanged(): Promise<void>; onSignedOut(): void }) {
  const { client, me, route } = props;
  const live = useOrgLive(client, route.orgId);
  return (
    <div class="shell">
      <Header client={client} me={me} orgId={route.orgId} view={route.view} online={live.online} onSignedOut={props.onSignedOut} />
      <main>
        {props.meError && (
          <p class="error" role="alert">
            {props.meError}
          </p>
        )}
        <MyInvitations client={client} onMeChanged={props.onMeChanged} />
        {live.error && live.org && (
          <p class="error" role="alert">
            {live.error}
          </p>
        )}
        {live.error && !live.org ? (
          <section class="refusal" aria-label="Not available">
            <h1>This organization is not available</h1>
            <p role="alert">{live.error}</p>
          </section>
        ) : route.view === "task" ? (
          <TaskView client={client} live={live} orgId={route.orgId} taskId={route.taskId} sessionId={route.sessionId} />
        ) : route.view === "team" ? (
          <TeamView client={client} live={live} orgId={route.orgId} onMeChanged={props.onMeChanged} />
        ) : route.view === "workers" ? (
          <WorkersView client={client} live={live} orgId={route.orgId} />
        ) : (
          <OrgView client={client} live={live} orgId={route.orgId} />
        )}
      </main>
    </div>
  );
}
