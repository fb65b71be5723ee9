import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { internalParams } from "../actors/auth.js";
import { keys } from "../shared/keys.js";
import type { GitHubStatus } from "../shared/schemas/github.js";
import { startFakeGitHub, type FakeGitHub } from "./fakes/github.js";
import { deliver, example, githubEnv, installationCreated } from "./support/github.js";
import { startTestKiln, type TestKiln } from "./support/kiln.js";
import { until } from "./support/poll.js";

/**
 * The deliveries table keeps what dedupe needs and no more: a processed delivery's id for 7 days
 * (GitHub redelivers up to 3 days back), then it is pruned. Kiln runs in this process, so moving
 * this process's clock (Date only; timers stay real) moves Kiln's.
 */
const ORG = { id: 5201, login: "umbrella", type: "Organization" as const };
const INSTALLATION = 7201;

describe("GitHub delivery retention", () => {
  let fake: FakeGitHub;
  let kiln: TestKiln;
  const orgId = `gh-${ORG.id}`;
  const state = () => kiln.client.githubState.get(keys.githubState(orgId), { params: internalParams() });
  const statusOf = async (): Promise<GitHubStatus> => state().status();
  const processed = async (id: string): Promise<boolean> => (await state().deliveryStatus(id))?.status === "processed";

  beforeAll(async () => {
    fake = await startFakeGitHub();
    fake.addInstallation(INSTALLATION, ORG, [{ id: 601, fullName: "umbrella/app" }]);
    fake.setMembers(ORG.login, []);
    kiln = await startTestKiln({ env: githubEnv(fake) });
    expect((await deliver(kiln.url, "installation", installationCreated(INSTALLATION, ORG))).status).toBe(202);
    await until(statusOf, (s) => s.sync.finishedAt !== null);
  });
  afterAll(async () => {
    vi.useRealTimers();
    await kiln?.stop();
    await fake?.close();
  });

  const checkRun = () => {
    const p = example("check_run", "completed");
    p.installation = { id: INSTALLATION };
    return p;
  };

  it("dedupes a redelivery within 7 days, and forgets the id after them", async () => {
    const first = await deliver(kiln.url, "check_run", checkRun());
    expect(first.status).toBe(202);
    await until(() => processed(first.id), Boolean);
    expect((await deliver(kiln.url, "check_run", checkRun(), { id: first.id })).status).toBe(200);

    // Eight days later, another delivery's processing prunes the old record.
    vi.useFakeTimers({ toFake: ["Date"], now: Date.now() + 8 * 24 * 3600_000 });
    const later = await deliver(kiln.url, "check_run", checkRun());
    expect(later.status).toBe(202);
    await until(() => processed(later.id), Boolean);
    expect(await state().deliveryStatus(first.id)).toBeNull();
    expect(await state().deliveryStatus(later.id)).toMatchObject({ status: "processed" });
  });
});
