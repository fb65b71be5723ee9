import { timingSafeEqual } from "node:crypto";
import { UserError } from "rivetkit";
import type { z } from "zod";
import type { ErrorCode } from "../shared/errors.js";
import { actorLog, actorServices } from "./services.js";

/**
 * Connection parameters every caller presents.
 * - A browser (through `/api/rivet`) sends the user's better-auth session `token`.
 * - Kiln's own gateway and actors send `internal` (a key only Kiln processes know) and,
 *   when acting for an already-authenticated user, `actAs` with that user's id.
 */
export interface KilnConnParams {
  token?: string;
  internal?: string;
  actAs?: string;
}

/** Who is on the other end of a connection, fixed when it opens. */
export interface Caller {
  /** The user this connection acts for; null only for Kiln-internal system calls. */
  userId: string | null;
  internal: boolean;
}

export const ACTOR_ERRORS = {
  unauthorized: "unauthorized",
  forbidden: "forbidden",
  invalidRequest: "invalid_request",
  notFound: "not_found",
  conflict: "conflict",
  repoUnreachable: "repo_unreachable",
  repoNotFound: "repo_not_found",
  taskNotFound: "task_not_found",
} as const satisfies Record<string, ErrorCode>;

export function forbidden(message = "You are not a member of this organization."): UserError {
  return new UserError(message, { code: ACTOR_ERRORS.forbidden });
}

/**
 * Validates an action's input: RivetKit clients call actions directly, past the gateway's zod
 * checks, so each action parses its own input and answers `invalid_request` with the issues.
 */
export function parseInput<S extends z.ZodType>(schema: S, raw: unknown, message: string): z.output<S> {
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw new UserError(message, { code: ACTOR_ERRORS.invalidRequest, metadata: { issues: parsed.error.issues } });
  return parsed.data;
}

function sameKey(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}

/**
 * Resolves a connection's caller from its params, or throws a UserError that the client sees
 * with a stable code. Runs before any action or event reaches the connection.
 */
export async function resolveCaller(params: unknown): Promise<Caller> {
  const p = (params ?? {}) as KilnConnParams;
  const services = actorServices();
  if (typeof p.internal === "string") {
    if (!sameKey(p.internal, services.internalKey)) throw forbidden("Invalid internal credential.");
    return { userId: typeof p.actAs === "string" ? p.actAs : null, internal: true };
  }
  if (typeof p.token !== "string" || p.token.length === 0) {
    throw new UserError("Sign in first: pass your session token as the connection param `token`.", {
      code: ACTOR_ERRORS.unauthorized,
    });
  }
  const session = await services.verifySessionToken(p.token);
  if (!session) {
    throw new UserError("The session token is invalid, expired or signed out.", { code: ACTOR_ERRORS.unauthorized });
  }
  return { userId: session.userId, internal: false };
}

/** Internal params for a call Kiln makes for a user it has already authenticated. */
export function internalParams(actAs?: string): KilnConnParams {
  const key = actorServices().internalKey;
  return actAs ? { internal: key, actAs } : { internal: key };
}

/** One of RivetKit's connections, as far as closing it goes. */
interface ClosableConn {
  readonly state: unknown;
  disconnect(reason?: string): Promise<void>;
}

/** A live actor instance's connections: the `c` RivetKit hands to `createConnState` (`c.conns` is its one live map). */
export interface ConnectionHolder {
  readonly actorId: string;
  readonly conns: ReadonlyMap<string, ClosableConn>;
}

/**
 * Every actor of an org that a user connected to in this process, by org, then actor id: when a
 * member is removed, the OrganizationActor closes their connections in all of them
 * (`closeMemberConnections`), not only its own. Weak, so an actor that went to sleep is collected;
 * a woken one replaces its entry. Actors in another process (the Rivet Engine) are not here:
 * theirs are refused at the next connect, within the index's lag.
 */
const liveConnections = new Map<string, Map<string, WeakRef<ReadonlyMap<string, ClosableConn>>>>();

function trackConnections(orgId: string, holder: ConnectionHolder): void {
  let actors = liveConnections.get(orgId);
  if (!actors) liveConnections.set(orgId, (actors = new Map()));
  if (actors.get(holder.actorId)?.deref() !== holder.conns) actors.set(holder.actorId, new WeakRef(holder.conns));
}

/** The reason RivetKit closes with; the gateway turns `*.forbidden` into close code 4403 (`server/rivet-wire.ts`). */
export const MEMBER_REMOVED_REASON = "user.forbidden";

/**
 * Closes every live connection a user holds to any actor of `orgId` in this process (org, tasks,
 * sessions, workers, devices, watchers...), except `keep` (a member leaving through their own
 * connection: that call ends by itself). Call it after the removal is committed to the index,
 * so the client's reconnect is refused.
 */
export async function closeMemberConnections(orgId: string, userId: string, keep?: ClosableConn): Promise<number> {
  // A connection authorized just before the removal may join its actor's map only after this
  // sweep (RivetKit adds it once createConnState returns); a second sweep shortly after closes it,
  // and by then the call that removed a member leaving through their own connection has returned.
  setTimeout(() => sweepMemberConnections(orgId, userId).catch(() => undefined), LATE_SWEEP_MS).unref();
  return sweepMemberConnections(orgId, userId, keep);
}

const LATE_SWEEP_MS = 1_000;

async function sweepMemberConnections(orgId: string, userId: string, keep?: ClosableConn): Promise<number> {
  const actors = liveConnections.get(orgId);
  if (!actors) return 0;
  const closing: Promise<void>[] = [];
  for (const [actorId, ref] of actors) {
    const conns = ref.deref();
    if (!conns) {
      actors.delete(actorId);
      continue;
    }
    for (const conn of conns.values()) {
      const caller = conn.state as Caller | undefined;
      // Kiln's own calls made for the user (`actAs`) are one action each, checked by the gateway; only the user's own connections are closed.
      if (conn !== keep && caller?.userId === userId && !caller.internal) closing.push(conn.disconnect(MEMBER_REMOVED_REASON));
    }
  }
  if (actors.size === 0) liveConnections.delete(orgId);
  const results = await Promise.allSettled(closing);
  for (const r of results) if (r.status === "rejected") actorLog().warn({ err: r.reason, orgId }, "could not close a removed member's connection");
  return closing.length;
}

/**
 * Connection check for actors below an organization: the caller must be Kiln, or a signed-in
 * member of `orgId` according to the membership index. `orgId` comes from the actor's own state,
 * never from the caller. A user's connection is tracked so their removal closes it.
 */
export async function authorizeOrgChild(orgId: string | null, params: unknown, actor: ConnectionHolder): Promise<Caller> {
  const caller = await resolveCaller(params);
  if (caller.internal && caller.userId === null) return caller;
  if (!orgId || !caller.userId || !(await actorServices().isOrgMember(orgId, caller.userId))) throw forbidden();
  trackConnections(orgId, actor);
  return caller;
}

/** The OrganizationActor's own connections are tracked the same way, so one sweep closes them all. */
export function trackOrgConnections(orgId: string, actor: ConnectionHolder): void {
  trackConnections(orgId, actor);
}

/** `canPublish` hook: queues carry Kiln's own commands; clients act through actions, which check them. */
export function internalOnly(ctx: { conn: { state: unknown } }): boolean {
  return (ctx.conn.state as Caller | undefined)?.internal === true;
}
