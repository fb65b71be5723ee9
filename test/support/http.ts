import type { Hono } from "hono";

/** One way to talk to Kiln: over a real socket, or in-process through `app.request`. */
export interface Transport {
  name: "socket" | "in-process";
  request(path: string, init?: RequestInit): Promise<Response>;
}

export function socketTransport(baseUrl: string): Transport {
  return {
    name: "socket",
    // Node's fetch marks requests as CORS, so better-auth wants an Origin it trusts: Kiln's own.
    request: (path, init = {}) => {
      const headers = new Headers(init.headers);
      if (!headers.has("origin")) headers.set("origin", new URL(baseUrl).origin);
      return fetch(`${baseUrl}${path}`, { ...init, headers });
    },
  };
}

/** In-process requests carry Kiln's own origin too, as a browser on the same site would. */
export function inProcessTransport(app: Pick<Hono, "request">, origin: string): Transport {
  return {
    name: "in-process",
    request: async (path, init = {}) => {
      const headers = new Headers(init.headers);
      if (!headers.has("origin")) headers.set("origin", new URL(origin).origin);
      return app.request(path, { ...init, headers });
    },
  };
}

export interface SignedUp {
  token: string;
  cookie: string;
  user: { id: string; email: string; name: string };
  password: string;
}

let counter = 0;

export function uniqueEmail(prefix = "user"): string {
  counter += 1;
  return `${prefix}-${Date.now().toString(36)}-${counter}@example.com`;
}

export function jsonInit(method: string, body: unknown, headers: Record<string, string> = {}): RequestInit {
  return { method, headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) };
}

/** Extracts `name=value` pairs from Set-Cookie headers, ready for a Cookie header. */
export function cookieFrom(res: Response): string {
  return res.headers
    .getSetCookie()
    .map((c) => c.split(";")[0])
    .filter((c): c is string => Boolean(c))
    .join("; ");
}

export async function signUp(t: Transport, opts: { email?: string; name?: string; password?: string } = {}): Promise<SignedUp> {
  const email = opts.email ?? uniqueEmail();
  const password = opts.password ?? "correct-horse-battery";
  const name = opts.name ?? email.split("@")[0] ?? "user";
  const res = await t.request("/api/auth/sign-up/email", jsonInit("POST", { email, password, name }));
  if (res.status !== 200) throw new Error(`sign-up failed: ${res.status} ${await res.text()}`);
  const body = (await res.json()) as { token: string; user: SignedUp["user"] };
  return { token: body.token, cookie: cookieFrom(res), user: body.user, password };
}

export function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}
