import { useState } from "preact/hooks";
import { ErrorText, useAction, submitWith } from "../errors.js";
import { auth, pageConfig } from "../session.js";

export function SignIn({ onSignedIn }: { onSignedIn(token: string): void }) {
  const [mode, setMode] = useState<"sign-in" | "sign-up">("sign-in");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [name, setName] = useState("");
  const github = pageConfig().github;
  const submit = useAction(async () => {
    const r = mode === "sign-up" ? await auth.signUp({ email, password, name: name || email.split("@")[0] || email }) : await auth.signIn({ email, password });
    onSignedIn(r.token);
  });
  const withGitHub = useAction(async () => {
    const r = await auth.signInSocial("github", location.href);
    location.assign(r.url);
  });
  return (
    <main class="center">
      <form
        class="card sign-in"
        aria-label={mode === "sign-up" ? "Create an account" : "Sign in"}
        onSubmit={submitWith(submit.run)}
      >
        <h1>{mode === "sign-up" ? "Create your Kiln account" : "Sign in to Kiln"}</h1>
        {mode === "sign-up" && (
          <label>
            Name
            <input name="name" autocomplete="name" value={name} onInput={(e) => setName(e.currentTarget.value)} />
          </label>
        )}
        <label>
          Email
          <input name="email" type="email" autocomplete="email" required value={email} onInput={(e) => setEmail(e.currentTarget.value)} />
        </label>
        <label>
          Password
          <input
            name="password"
            type="password"
            autocomplete={mode === "sign-up" ? "new-password" : "current-password"}
            required
            value={password}
            onInput={(e) => setPassword(e.currentTarget.value)}
          />
        </label>
        <ErrorText error={submit.error} />
        <button type="submit" class="primary" disabled={submit.busy}>
          {mode === "sign-up" ? "Create account" : "Sign in"}
        </button>
        <button type="button" class="link" onClick={() => setMode(mode === "sign-up" ? "sign-in" : "sign-up")}>
          {mode === "sign-up" ? "I have an account: sign in" : "New here? Create an account"}
        </button>
        {github && (
          <>
            <button type="button" onClick={() => void withGitHub.run()} disabled={withGitHub.busy}>
              Sign in with GitHub
            </button>
            <ErrorText error={withGitHub.error} />
          </>
        )}
      </form>
    </main>
  );
}
