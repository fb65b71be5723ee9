import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SessionSummary } from "../shared/schemas/session.js";
import { api } from "./support/api.js";
import { databaseBackends } from "./support/db.js";
import { makeBareRepo } from "./support/git.js";
import { signUp, socketTransport, type SignedUp } from "./support/http.js";
import { startTestKiln, type TestKiln } from "./support/kiln.js";
import { until } from "./support/poll.js";
import { rawRequest, type RawResponse } from "./support/raw-http.js";

/**
 * Every operation in /openapi.json (and better-auth's pass-through routes) gets malformed input.
 * Whatever comes in, Kiln answers below 500, and every error is JSON `{ error, message }`.
 */

interface Schema {
  $ref?: string;
  type?: string | string[];
  maxLength?: number;
  pattern?: string;
  items?: Schema;
  additionalProperties?: Schema | boolean;
  enum?: unknown[];
  properties?: Record<string, Schema>;
  required?: string[];
  anyOf?: Schema[];
  oneOf?: Schema[];
  allOf?: Schema[];
}
interface Operation {
  parameters?: { name: string; in: "path" | "query" | "header" | "cookie"; schema?: Schema }[];
  requestBody?: { content: Record<string, { schema: Schema }> };
}
interface OpenApiDoc {
  paths: Record<string, Record<string, Operation>>;
  components?: { schemas?: Record<string, Schema> };
}

const deep = (n: number) => "[".repeat(n) + "]".repeat(n);
const DEEP = deep(50_000);
const MEGA = "x".repeat(1_000_000);

/** Raw path segments, exactly as sent. */
const BAD_SEGMENTS = [
  "%00",
  "a%00b",
  "..%2F..%2F..%2Fetc%2Fpasswd",
  "..%5C..%5Cwindows",
  "..%252F..%252Fetc",
  "__proto__",
  "constructor",
  "prototype",
  "hasOwnProperty",
  "a".repeat(65),
  "a".repeat(4000),
  "w_aaaaaaaaaaaaaaaa",
  "%F0%9F%92%A9",
  "%E2%80%AE%E2%80%8B%EF%BB%BF",
  "%ED%A0%80",
  "%C0%AF",
  "%",
  "%zz",
  "-1",
  "null",
  "%20",
];

const BAD_QUERY_VALUES = ["%00", "a%00b", "a".repeat(8000), "-1", "abc", "1e999", "%F0%9F%92%A9", "%ED%A0%80", "__proto__", "%", "[]"];

/** Whole bodies that are not what any route wants. */
const BAD_BODIES: (string | undefined)[] = [
  undefined,
  "",
  "null",
  "[]",
  "{",
  '"text"',
  "123",
  "true",
  DEEP,
  `{"a":${DEEP}}`,
  '{"__proto__":{"polluted":true}}',
  '{"constructor":{"prototype":{"polluted":true}}}',
  `"${MEGA}"`,
];

/** Values put in each property of an otherwise plausible body. */
const BAD_VALUES: unknown[] = [
  123,
  -1,
  1e308,
  true,
  null,
  [],
  {},
  ["a"],
  "",
  "a\u0000b",
  "\u0000",
  "\ud800",
  "\u202e\u200b\ufeff",
  "💩".repeat(50),
  "../../etc/passwd",
  "__proto__",
  MEGA,
];

function resolve(doc: OpenApiDoc, s: Schema | undefined): Schema {
  let cur = s ?? {};
  for (let i = 0; cur.$ref && i < 10; i++) cur = doc.components?.schemas?.[cur.$ref.split("/").pop() ?? ""] ?? {};
  if (cur.allOf?.length) return cur.allOf.reduce<Schema>((acc, part) => {
    const r = resolve(doc, part);
    return { ...acc, ...r, properties: { ...acc.properties, ...r.properties }, required: [...(acc.required ?? []), ...(r.required ?? [])] };
  }, {});
  return cur;
}

describe.each(await databaseBackends())("fuzzing every route (%s)", (backend) => {
  let kiln: TestKiln;
  let ann: SignedUp;
  let doc: OpenApiDoc;
  const good: Record<string, string> = {};

  beforeAll(async () => {
    // Thousands of requests from one address: the sign-in limits (tested on their own) would answer most of them.
    kiln = await startTestKiln({ backend, env: { KILN_AUTH_RATE_LIMIT: "off" } });
    const t = socketTransport(kiln.url);
    ann = await signUp(t, { name: "Ann" });
    const A = api(t, ann.token);
    good.orgId = `personal-${ann.user.id}`;
    good.repoId = await A.addRepo(good.orgId, makeBareRepo());
    good.taskId = (await A.createTask(good.orgId, { repoId: good.repoId, prompt: "Fuzz me" })).id;
    await A.settled(good.orgId, good.taskId);
    const opened = await A.post<{ session: SessionSummary }>(`/v1/orgs/${good.orgId}/tasks/${good.taskId}/sessions`, { agent: "mock" });
    good.sessionId = opened.body.session.id;
    await until(
      () => A.get<{ session: SessionSummary }>(`/v1/orgs/${good.orgId}/tasks/${good.taskId}/sessions/${good.sessionId}`),
      (r) => r.body.session.status !== "pending_provision" && r.body.session.status !== "pending_session_create",
    );
    const worker = await A.post<{ worker: { id: string } }>("/v1/workers", { name: "fuzz", destination: "local", workspacePath: "/tmp/fuzz" });
    good.id = worker.body.worker.id;
    doc = JSON.parse((await rawRequest(kiln.url, { method: "GET", path: "/openapi.json" })).text) as OpenApiDoc;
  }, 120_000);
  afterAll(async () => {
    await kiln?.stop();
  });

  /**
   * Collects every answer that breaks the rule, so one run lists all of them. Two 503s are the
   * API's contract, not failures: a cloud worker's public `/w/…/health` for any worker that is not
   * up (that is its whole job), and `github_not_configured` on a Kiln without the GitHub App.
   */
  function checker() {
    const failures: string[] = [];
    return {
      failures,
      async send(method: string, path: string, body?: string, token = ann.token): Promise<void> {
        const headers: Record<string, string> = { authorization: `Bearer ${token}` };
        if (body !== undefined) headers["content-type"] = "application/json";
        let res: RawResponse;
        try {
          res = await rawRequest(kiln.url, { method: method.toUpperCase(), path, headers, body });
        } catch (err) {
          failures.push(`${method} ${path.slice(0, 120)} (${(body ?? "").slice(0, 60)}): connection failed ${String(err)}`);
          return;
        }
        const where = `${method} ${path.slice(0, 120)} (${(body ?? "no body").slice(0, 60)})`;
        // Kiln runs in this process: a `__proto__` key merged the wrong way would show up here.
        for (const key in {}) {
          failures.push(`${where}: polluted Object.prototype with ${key}`);
          delete (Object.prototype as Record<string, unknown>)[key];
        }
        const contract503 = res.status === 503 && (/^\/w\//.test(path) || /"error":"github_not_configured"/.test(res.text));
        if (res.status >= 500 && !contract503) failures.push(`${where}: ${res.status} ${res.text.slice(0, 200)}`);
        if (res.status < 400) return;
        let parsed: unknown;
        try {
          parsed = JSON.parse(res.text);
        } catch {
          failures.push(`${where}: ${res.status} is not JSON: ${res.text.slice(0, 100)}`);
          return;
        }
        const e = parsed as { error?: unknown; message?: unknown };
        if (typeof e.error !== "string" || typeof e.message !== "string") failures.push(`${where}: ${res.status} body ${res.text.slice(0, 200)}`);
      },
    };
  }

  function fillPath(template: string, override: Record<string, string> = {}): string {
    return template.replace(/\{(\w+)\}/g, (_, name: string) => override[name] ?? good[name] ?? "x");
  }

  /** A body that passes validation as far as plain values can, so bad values reach deeper code. */
  function plausible(schema: Schema): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [name, prop] of Object.entries(schema.properties ?? {})) {
      const p = resolve(doc, prop);
      const variant = p.anyOf?.[0] ?? p.oneOf?.[0];
      const s = variant ? resolve(doc, variant) : p;
      if (good[name]) out[name] = good[name];
      else if (name === "destination") out[name] = "local"; // a cloud worker would start a real sandbox per accepted body
      else if (s.enum?.length) out[name] = s.enum[0];
      else if (s.type === "boolean") out[name] = false;
      else if (s.type === "number" || s.type === "integer") out[name] = 1;
      else if (s.type === "string") out[name] = name === "workspacePath" ? "/tmp/fuzz" : "fuzz";
    }
    return out;
  }

  it("bounds every string a request carries, and refuses NUL in it, in the schema", async () => {
    const unbounded: string[] = [];
    const walk = (where: string, schema: Schema | undefined, seen: Set<Schema>): void => {
      const s = resolve(doc, schema);
      if (seen.has(s)) return;
      seen.add(s);
      const types = Array.isArray(s.type) ? s.type : [s.type];
      if (types.includes("string") && !s.enum) {
        const refusesNul = s.pattern !== undefined && !new RegExp(s.pattern).test("a\u0000b");
        if (s.maxLength === undefined || !refusesNul) unbounded.push(`${where} (maxLength ${s.maxLength}, pattern ${s.pattern})`);
      }
      for (const [name, prop] of Object.entries(s.properties ?? {})) walk(`${where}.${name}`, prop, seen);
      for (const alt of [...(s.anyOf ?? []), ...(s.oneOf ?? [])]) walk(where, alt, seen);
      if (s.items) walk(`${where}[]`, s.items, seen);
      if (typeof s.additionalProperties === "object") walk(`${where}{}`, s.additionalProperties, seen);
    };
    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(methods)) {
        for (const p of op.parameters ?? []) walk(`${method} ${path} ${p.in}:${p.name}`, p.schema, new Set());
        for (const media of Object.values(op.requestBody?.content ?? {})) walk(`${method} ${path} body`, media.schema, new Set());
      }
    }
    expect(unbounded).toEqual([]);
  });

  it("answers every malformed request below 500 with a JSON error", async () => {
    const check = checker();
    const ops = Object.entries(doc.paths).flatMap(([path, methods]) => Object.entries(methods).map(([method, op]) => ({ path, method, op })));
    expect(ops.length).toBeGreaterThan(20);
    // Destructive operations last, so the others still find the objects they act on.
    ops.sort((a, b) => Number(a.method === "delete") - Number(b.method === "delete"));
    for (const { path, method, op } of ops) {
      if (path === "/api/auth/sign-out") continue; // ends the session the rest of the fuzz uses; fuzzed below
      const bodySchema = op.requestBody ? resolve(doc, op.requestBody.content["application/json"]?.schema) : undefined;
      const base = bodySchema ? JSON.stringify(plausible(bodySchema)) : undefined;
      for (const param of op.parameters?.filter((p) => p.in === "path") ?? []) {
        for (const bad of BAD_SEGMENTS) await check.send(method, fillPath(path, { [param.name]: bad }), base);
      }
      for (const param of op.parameters?.filter((p) => p.in === "query") ?? []) {
        for (const bad of BAD_QUERY_VALUES) await check.send(method, `${fillPath(path)}?${param.name}=${bad}`);
        await check.send(method, `${fillPath(path)}?${param.name}=1&${param.name}=2`);
      }
      if (!bodySchema && method === "get") continue;
      for (const body of BAD_BODIES) await check.send(method, fillPath(path), body);
      for (const name of Object.keys(bodySchema?.properties ?? {})) {
        for (const value of BAD_VALUES) await check.send(method, fillPath(path), JSON.stringify({ ...JSON.parse(base ?? "{}"), [name]: value }));
        await check.send(method, fillPath(path), `${base?.slice(0, -1) ?? "{"}${base && base !== "{}" ? "," : ""}"${name}":${DEEP}}`);
      }
    }
    expect(check.failures).toEqual([]);
  }, 600_000);

  it("answers malformed ids outside the API document below 500 with a JSON error", async () => {
    const check = checker();
    for (const bad of BAD_SEGMENTS) {
      await check.send("get", `/docs/assets/${bad}`);
      await check.send("get", `/w/${bad}/w_aaaaaaaaaaaaaaaa/health`);
      await check.send("get", `/w/${good.orgId}/${bad}/health`);
    }
    for (const bad of BAD_QUERY_VALUES) await check.send("get", `/v1/workers?orgId=${bad}`);
    expect(check.failures).toEqual([]);
  }, 120_000);

  it("answers malformed input to better-auth's own routes below 500 with a JSON error", async () => {
    const check = checker();
    const zed = await signUp(socketTransport(kiln.url), { name: "Zed" });
    // Each route with the fields better-auth reads on it: a field a route ignores tests nothing there.
    const authRoutes: Record<string, string[]> = {
      "/api/auth/update-user": ["name", "image"],
      "/api/auth/change-password": ["newPassword", "currentPassword", "revokeOtherSessions"],
      "/api/auth/change-email": ["newEmail", "callbackURL"],
      "/api/auth/delete-user": ["password", "token", "callbackURL"],
      "/api/auth/revoke-session": ["token"],
      "/api/auth/revoke-other-sessions": [],
      "/api/auth/sign-in/social": ["provider", "callbackURL", "idToken"],
      "/api/auth/request-password-reset": ["email", "redirectTo"],
      "/api/auth/reset-password": ["newPassword", "token"],
      "/api/auth/verify-email": ["token", "callbackURL"],
      "/api/auth/get-session": [],
      "/api/auth/list-sessions": [],
      "/api/auth/sign-up/email": ["name", "email", "password", "image", "callbackURL"],
      "/api/auth/sign-in/email": ["email", "password", "callbackURL", "rememberMe"],
      "/api/auth/sign-out": [],
      "/api/auth/revoke-sessions": [],
    };
    for (const [path, fields] of Object.entries(authRoutes)) {
      for (const body of BAD_BODIES) await check.send("post", path, body, zed.token);
      for (const name of fields) {
        for (const value of BAD_VALUES) await check.send("post", path, JSON.stringify({ [name]: value }), zed.token);
      }
    }
    for (const bad of BAD_SEGMENTS) await check.send("get", `/api/auth/${bad}`, undefined, zed.token);
    expect(check.failures).toEqual([]);
  }, 600_000);
});
