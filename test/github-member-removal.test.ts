import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { keys } from "../shared/keys.js";
import type { TaskSummary } from "../shared/schemas/task.js";
import { startFakeGitHub, type FakeGitHub, type FakeUser } from "./fakes/github.js";
import { api } from "./support/api.js";
import { deliver, example, githubEnv, installationCreated, redirectGitHubSignIn, signInWithGitHub } from "./support/github.js";
import { makeBareRepo } from "./support/git.js";
import { socketTransport } from "./support/http.js";
import { startTestKiln, type TestKiln } from "./support/kiln.js";
import { until } from "./support/poll.js";

/**
 * A removed member loses every live subscription in the org at once, not only the org's own:
 * their task, session and worker connections close with the auth close code, and their next
 * call to any of those actors is refused. Removal by GitHub (`member_removed`) and by an owner
 * (`DELETE /v1/orgs/:orgId/members/:userId`).
 */

const ORG = { id: 5101, login: "initech", type: "Organization" as const };
const INSTALLATION = 7101;
const ann: FakeUser = { id: 9101, login: "ann", name: "Ann", email: "ann@initech.test" };
const ben: FakeUser = { id: 9102, login: "ben", name: "Ben", email: "ben@initech.test" };

type SocketEnd = { code: number; reason: string };

/** A read action of each actor, to try after the removal. */
const READ_ACTION: Record<string, string> = { organization: "summary", task: "view", taskSession: "view", worker: "view", githubState: "status" };

interface OpenSocket {
  name: string;
  actorId: string;
  ended: Promise<SocketEnd>;
}

describe("removing a member closes all of their live subscriptions in the org", () => {
  let fake: FakeGitHub;
  let kiln: TestKiln;
  let undoRedirect: () => void;
  let annToken: string;
  let benToken: string;
  const remote = makeBareRepo("initech-api");
  const ghOrg = `gh-${ORG.id}`;
  const as = (token: string) => api(socketTransport(kiln.url), token);
  const sockets: WebSocket[] = [];

  beforeAll(async () => {
    fake = await startFakeGitHub();
    for (const u of [ann, ben]) fake.addUser(u);
    fake.addInstallation(INSTALLATION, ORG, [{ id: 401, fullName: "initech/api", defaultBranch: "main", cloneUrl: remote }]);
    fake.setMembers(ORG.login, [
      { ...ann, role: "admin" },
      { ...ben, role: "member" },
    ]);
    undoRedirect = redirectGitHubSignIn(fake);
    kiln = await startTestKiln({ env: githubEnv(fake) });
    annToken = await signInWithGitHub(kiln.url, ann);
    benToken = await signInWithGitHub(kiln.url, ben);
  });
  afterAll(async () => {
    for (const ws of sockets) ws.terminate();
    undoRedirect?.();
    await kiln?.stop();
    await fake?.close();
  });

  async function actorId(name: string, key: string[], token: string): Promise<string> {
    const res = await fetch(`${kiln.url}/api/rivet/actors?name=${name}&key=${encodeURIComponent(key.join("/"))}`, { headers: { authorization: `Bearer ${token}` } });
    if (res.status !== 200) throw new Error(`${name}: the lookup answered ${res.status}`);
    const id = ((await res.json()) as { actors: { actor_id: string }[] }).actors[0]?.actor_id;
    if (!id) throw new Error(`no ${name} actor at ${key.join("/")}`);
    return id;
  }

  /** A raw subscription, as the RivetKit client opens one; resolves once the actor accepted it (its first message). */
  async function subscribe(name: string, key: string[], token: string): Promise<OpenSocket> {
    const id = await actorId(name, key, token);
    const ws = new WebSocket(`${kiln.url.replace(/^http/, "ws")}/api/rivet/gateway/${id}/connect`, [
      "rivet",
      "rivet_encoding.json",
      `rivet_conn_params.${encodeURIComponent(JSON.stringify({ token }))}`,
    ]);
    sockets.push(ws);
    ws.on("error", () => {});
    const ended = new Promise<SocketEnd>((resolve) => ws.on("close", (code, reason) => resolve({ code, reason: reason.toString() })));
    const accepted = await Promise.race([new Promise<boolean>((resolve) => ws.once("message", () => resolve(true))), ended.then(() => false)]);
    if (!accepted) throw new Error(`${name}: the subscription was refused: ${JSON.stringify(await ended)}`);
    return { name, actorId: id, ended };
  }

  /** An action call straight to the actor through the gateway, as the client makes one. */
  async function action(id: string, name: string, token: string): Promise<number> {
    const res = await fetch(`${kiln.url}/api/rivet/gateway/${id}/action/${name}`, {
      method: "POST",
      headers: { "x-rivet-encoding": "json", "x-rivet-conn-params": JSON.stringify({ token }) },
      body: JSON.stringify({ args: [] }),
    });
    await res.body?.cancel();
    return res.status;
  }

  /** Ben subscribes to the org, a task, its session, a worker and the org's GitHub state. */
  async function subscribeEverywhere(orgId: string, task: TaskSummary): Promise<{ sockets: OpenSocket[]; bystander: OpenSocket }> {
    const session = await as(benToken).post<{ session: { id: string } }>(`/v1/orgs/${orgId}/tasks/${task.id}/sessions`, { agent: "mock" });
    expect(session.status).toBe(202);
    const worker = await as(benToken).post<{ worker: { id: string } }>("/v1/workers", { name: "ben-box", destination: "local", orgId, workspacePath: "/tmp/ben" });
    expect(worker.status).toBe(201);
    const opened = [
      await subscribe("organization", keys.organization(orgId), benToken),
      await subscribe("task", keys.task(orgId, task.repoId, task.id), benToken),
      await subscribe("taskSession", keys.session(orgId, task.repoId, task.id, session.body.session.id), benToken),
      await subscribe("worker", keys.worker(orgId, worker.body.worker.id), benToken),
    ];
    if (orgId === ghOrg) opened.push(await subscribe("githubState", keys.githubState(orgId), benToken));
    // Ann's own subscription to the same task stays open.
    const bystander = await subscribe("task", keys.task(orgId, task.repoId, task.id), annToken);
    return { sockets: opened, bystander };
  }

  async function expectAllClosedAndRefused(opened: OpenSocket[], bystander: OpenSocket, taskKey: string[]): Promise<void> {
    const ends = await Promise.all(opened.map(async (s) => [s.name, await s.ended] as const));
    expect(ends).toEqual(opened.map((s) => [s.name, { code: 4403, reason: "user.forbidden" }]));
    // The next call to each of those actors is refused, and so is a new subscription.
    for (const s of opened) expect([s.name, await action(s.actorId, READ_ACTION[s.name]!, benToken)]).toEqual([s.name, 403]);
    // (The gateway's lookup already refuses a non-member: 403 before any socket opens.)
    await expect(subscribe("task", taskKey, benToken)).rejects.toThrow(/403/);
    // Nobody else's connection was touched: Ann's still answers.
    expect(await Promise.race([bystander.ended, new Promise((r) => setTimeout(() => r("open"), 50))])).toBe("open");
    expect(await action(bystander.actorId, "view", annToken)).toBe(200);
  }

  it("by GitHub: member_removed closes Ben's org, task, session, worker and GitHub subscriptions", async () => {
    expect((await deliver(kiln.url, "installation", installationCreated(INSTALLATION, ORG))).status).toBe(202);
    await until(() => as(benToken).get(`/v1/orgs/${ghOrg}/repos`), (r) => r.status === 200 && JSON.stringify(r.body).includes("initech/api"));
    const task = await as(benToken).createTask(ghOrg, { repoId: "gh-401", prompt: "Fix the build" });
    expect((await as(benToken).settled(ghOrg, task.id)).task.lifecycle.state).toBe("ready");
    const { sockets: opened, bystander } = await subscribeEverywhere(ghOrg, task);

    const removed = example("organization", "member_added");
    removed.action = "member_removed";
    removed.installation = { id: INSTALLATION };
    (removed.membership as { user: unknown }).user = { id: ben.id, login: ben.login };
    expect((await deliver(kiln.url, "organization", removed)).status).toBe(202);

    await expectAllClosedAndRefused(opened, bystander, keys.task(ghOrg, task.repoId, task.id));
    expect((await as(benToken).get(`/v1/orgs/${ghOrg}/tasks/${task.id}`)).status).toBe(403);
  });

  it("by an owner: DELETE on the members route closes Ben's org, task, session and worker subscriptions", async () => {
    const team = await as(annToken).post<{ organization: { id: string } }>("/v1/orgs", { name: "Initech team" });
    const orgId = team.body.organization.id;
    const inv = await as(annToken).post<{ invitation: { id: string } }>(`/v1/orgs/${orgId}/invitations`, { email: ben.email, role: "member" });
    expect((await as(benToken).post(`/v1/invitations/${inv.body.invitation.id}/accept`)).status).toBe(200);
    const repoId = await as(annToken).addRepo(orgId, makeBareRepo("team-repo"));
    const task = await as(benToken).createTask(orgId, { repoId, prompt: "Tidy up" });
    expect((await as(benToken).settled(orgId, task.id)).task.lifecycle.state).toBe("ready");
    const { sockets: opened, bystander } = await subscribeEverywhere(orgId, task);

    expect((await as(annToken).del(`/v1/orgs/${orgId}/members/${(await as(benToken).get<{ user: { id: string } }>("/v1/me")).body.user.id}`)).status).toBe(204);

    await expectAllClosedAndRefused(opened, bystander, keys.task(orgId, task.repoId, task.id));
    expect((await as(benToken).get(`/v1/orgs/${orgId}/tasks/${task.id}`)).status).toBe(403);
  });
});
