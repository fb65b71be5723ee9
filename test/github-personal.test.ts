import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { internalParams } from "../actors/auth.js";
import { keys } from "../shared/keys.js";
import type { GitHubStatus } from "../shared/schemas/github.js";
import type { Repo } from "../shared/schemas/task.js";
import { startFakeGitHub, type FakeGitHub, type FakeUser } from "./fakes/github.js";
import { api } from "./support/api.js";
import { deliver, example, githubEnv, installationCreated, redirectGitHubSignIn, signInWithGitHub } from "./support/github.js";
import { socketTransport } from "./support/http.js";
import { startTestKiln, type TestKiln } from "./support/kiln.js";
import { until } from "./support/poll.js";

/**
 * An installation on a personal GitHub account attaches to the personal org of the Kiln user who
 * signed in with that account, or to a `gh-<id>` org until that user arrives, then moves.
 */

const dan: FakeUser = { id: 9401, login: "dan", name: "Dan", email: "dan@example.test" };
const eve: FakeUser = { id: 9402, login: "eve", name: "Eve", email: "eve@example.test" };

describe("installations on a personal GitHub account", () => {
  let fake: FakeGitHub;
  let kiln: TestKiln;
  let undoRedirect: () => void;
  const as = (token: string) => api(socketTransport(kiln.url), token);
  const githubStatus = async (orgId: string): Promise<GitHubStatus> => kiln.client.githubState.get(keys.githubState(orgId), { params: internalParams() }).status();
  const personalOf = async (token: string) => `personal-${(await as(token).get<{ user: { id: string } }>("/v1/me")).body.user.id}`;
  const repoNames = async (token: string, orgId: string) => (await as(token).get<{ repos: Repo[] }>(`/v1/orgs/${orgId}/repos`)).body.repos?.map((r) => `${r.fullName}:${r.source}`) ?? [];

  beforeAll(async () => {
    fake = await startFakeGitHub();
    for (const u of [dan, eve]) fake.addUser(u);
    fake.addInstallation(7401, { id: dan.id, login: dan.login, type: "User" }, [{ id: 501, fullName: "dan/tool" }]);
    fake.addInstallation(7402, { id: eve.id, login: eve.login, type: "User" }, [{ id: 502, fullName: "eve/notes" }]);
    undoRedirect = redirectGitHubSignIn(fake);
    kiln = await startTestKiln({ env: githubEnv(fake) });
  });
  afterAll(async () => {
    undoRedirect?.();
    await kiln?.stop();
    await fake?.close();
  });

  it("goes straight to the personal org of the Kiln user who signed in with the account", async () => {
    const eveToken = await signInWithGitHub(kiln.url, eve);
    const personal = await personalOf(eveToken);
    expect((await deliver(kiln.url, "installation", installationCreated(7402, { id: eve.id, login: eve.login, type: "User" }))).status).toBe(202);
    await until(() => repoNames(eveToken, personal), (r) => r.includes("eve/notes:github"));
    const me = await as(eveToken).get<{ organizations: { id: string }[] }>("/v1/me");
    expect(me.body.organizations.map((o) => o.id)).toEqual([personal]);
    expect((await as(eveToken).get<{ github: GitHubStatus }>(`/v1/orgs/${personal}/github`)).body.github).toMatchObject({ status: "connected", installation: { id: 7402 } });
  });

  it("waits in gh-<id> until the user arrives, then moves to their personal org", async () => {
    expect((await deliver(kiln.url, "installation", installationCreated(7401, { id: dan.id, login: dan.login, type: "User" }))).status).toBe(202);
    const waiting = `gh-${dan.id}`;
    await until(() => githubStatus(waiting), (s) => s.status === "connected" && s.sync.finishedAt !== null && s.sync.repositories === 1);

    const danToken = await signInWithGitHub(kiln.url, dan);
    const personal = await personalOf(danToken);
    await until(() => repoNames(danToken, personal), (r) => r.includes("dan/tool:github"));
    expect((await as(danToken).get<{ github: GitHubStatus }>(`/v1/orgs/${personal}/github`)).body.github).toMatchObject({ status: "connected", installation: { id: 7401, account: { login: "dan" } } });
    // The waiting org let go: disconnected, its repositories hidden, and Dan was never made its member.
    expect(await githubStatus(waiting)).toMatchObject({ status: "disconnected", message: expect.stringContaining(personal) });
    const me = await as(danToken).get<{ organizations: { id: string }[] }>("/v1/me");
    expect(me.body.organizations.map((o) => o.id)).toEqual([personal]);
    expect((await as(danToken).get(`/v1/orgs/${waiting}/repos`)).status).toBe(403);

    // Later deliveries for the installation go to the personal org.
    const added = example("installation_repositories", "added");
    added.installation = { id: 7401 };
    added.repositories_added = [{ id: 503, full_name: "dan/site", private: false }];
    fake.setRepos(7401, [{ id: 501, fullName: "dan/tool" }, { id: 503, fullName: "dan/site" }]);
    expect((await deliver(kiln.url, "installation_repositories", added)).status).toBe(202);
    await until(() => repoNames(danToken, personal), (r) => r.includes("dan/site:github"));

    // A second sign-in moves nothing again.
    await signInWithGitHub(kiln.url, dan);
    expect((await as(danToken).get<{ github: GitHubStatus }>(`/v1/orgs/${personal}/github`)).body.github.status).toBe("connected");
  });
});
