import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createKilnClient } from "../shared/client.js";
import { signUp, socketTransport, type SignedUp } from "./support/http.js";
import { startTestKiln, type TestKiln } from "./support/kiln.js";
import { until } from "./support/poll.js";
import { countingProxy, type CountingProxy } from "./support/rivet.js";

/**
 * RivetKit's client retries a refused connection from 250 ms on, doubling; a subscription that
 * kept retrying would have connected again three times within this window.
 */
const RETRY_WINDOW_MS = 2_000;

const codeOf = (e: unknown) => (e as { code?: string }).code;

describe("a subscription through shared/client.ts that is refused", () => {
  let kiln: TestKiln;
  let proxy: CountingProxy;
  let owner: SignedUp;
  let member: SignedUp;
  let orgId: string;

  beforeAll(async () => {
    kiln = await startTestKiln();
    proxy = await countingProxy(kiln.url);
    const t = socketTransport(kiln.url);
    owner = await signUp(t, { name: "Olive" });
    member = await signUp(t, { name: "Mia" });
    orgId = `personal-${owner.user.id}`;
  });
  afterAll(async () => {
    await proxy?.close();
    await kiln?.stop();
  });

  it("reports unauthorized once and never connects, for a token that is not a session", async () => {
    const client = createKilnClient({ baseUrl: proxy.url, token: "forged" });
    const errors: unknown[] = [];
    let opened = 0;
    const before = proxy.connects();
    const stop = client.subscribeOrganization(orgId, { onOpen: () => (opened += 1), onError: (e) => errors.push(e) });
    try {
      await until(async () => errors.length, (n) => n > 0);
      await new Promise((r) => setTimeout(r, RETRY_WINDOW_MS));
      expect(errors.map(codeOf)).toEqual(["unauthorized"]);
      expect(opened).toBe(0);
      expect(proxy.connects()).toBe(before);
    } finally {
      await stop();
      await client.dispose();
    }
  });

  it("reports forbidden once and stops reconnecting when the member is removed", async () => {
    await kiln.organizations.upsertMember(orgId, { userId: member.user.id, name: "Mia", email: member.user.email, role: "member" });
    const client = createKilnClient({ baseUrl: proxy.url, token: member.token });
    const errors: unknown[] = [];
    let opened = 0;
    const stop = client.subscribeOrganization(orgId, { onOpen: () => (opened += 1), onError: (e) => errors.push(e) });
    try {
      await until(async () => opened, (n) => n === 1, { timeoutMs: 15_000 });
      const connects = proxy.connects();
      await kiln.organizations.removeMember(orgId, member.user.id);
      await until(async () => errors.length, (n) => n > 0, { timeoutMs: 15_000 });
      await new Promise((r) => setTimeout(r, RETRY_WINDOW_MS));
      expect(errors.map(codeOf)).toEqual(["forbidden"]);
      expect(proxy.connects()).toBe(connects);
    } finally {
      await stop();
      await client.dispose();
    }
  });
});
