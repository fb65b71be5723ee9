import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeGitHub, type FakeGitHub, type FakeUser } from "./fakes/github.js";
import type { GitHubStatus } from "../shared/schemas/github.js";
import type { Repo } from "../shared/schemas/task.js";
import { api } from "./support/api.js";
import { deliver, githubEnv, installationCreated, signInWithGitHub } from "./support/github.js";
import { socketTransport } from "./support/http.js";
import { REPO_ROOT, seedDataDir, spawnKiln, tempDataDir, withStartups, type KilnProcess } from "./support/kiln.js";
import { until } from "./support/poll.js";

const ORG = { id: 6001, login: "globex", type: "Organization" as const };
const INSTALLATION = 8001;
const hank: FakeUser = { id: 9101, login: "hank", name: "Hank", email: "hank@globex.test" };

describe("GitHub deliveries across a restart", () => {
  let fake: FakeGitHub;
  const dataDir = tempDataDir();
  let kiln: KilnProcess | undefined;
  const start = async () => {
    kiln = await spawnKiln({
      ...githubEnv(fake),
      KILN_DATA_DIR: dataDir,
      KILN_TEST_GITHUB_FAKE: fake.url,
      NODE_OPTIONS: `--import ${join(REPO_ROOT, "test/support/github-sign-in-preload.mjs")}`,
    });
    return kiln;
  };

  beforeAll(async () => {
    seedDataDir(dataDir);
    fake = await startFakeGitHub();
    fake.addUser(hank);
    fake.addInstallation(INSTALLATION, ORG, [{ id: 401, fullName: "globex/core" }]);
    fake.setMembers("globex", [{ ...hank, role: "admin" }]);
  });
  afterAll(async () => {
    await kiln?.kill("SIGKILL");
    await fake?.close();
  });

  it("processes a delivery acknowledged just before kill -9, and still knows it after the restart", async () => {
    let k = await start();
    const token = await signInWithGitHub(k.url, hank);
    // GitHub does not answer the sync's first call before Kiln dies (if it got that far).
    fake.failNext({ path: "/installation/repositories", network: "hang" });
    const created = await deliver(k.url, "installation", installationCreated(INSTALLATION, ORG));
    expect(created.status).toBe(202);
    await k.kill("SIGKILL");
    fake.clearFailures();

    k = await start();
    const orgId = `gh-${ORG.id}`;
    const as = api(socketTransport(k.url), token);
    await until(() => as.get<{ github: GitHubStatus }>(`/v1/orgs/${orgId}/github`), (r) => r.status === 200 && r.body.github.sync.finishedAt !== null, { timeoutMs: 45_000 });
    expect((await as.get<{ repos: Repo[] }>(`/v1/orgs/${orgId}/repos`)).body.repos.map((r) => r.fullName)).toEqual(["globex/core"]);

    // GitHub redelivers it: the same delivery id after the restart is a duplicate.
    expect(await deliver(k.url, "installation", installationCreated(INSTALLATION, ORG), { id: created.id })).toMatchObject({ status: 200, body: { duplicate: true } });
  }, withStartups(2, 60_000));
});
