/** How often one address may call better-auth's POST routes (sign-in, sign-up, password changes…). */
export const ADDRESS_LIMIT = { max: 30, windowMs: 60_000 };
/** Failed sign-ins to one account from one address before that address must wait. */
export const ACCOUNT_ADDRESS_LIMIT = { max: 5, windowMs: 15 * 60_000 };
/**
 * Failed sign-ins to one account from everywhere before every address that has already failed on
 * it must wait. An address with no failures on the account may still try, so a correct password
 * from elsewhere always gets in.
 */
export const ACCOUNT_LIMIT = { max: 50, windowMs: 15 * 60_000 };
/** Counters kept at most; past it, expired ones are dropped and then the oldest. */
const MAX_KEYS = 100_000;

interface Window {
  count: number;
  resetAt: number;
}

/** Fixed-window counters by key, bounded in size. */
class Counters {
  private readonly windows = new Map<string, Window>();

  constructor(private readonly windowMs: number) {}

  count(key: string, now: number): number {
    const w = this.windows.get(key);
    return w && w.resetAt > now ? w.count : 0;
  }

  /** Seconds until the key's window ends. */
  retryAfter(key: string, now: number): number {
    const w = this.windows.get(key);
    return w ? Math.max(1, Math.ceil((w.resetAt - now) / 1000)) : 1;
  }

  hit(key: string, now: number): void {
    const w = this.windows.get(key);
    if (w && w.resetAt > now) {
      w.count += 1;
      return;
    }
    if (this.windows.size >= MAX_KEYS) this.evict(now);
    this.windows.set(key, { count: 1, resetAt: now + this.windowMs });
  }

  clear(key: string): void {
    this.windows.delete(key);
  }

  private evict(now: number): void {
    for (const [k, w] of this.windows) if (w.resetAt <= now) this.windows.delete(k);
    // Still full: drop the oldest (Map keeps insertion order).
    for (const k of this.windows.keys()) {
      if (this.windows.size < MAX_KEYS) break;
      this.windows.delete(k);
    }
  }
}

export type Refusal = { retryAfterSeconds: number; reason: "address" | "account" };

/**
 * Limits on better-auth's routes, per address and per account. They are counted in this process:
 * Kiln processes sharing a database each count their own.
 */
export class AuthLimits {
  private readonly byAddress = new Counters(ADDRESS_LIMIT.windowMs);
  private readonly failuresByPair = new Counters(ACCOUNT_ADDRESS_LIMIT.windowMs);
  private readonly failuresByAccount = new Counters(ACCOUNT_LIMIT.windowMs);

  constructor(private readonly now: () => number = Date.now) {}

  /** Counts one attempt from `address`; refuses it once the address has used its share. */
  attempt(address: string): Refusal | null {
    const now = this.now();
    if (this.byAddress.count(address, now) >= ADDRESS_LIMIT.max) {
      return { retryAfterSeconds: this.byAddress.retryAfter(address, now), reason: "address" };
    }
    this.byAddress.hit(address, now);
    return null;
  }

  /** Whether `address` may try a password for `email` now. */
  checkSignIn(email: string, address: string): Refusal | null {
    const now = this.now();
    const pair = `${email}\n${address}`;
    const pairFailures = this.failuresByPair.count(pair, now);
    if (pairFailures >= ACCOUNT_ADDRESS_LIMIT.max) return { retryAfterSeconds: this.failuresByPair.retryAfter(pair, now), reason: "account" };
    if (pairFailures > 0 && this.failuresByAccount.count(email, now) >= ACCOUNT_LIMIT.max) {
      return { retryAfterSeconds: this.failuresByAccount.retryAfter(email, now), reason: "account" };
    }
    return null;
  }

  signInFailed(email: string, address: string): void {
    const now = this.now();
    this.failuresByPair.hit(`${email}\n${address}`, now);
    this.failuresByAccount.hit(email, now);
  }

  /** A correct password from `address` clears that address's failures on the account (not others'). */
  signInSucceeded(email: string, address: string): void {
    this.failuresByPair.clear(`${email}\n${address}`);
  }
}
