import { rmSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createKilnClient, type KilnClient, type Unsubscribe } from "../shared/client.js";
import type { TaskUnread } from "../shared/schemas/task.js";
import { makeBareRepo } from "./support/git.js";
import { signUp, socketTransport, type SignedUp } from "./support/http.js";
import { seedDataDir, startTestKiln, tempDataDir, type TestKiln } from "./support/kiln.js";
import { until } from "./support/poll.js";

/** Unread dots in the org's task list: each member's own, pushed up by the TaskActor, sent to that member only. */
describe("unread marks in the task list, per member", () => {
  let kiln: TestKiln;
  let ann: SignedUp;
  let ben: SignedUp;
  let A: KilnClient;
  let B: KilnClient;
  const stops: Unsubscribe[] = [];

  beforeAll(async () => {
    kiln = await startTestKiln();
    const t = socketTransport(kiln.url);
    [ann, ben] = [await signUp(t, { name: "Ann" }), await signUp(t, { name: "Ben" })];
    A = createKilnClient({ baseUrl: kiln.url, token: ann.token });
    B = createKilnClient({ baseUrl: kiln.url, token: ben.token });
  });
  afterAll(async () => {
    for (const stop of stops) await stop();
    await A?.dispose();
    await B?.dispose();
    await kiln?.stop();
  });

  /** A's and B's live unread events for the org, from the moment the subscription is open. */
  async function listen(client: KilnClient, orgId: string): Promise<TaskUnread[]> {
    const heard: TaskUnread[] = [];
    let open = false;
    stops.push(client.subscribeOrganization(orgId, { onOpen: () => (open = true), onTaskUnread: (e) => heard.push(e) }));
    await until(async () => open, (o) => o);
    return heard;
  }

  const unreadIn = async (client: KilnClient, orgId: string, taskId: string) => (await client.listTasks(orgId)).tasks.find((t) => t.id === taskId)?.unread;

  it("gives B the dot on A's turn, not A; B reading clears B's dot only; nobody hears another's marks", { timeout: 120_000 }, async () => {
    const team = await A.createOrg("Dots");
    const invitation = await A.invite(team.id, ben.user.email);
    await B.acceptInvitation(invitation.id);
    const repo = await A.addRepo(team.id, makeBareRepo("dots"));
    const created = await A.createTask(team.id, { repoId: repo.id, prompt: "Dots please" });
    expect((await A.listTasks(team.id)).tasks.find((t) => t.id === created.id)).toMatchObject({ id: created.id, unread: false });
    await until(() => A.getTask(team.id, created.id), (v) => v.task.lifecycle.state === "ready", { timeoutMs: 60_000 });

    const annHeard = await listen(A, team.id);
    const benHeard = await listen(B, team.id);

    const session = await A.openSession(team.id, created.id, { agent: "mock" });
    const ref = { orgId: team.id, taskId: created.id, sessionId: session.id };
    await until(() => A.getSession(ref), (s) => s.status === "ready", { timeoutMs: 30_000 });
    await A.sendMessage(team.id, created.id, session.id, "hello team");

    // Ben hears his mark and the list answers it for him; Ann, who sent the turn, has none.
    await until(async () => benHeard.some((e) => e.taskId === created.id && e.unread), (x) => x, { timeoutMs: 30_000 });
    expect(await unreadIn(B, team.id, created.id)).toBe(true);
    expect(await unreadIn(A, team.id, created.id)).toBe(false);
    // The transcript names who sent the message, for the page to show their name.
    const events = (await B.sessionEvents(team.id, created.id, session.id)).events;
    expect(events.find((e) => e.kind === "user_message")).toMatchObject({ text: "hello team", author: ann.user.id });
    expect(events.filter((e) => e.kind !== "user_message").every((e) => e.author === null)).toBe(true);

    // Ann marks it unread for herself: only her connection hears it, Ben's dot stays.
    await A.markUnread(ref);
    await until(async () => annHeard.some((e) => e.taskId === created.id && e.unread), (x) => x);
    expect(await unreadIn(A, team.id, created.id)).toBe(true);
    await A.markRead(ref);
    await until(async () => annHeard.some((e) => e.taskId === created.id && !e.unread), (x) => x);

    // Ben opens the session (the page marks it read): his dot clears, Ann's stays as it was.
    const benEventsBefore = benHeard.length;
    await B.markRead(ref);
    await until(async () => benHeard.slice(benEventsBefore).some((e) => e.taskId === created.id && !e.unread), (x) => x);
    expect(await unreadIn(B, team.id, created.id)).toBe(false);
    expect(await unreadIn(A, team.id, created.id)).toBe(false);

    // Each heard exactly their own changes, in order, with growing revisions.
    expect(benHeard.map((e) => e.unread)).toEqual([true, false]);
    expect(annHeard.map((e) => e.unread)).toEqual([true, false]);
    for (const heard of [annHeard, benHeard]) {
      const revisions = heard.map((e) => e.revision);
      expect(revisions).toEqual([...revisions].sort((a, b) => a - b));
    }

    // A second read of an already-read session changes nothing and sends nothing.
    await B.markRead(ref);
    await A.getTask(team.id, created.id);
    expect(benHeard.map((e) => e.unread)).toEqual([true, false]);
  });
});

/** Its own Kiln (one per process), on a data directory that outlives a restart. */
describe("unread marks across a restart", () => {
  const unreadIn = async (client: KilnClient, orgId: string, taskId: string) => (await client.listTasks(orgId)).tasks.find((t) => t.id === taskId)?.unread;

  it("settles parallel marks on the last one, and keeps them across a restart (the org's SQLite)", { timeout: 180_000 }, async () => {
    const dataDir = tempDataDir();
    seedDataDir(dataDir);
    let k = await startTestKiln({ dataDir });
    const t = socketTransport(k.url);
    const [ann2, ben2] = [await signUp(t, { name: "Ann" }), await signUp(t, { name: "Ben" })];
    let A2 = createKilnClient({ baseUrl: k.url, token: ann2.token });
    let B2 = createKilnClient({ baseUrl: k.url, token: ben2.token });
    try {
      const team = await A2.createOrg("Dots 2");
      await B2.acceptInvitation((await A2.invite(team.id, ben2.user.email)).id);
      const repo = await A2.addRepo(team.id, makeBareRepo("dots2"));
      const created = await A2.createTask(team.id, { repoId: repo.id, prompt: "More dots" });
      await until(() => A2.getTask(team.id, created.id), (v) => v.task.lifecycle.state === "ready", { timeoutMs: 60_000 });
      const session = await A2.openSession(team.id, created.id, { agent: "mock" });
      const ref = { orgId: team.id, taskId: created.id, sessionId: session.id };
      const results = await Promise.allSettled([B2.markUnread(ref), B2.markRead(ref), B2.markUnread(ref), B2.markRead(ref), B2.markUnread(ref)]);
      expect(results.map((r) => r.status)).toEqual(Array(5).fill("fulfilled"));
      const finalMark = (await B2.getTask(team.id, created.id)).workbench.sessions[session.id]?.unread;
      await until(() => unreadIn(B2, team.id, created.id), (u) => u === finalMark);
      await B2.markUnread(ref);
      await until(() => unreadIn(B2, team.id, created.id), (u) => u === true);

      await A2.dispose();
      await B2.dispose();
      await k.stop();
      k = await startTestKiln({ dataDir });
      A2 = createKilnClient({ baseUrl: k.url, token: ann2.token });
      B2 = createKilnClient({ baseUrl: k.url, token: ben2.token });
      expect(await unreadIn(B2, team.id, created.id)).toBe(true);
      expect(await unreadIn(A2, team.id, created.id)).toBe(false);
    } finally {
      await A2.dispose();
      await B2.dispose();
      await k.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
