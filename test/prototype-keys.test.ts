import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { OrgSummary } from "../shared/schemas/org.js";
import { api } from "./support/api.js";
import { signUp, socketTransport } from "./support/http.js";
import { startTestKiln, type TestKiln } from "./support/kiln.js";

/** Enumerable keys on Object.prototype: Kiln runs in this process, so a polluting write shows here. */
function pollution(): string[] {
  const keys: string[] = [];
  for (const key in {}) keys.push(key);
  return keys;
}

/**
 * Actor state keeps members, agents and invitations in plain objects keyed by ids a client
 * names. `__proto__`, `constructor` and `prototype` name nothing there.
 */
describe("ids that name Object's own properties", () => {
  let kiln: TestKiln;
  let A: ReturnType<typeof api>;
  let personal: string;
  let team: string;

  beforeAll(async () => {
    kiln = await startTestKiln();
    const ann = await signUp(socketTransport(kiln.url));
    A = api(socketTransport(kiln.url), ann.token);
    personal = `personal-${ann.user.id}`;
    team = (await A.post<{ organization: OrgSummary }>("/v1/orgs", { name: "Team" })).body.organization.id;
  });
  afterAll(async () => {
    for (const key of pollution()) delete (Object.prototype as Record<string, unknown>)[key];
    await kiln?.stop();
  });

  it("find no agent, member or invitation, and change no object in the process", async () => {
    for (const id of ["__proto__", "constructor", "prototype", "hasOwnProperty"]) {
      const agent = await A.patch(`/v1/orgs/${personal}/agents/${id}`, { name: "x", kind: "claude", instructions: "x" });
      expect(agent.status, `agent ${id}`).toBe(404);
      expect(agent.body).toMatchObject({ error: "agent_not_found" });
      expect((await A.del(`/v1/orgs/${personal}/agents/${id}`)).status).toBe(404);
      const member = await A.patch(`/v1/orgs/${team}/members/${id}`, { role: "member" });
      expect(member.status, `member ${id}`).toBe(404);
      expect(member.body).toMatchObject({ error: "member_not_found" });
      expect((await A.del(`/v1/orgs/${team}/invitations/${id}`)).body).toMatchObject({ error: "invitation_not_found" });
      expect(pollution()).toEqual([]);
    }
  });
});
