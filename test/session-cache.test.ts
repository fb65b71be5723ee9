import { describe, expect, it, vi } from "vitest";
import { SessionCache, type ResolvedSession } from "../server/session-cache.js";

function session(token: string, userId = "u1", expiresInMs = 3_600_000): ResolvedSession {
  return {
    user: { id: userId, email: `${userId}@example.com`, name: userId },
    session: { id: `s-${token}`, token, userId, expiresAt: new Date(Date.now() + expiresInMs) },
  };
}

/** A lookup that counts its calls, answering with `value`. */
function counted(value: () => ResolvedSession | null) {
  const lookup = async () => {
    lookup.calls++;
    return value();
  };
  lookup.calls = 0;
  return lookup;
}

describe("SessionCache", () => {
  it("verifies a credential once, then answers from memory until it is forgotten", async () => {
    const cache = new SessionCache({ ttlMs: 60_000, maxEntries: 10 });
    const lookup = counted(() => session("t1"));
    expect((await cache.resolve("t1", lookup))?.user.id).toBe("u1");
    await cache.resolve("t1", lookup);
    expect(lookup.calls).toBe(1);
    cache.forgetToken("t1");
    await cache.resolve("t1", lookup);
    expect(lookup.calls).toBe(2);
    cache.forgetUser("u1");
    await cache.resolve("t1", lookup);
    expect(lookup.calls).toBe(3);
  });

  it("does not keep a lookup that raced with a revocation", async () => {
    const cache = new SessionCache({ ttlMs: 60_000, maxEntries: 10 });
    let release: () => void = () => {};
    const slow = async () => {
      await new Promise<void>((r) => (release = r));
      return session("t1");
    };
    const pending = cache.resolve("t1", slow);
    cache.forgetToken("t1"); // the sign-out lands while the lookup is still reading the old row
    release();
    expect(await pending).not.toBeNull();
    const after = counted(() => null);
    expect(await cache.resolve("t1", after)).toBeNull();
    expect(after.calls).toBe(1);
  });

  it("never caches a refusal, a session past its expiry, or beyond its size", async () => {
    const cache = new SessionCache({ ttlMs: 60_000, maxEntries: 2 });
    const refused = counted(() => null);
    await cache.resolve("bad", refused);
    await cache.resolve("bad", refused);
    expect(refused.calls).toBe(2);
    const expired = counted(() => session("old", "u1", -1));
    await cache.resolve("old", expired);
    await cache.resolve("old", expired);
    expect(expired.calls).toBe(2);
    for (const t of ["a", "b", "c"]) await cache.resolve(t, counted(() => session(t)));
    expect(cache.size).toBe(2);
    const first = counted(() => session("a"));
    await cache.resolve("a", first); // the oldest was dropped, so it is verified again
    expect(first.calls).toBe(1);
  });

  it("asks again once the TTL has passed", async () => {
    const cache = new SessionCache({ ttlMs: 20, maxEntries: 10 });
    const lookup = counted(() => session("t1"));
    await cache.resolve("t1", lookup);
    // The clock moves past the TTL; nothing else needs to wait for it.
    vi.useFakeTimers({ toFake: ["Date"] });
    try {
      vi.setSystemTime(Date.now() + 40);
      await cache.resolve("t1", lookup);
    } finally {
      vi.useRealTimers();
    }
    expect(lookup.calls).toBe(2);
  });
});
