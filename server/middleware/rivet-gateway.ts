import type { Context, MiddlewareHandler, Next } from "hono";
import { bodyLimit } from "hono/body-limit";
import { ERROR_STATUS, type ErrorCode } from "../../shared/errors.js";
import {
  decodeRivetError,
  gatewayError,
  kilnErrorFromRivet,
  NO_SUCH_ACTOR,
  parseEncoding,
  validActionBody,
  validConnParams,
  type RivetEncoding,
} from "../rivet-wire.js";
import type { ResolvedSession } from "../session-cache.js";
import type { KilnEnv } from "../types.js";

export interface RivetGatewayOptions {
  /** Where RivetKit's manager router is mounted, e.g. `/api/rivet`. */
  basePath: string;
  /** The driver's exact actor id format: nothing else ever reaches the driver as an id. */
  actorId: RegExp;
  /** The registry's actor names. */
  actorNames: ReadonlySet<string>;
  /** The largest action body or WebSocket message RivetKit accepts. */
  maxMessageBytes: number;
  resolveSession(headers: Headers): Promise<ResolvedSession | null>;
  isOrgMember(orgId: string, userId: string): Promise<boolean>;
  /** Accepts the WebSocket and closes it at once with `code` and `reason`, as RivetKit's own refusals do. */
  refuseSocket(c: Context, code: number, reason: string): Promise<Response>;
}

type Ctx = Context<KilnEnv>;

/** A caller refused before the driver sees the call: HTTP answers its code's status, a WebSocket closes with 4000 + it. */
type CallerRefusal = { code: "unauthorized" | "forbidden"; message: string };

/** RivetKit's router allows 32 ids per lookup; the client sends one. */
const MAX_LOOKUP_IDS = 32;
const LOOKUP_PARAMS = new Set(["name", "key", "actor_ids", "namespace"]);
/**
 * Actor keys as Kiln builds them (shared/keys.ts): `/`-joined parts with no escapes. Keys that need
 * RivetKit's backslash escapes are refused, so the org read here is the org RivetKit looks up.
 */
const CANONICAL_KEY = /^[A-Za-z0-9_.:-]{1,128}(?:\/[A-Za-z0-9_.:-]{1,128}){0,15}$/;
const ACTION_NAME = /^[A-Za-z_$][A-Za-z0-9_$]{0,127}$/;
const NAMESPACE = /^[A-Za-z0-9_.-]{1,64}$/;
const CONNECT_PROTOCOL = "rivet";
const ENCODING_PROTOCOL = "rivet_encoding.";
const PARAMS_PROTOCOL = "rivet_conn_params.";

function refuse(c: Ctx, code: ErrorCode, message: string): Response {
  return c.json(gatewayError(code, message), ERROR_STATUS[code]);
}

/**
 * Replaces the answer RivetKit already gave (a returned Response would be ignored by then). Unset
 * first: Hono's setter would otherwise copy the old answer's headers, length included, onto the new.
 */
function replaceAnswer(c: Ctx, res: Response): void {
  c.res = undefined;
  c.res = res;
}

/** The org an actor key belongs to, or undefined for a key outside any org (the app shell). */
function orgOfKey(key: string): string | undefined {
  const parts = key.split("/");
  return parts[0] === "org" && parts[1] ? parts[1] : undefined;
}

/** The path below the base, split on `/` as sent (still percent-encoded); undefined when a segment is empty. */
function segmentsOf(c: Ctx, basePath: string): string[] | undefined {
  const path = new URL(c.req.url).pathname;
  if (!path.startsWith(`${basePath}/`)) return undefined;
  const segments = path.slice(basePath.length + 1).split("/");
  return segments.every((s) => s.length > 0) ? segments : undefined;
}

/** Replaces RivetKit's error answer (any encoding, any message) with Kiln's JSON error. */
async function rewriteError(c: Ctx, encoding: RivetEncoding): Promise<void> {
  if (c.res.status < 400) return;
  const res = c.res;
  const decoded = decodeRivetError(new Uint8Array(await res.arrayBuffer()), res.headers.get("content-type"), encoding);
  const { status, body } = kilnErrorFromRivet(res.status, decoded, c.get("requestId"));
  if (status >= 500) c.get("log")?.error({ rivetStatus: res.status, group: body.group, code: body.code }, "RivetKit answered with a server error");
  const headers = new Headers(res.headers);
  headers.delete("content-length");
  headers.set("content-type", "application/json");
  replaceAnswer(c, new Response(JSON.stringify(body), { status, headers }));
}

async function listedKeys(res: Response): Promise<string[]> {
  const body = (await res.clone().json()) as { actors?: { key?: unknown }[] };
  return (body.actors ?? []).map((a) => (typeof a.key === "string" ? a.key : ""));
}

/**
 * The allow-list in front of RivetKit's manager router. It lets through only what RivetKit's
 * client sends: a lookup by key or id (signed in), an action call, a connection, `/metadata`.
 * Ids must have the driver's exact form, so no alias, traversal or junk id reaches a file name;
 * bodies, params and protocols must decode, so RivetKit never answers junk with a 500; and
 * every refusal, and every error RivetKit answers, is Kiln's JSON error.
 */
export function rivetGateway(opts: RivetGatewayOptions): MiddlewareHandler<KilnEnv> {
  const limit = bodyLimit({
    maxSize: opts.maxMessageBytes,
    onError: (c) => {
      // The rest of the body is never read, so this connection cannot carry another request.
      c.header("connection", "close");
      return refuse(c as Ctx, "payload_too_large", `An action call's body is limited to ${opts.maxMessageBytes} bytes.`);
    },
  });

  /**
   * Checks the caller named in conn params (already shape-checked) the way every actor will, so an
   * anonymous or forged caller never makes the driver load anything. Kiln's internal credential is
   * for in-process calls only and is never accepted from outside.
   */
  async function refusedCaller(rawParams: string | undefined): Promise<CallerRefusal | undefined> {
    const params = (rawParams ? JSON.parse(rawParams) : null) as { token?: string; internal?: string } | null;
    if (params?.internal !== undefined) return { code: "forbidden", message: "Kiln's internal credential is not accepted here." };
    const session = params?.token ? await opts.resolveSession(new Headers({ authorization: `Bearer ${params.token}` })) : null;
    return session ? undefined : { code: "unauthorized", message: "Sign in first: pass a valid session token as the connection param `token`." };
  }

  async function lookup(c: Ctx, next: Next): Promise<Response | void> {
    const names = Object.keys(c.req.queries());
    if (names.some((n) => !LOOKUP_PARAMS.has(n) || c.req.queries(n)?.length !== 1)) {
      return refuse(c, "invalid_request", "Look an actor up with `name` and `key`, or with `actor_ids`, each given once.");
    }
    const { name, key, actor_ids: ids, namespace } = c.req.query();
    if (ids === undefined && key === undefined) return refuse(c, "forbidden", "Listing actors is not allowed; look one up by key.");
    if ((ids !== undefined && (name !== undefined || key !== undefined)) || (namespace !== undefined && !NAMESPACE.test(namespace))) {
      return refuse(c, "invalid_request", "Look an actor up with `name` and `key`, or with `actor_ids`, each given once.");
    }
    const session = await opts.resolveSession(c.req.raw.headers);
    if (!session) return refuse(c, "unauthorized", "Sign in first: send your session token as `Authorization: Bearer`.");
    const userId = session.user.id;

    if (key !== undefined) {
      if (!CANONICAL_KEY.test(key)) return refuse(c, "invalid_request", "`key` must be `/`-separated parts of letters, digits, `_`, `-`, `.` or `:`.");
      if (name === undefined || !opts.actorNames.has(name)) return c.json({ actors: [] });
      const orgId = orgOfKey(key);
      if (!orgId) return refuse(c, "forbidden", "Only an organization's actors can be looked up.");
      const member = await opts.isOrgMember(orgId, userId);
      await next();
      // As a connection would: a non-member learns only what a connection attempt tells them.
      if (!member && c.res.ok && (await listedKeys(c.res)).length > 0) {
        return replaceAnswer(c, refuse(c, "forbidden", "You are not a member of this organization."));
      }
      return rewriteError(c, "json");
    }

    const requested = (ids ?? "").split(",").map((id) => id.trim()).filter(Boolean);
    if (requested.length > MAX_LOOKUP_IDS) return refuse(c, "invalid_request", `Look up at most ${MAX_LOOKUP_IDS} actors at once.`);
    // A malformed id names no actor: it is answered as an unknown one, without reaching the driver.
    const wellFormed = requested.filter((id) => opts.actorId.test(id));
    if (wellFormed.length === 0) return c.json({ actors: [] });
    const url = new URL(c.req.url);
    url.search = new URLSearchParams({ actor_ids: wellFormed.join(","), ...(namespace ? { namespace } : {}) }).toString();
    c.req.raw = new Request(url, c.req.raw);
    await next();
    if (c.res.ok) {
      for (const listed of await listedKeys(c.res)) {
        const orgId = orgOfKey(listed);
        if (!orgId || !(await opts.isOrgMember(orgId, userId))) {
          return replaceAnswer(c, refuse(c, "forbidden", "You are not a member of this organization."));
        }
      }
    }
    return rewriteError(c, "json");
  }

  async function action(c: Ctx, next: Next, name: string): Promise<Response | void> {
    const encoding = parseEncoding(c.req.header("x-rivet-encoding"));
    if (!encoding) return refuse(c, "invalid_request", "Send `x-rivet-encoding`: json, cbor or bare.");
    const params = c.req.header("x-rivet-conn-params");
    if (!validConnParams(params)) {
      return refuse(c, "invalid_request", "`x-rivet-conn-params` must be a JSON object of short strings (`token`).");
    }
    const refusal = await refusedCaller(params);
    if (refusal) return refuse(c, refusal.code, refusal.message);
    if (!ACTION_NAME.test(name)) return c.json({ ...NO_SUCH_ACTOR, message: "No such action.", group: "action" }, 404);
    // Hono's bodyLimit answers 413 without reading past the limit, and calls on only within it.
    let within = false;
    const tooLarge = await limit(c, async () => {
      within = true;
    });
    if (!within) return tooLarge ?? undefined;
    const raw = c.req.raw;
    const body = new Uint8Array(await raw.arrayBuffer());
    if (!validActionBody(encoding, body)) {
      return refuse(c, "invalid_request", `The body is not an action call in the ${encoding} encoding: \`{ args: [...] }\`.`);
    }
    // The body is read; RivetKit reads it again from a fresh request.
    c.req.raw = new Request(raw.url, { method: raw.method, headers: raw.headers, body, signal: raw.signal });
    await next();
    await rewriteError(c, encoding);
  }

  async function connect(c: Ctx, next: Next): Promise<Response | void> {
    // RivetKit itself routes only this exact value as a WebSocket.
    if (c.req.header("upgrade") !== "websocket") return refuse(c, "invalid_request", "Connect with a WebSocket upgrade.");
    const protocols = (c.req.header("sec-websocket-protocol") ?? "").split(",").map((p) => p.trim());
    const encodings = protocols.filter((p) => p.startsWith(ENCODING_PROTOCOL)).map((p) => parseEncoding(p.slice(ENCODING_PROTOCOL.length)));
    const params = protocols.filter((p) => p.startsWith(PARAMS_PROTOCOL)).map((p) => p.slice(PARAMS_PROTOCOL.length));
    const known = protocols.every((p) => p === CONNECT_PROTOCOL || p.startsWith(ENCODING_PROTOCOL) || p.startsWith(PARAMS_PROTOCOL));
    let decoded: string | undefined;
    let paramsOk = params.length <= 1;
    if (paramsOk && params[0] !== undefined) {
      try {
        decoded = decodeURIComponent(params[0]);
        paramsOk = validConnParams(decoded);
      } catch {
        paramsOk = false;
      }
    }
    if (!known || !protocols.includes(CONNECT_PROTOCOL) || encodings.length !== 1 || !encodings[0] || !paramsOk) {
      return refuse(c, "invalid_request", "WebSocket protocols must be `rivet`, one `rivet_encoding.<json|cbor|bare>` and at most one `rivet_conn_params.<JSON object>`.");
    }
    // Refused after the upgrade, as an actor refuses: the client reads the close code and reason.
    const refusal = await refusedCaller(decoded);
    if (refusal) return opts.refuseSocket(c, 4000 + ERROR_STATUS[refusal.code], `kiln.${refusal.code}`);
    await next();
    await rewriteError(c, encodings[0]);
  }

  return async (c, next) => {
    // Header-based routing would pick the actor from a header instead of the checked path.
    if (c.req.header("x-rivet-target") !== undefined || c.req.header("x-rivet-actor") !== undefined) {
      return refuse(c, "invalid_request", "Address actors by path: /gateway/<actorId>/….");
    }
    const segments = segmentsOf(c, opts.basePath);
    const method = c.req.method;
    const [first, id, kind, name, ...rest] = segments ?? [];
    if (segments?.length === 1 && first === "metadata" && method === "GET") return next();
    if (segments?.length === 1 && first === "actors") {
      if (method === "GET") return lookup(c, next);
      if (method === "PUT" || method === "POST") return refuse(c, "forbidden", "Actors are created by Kiln, not by clients.");
    }
    if (first === "gateway" && id !== undefined) {
      if (!opts.actorId.test(id)) return c.json(NO_SUCH_ACTOR, 404);
      if (kind === "action" && name !== undefined && rest.length === 0 && method === "POST") return action(c, next, name);
      if (kind === "connect" && name === undefined && method === "GET") return connect(c, next);
      if (kind === "queue") return refuse(c, "forbidden", "Queues carry Kiln's own commands; call an action instead.");
    }
    return refuse(c, "not_found", "No such route under /api/rivet.");
  };
}
