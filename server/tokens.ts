import { createHash, randomBytes } from "node:crypto";
import { and, desc, eq, isNull } from "drizzle-orm";
import { ForbiddenError, KilnError } from "../shared/errors.js";
import type { DevicePlatform, TokenInfo, TokenScope } from "../shared/schemas/device.js";
import type { AppDb } from "./db/index.js";
import { personalAccessToken } from "./db/device-schema.js";
import { user } from "./db/schema.js";
import type { Organizations } from "./organizations.js";

const TOKEN_PREFIX = "kiln_pat_";
/** Characters of a token shown in lists: the fixed prefix and a few random ones. */
const VISIBLE_CHARS = TOKEN_PREFIX.length + 6;

/** What a verified personal access token may do, and for whom. */
export interface TokenBinding {
  tokenId: string;
  user: { id: string; email: string; name: string };
  scopes: TokenScope[];
  orgId: string | null;
  deviceId: string | null;
  platform: DevicePlatform | null;
  expiresAt: Date | null;
}

export interface TokenCacheOptions {
  /** How long a verified token is trusted before the database is asked again (bounds out-of-band revocation only). */
  ttlMs: number;
  maxEntries: number;
}

interface Entry {
  binding: TokenBinding;
  until: number;
}

export function isPersonalAccessToken(value: string): boolean {
  return value.startsWith(TOKEN_PREFIX);
}

export function hashToken(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

function newSecret(): string {
  return `${TOKEN_PREFIX}${randomBytes(32).toString("base64url")}`;
}

type Row = typeof personalAccessToken.$inferSelect;

function info(row: Row): TokenInfo {
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    scopes: row.scopes as TokenScope[],
    orgId: row.orgId,
    deviceId: row.deviceId,
    platform: row.platform as DevicePlatform | null,
    expiresAt: row.expiresAt?.toISOString() ?? null,
    revokedAt: row.revokedAt?.toISOString() ?? null,
    createdAt: row.createdAt.toISOString(),
  };
}

/**
 * Personal access tokens: created, listed and revoked here, verified on every device poll and
 * every `/v1` request that carries one. Verified tokens are remembered in this process (hash →
 * binding), so an idle poll costs no database read; a revocation through this Kiln drops the
 * entry at once, expiry and org membership are checked on every request, and the TTL bounds only
 * a revocation made through another process.
 */
export class PersonalTokens {
  private readonly cache = new Map<string, Entry>();
  private readonly hashById = new Map<string, string>();
  /** Bumped by every revocation, so a lookup that raced with one is not cached. */
  private generation = 0;

  constructor(
    private readonly db: AppDb,
    private readonly orgs: Organizations,
    private readonly opts: TokenCacheOptions,
  ) {}

  async create(
    userId: string,
    input: { name: string; scopes: TokenScope[]; orgId?: string | null; expiresInDays?: number; deviceId?: string; platform?: DevicePlatform },
  ): Promise<TokenInfo & { token: string }> {
    if (input.orgId && !(await this.orgs.isMember(input.orgId, userId))) throw new ForbiddenError("You are not a member of this organization.");
    const token = newSecret();
    const [row] = await this.db
      .insert(personalAccessToken)
      .values({
        id: `pat_${randomBytes(9).toString("hex")}`,
        userId,
        name: input.name,
        prefix: token.slice(0, VISIBLE_CHARS),
        tokenHash: hashToken(token),
        scopes: [...new Set(input.scopes)],
        orgId: input.orgId ?? null,
        deviceId: input.deviceId ?? null,
        platform: input.platform ?? null,
        expiresAt: input.expiresInDays ? new Date(Date.now() + input.expiresInDays * 86_400_000) : null,
      })
      .returning();
    if (!row) throw new Error("token insert returned no row");
    return { ...info(row), token };
  }

  async list(userId: string): Promise<TokenInfo[]> {
    const rows = await this.db.select().from(personalAccessToken).where(eq(personalAccessToken.userId, userId)).orderBy(desc(personalAccessToken.createdAt)).limit(500);
    return rows.map(info);
  }

  /** Revokes one of the user's tokens; effective on this process's next request. */
  async revoke(userId: string, tokenId: string): Promise<void> {
    if (!/^pat_[0-9a-f]{18}$/.test(tokenId)) throw new KilnError("token_not_found", "No such token.");
    const rows = await this.db
      .update(personalAccessToken)
      .set({ revokedAt: new Date() })
      .where(and(eq(personalAccessToken.id, tokenId), eq(personalAccessToken.userId, userId)))
      .returning({ id: personalAccessToken.id });
    this.forget([tokenId]);
    if (rows.length === 0) throw new KilnError("token_not_found", "No such token.");
  }

  /** Revokes every token bound to a device (the device was deleted). */
  async revokeForDevice(deviceId: string): Promise<void> {
    const rows = await this.db
      .update(personalAccessToken)
      .set({ revokedAt: new Date() })
      .where(and(eq(personalAccessToken.deviceId, deviceId), isNull(personalAccessToken.revokedAt)))
      .returning({ id: personalAccessToken.id });
    this.forget(rows.map((r) => r.id));
  }

  /**
   * `resolve` answered from memory alone: the binding or null when the token and its user's
   * memberships are cached, undefined when `resolve` must ask the database. An idle device poll
   * takes this path, with no promise.
   */
  resolveCached(token: string): TokenBinding | null | undefined {
    if (!isPersonalAccessToken(token) || token.length > 200) return null;
    const hit = this.cache.get(hashToken(token));
    const now = Date.now();
    if (!hit || hit.until <= now) return undefined;
    const binding = hit.binding;
    if (binding.expiresAt && binding.expiresAt.getTime() <= now) return null;
    if (!binding.orgId) return binding;
    const member = this.orgs.isMemberCached(binding.orgId, binding.user.id);
    return member === undefined ? undefined : member ? binding : null;
  }

  /** The binding of a live token, or null for an unknown, revoked or expired one. */
  async resolve(token: string): Promise<TokenBinding | null> {
    if (!isPersonalAccessToken(token) || token.length > 200) return null;
    const hash = hashToken(token);
    const now = Date.now();
    const hit = this.cache.get(hash);
    let binding: TokenBinding | null;
    if (hit && hit.until > now) {
      binding = hit.binding;
    } else {
      if (hit) this.drop(hash);
      const generation = this.generation;
      binding = await this.lookup(hash);
      if (binding && generation === this.generation) this.store(hash, binding, now);
    }
    if (!binding || (binding.expiresAt && binding.expiresAt.getTime() <= Date.now())) return null;
    // A token limited to an org stops working when its user leaves the org: asked on every request
    // of the membership index, which is memory on a hit and dropped by the OrganizationActor on a change.
    if (binding.orgId && !(await this.orgs.isMember(binding.orgId, binding.user.id))) return null;
    return binding;
  }

  private async lookup(hash: string): Promise<TokenBinding | null> {
    const [row] = await this.db
      .select({ t: personalAccessToken, u: { id: user.id, email: user.email, name: user.name } })
      .from(personalAccessToken)
      .innerJoin(user, eq(user.id, personalAccessToken.userId))
      .where(eq(personalAccessToken.tokenHash, hash))
      .limit(1);
    if (!row || row.t.revokedAt || (row.t.expiresAt && row.t.expiresAt.getTime() <= Date.now())) return null;
    return {
      tokenId: row.t.id,
      user: row.u,
      scopes: row.t.scopes as TokenScope[],
      orgId: row.t.orgId,
      deviceId: row.t.deviceId,
      platform: row.t.platform as DevicePlatform | null,
      expiresAt: row.t.expiresAt,
    };
  }

  private forget(tokenIds: string[]): void {
    this.generation++;
    for (const id of tokenIds) {
      const hash = this.hashById.get(id);
      if (hash) this.drop(hash);
    }
  }

  private store(hash: string, binding: TokenBinding, now: number): void {
    this.drop(hash);
    while (this.cache.size >= this.opts.maxEntries) {
      const oldest = this.cache.keys().next().value;
      if (oldest === undefined) break;
      this.drop(oldest);
    }
    this.cache.set(hash, { binding, until: now + this.opts.ttlMs });
    this.hashById.set(binding.tokenId, hash);
  }

  private drop(hash: string): void {
    const entry = this.cache.get(hash);
    if (!entry) return;
    this.cache.delete(hash);
    this.hashById.delete(entry.binding.tokenId);
  }
}
