/**
 * A task whose sandbox is on Daytona (chosen by the org's settings; KILN_SANDBOX_PROVIDER=daytona
 * makes it every org's default). Kiln drives the real
 * `@daytonaio/sdk` against the Daytona fake. The fake stands in for Daytona's runtime: when Kiln
 * runs `sandbox-agent server` through the process API, it starts the real sandbox-agent binary,
 * and the sandbox's preview URL leads to it. Everything after that (clone, checkout, an agent
 * turn) goes through sandbox-agent over the preview URL, as it would on Daytona.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { installMockAgent } from "../actors/sandbox/agent/install.js";
import { freePort } from "../actors/sandbox/child-process.js";
import { sandboxAgentBinary } from "../actors/sandbox/local.js";
import type { SessionEvent, SessionSummary } from "../shared/schemas/session.js";
import type { TaskView } from "../shared/schemas/task.js";
import { startFakeDaytona, type FakeDaytona } from "./fakes/daytona.js";
import { api } from "./support/api.js";
import { git, makeBareRepo, workingCopy } from "./support/git.js";
import { signUp, socketTransport } from "./support/http.js";
import { seedDataDir, spawnKiln, startTestKiln, tempDataDir, tempDir, withStartups, type TestKiln } from "./support/kiln.js";
import { until } from "./support/poll.js";


describe("a task on the Daytona provider", () => {
  let daytona: FakeDaytona;
  let kiln: TestKiln;
  const servers: ChildProcess[] = [];
  /** The one sandbox's server: its real port on this machine. */
  let serverPort = 0;
  let workdir = "";

  beforeAll(async () => {
    const root = tempDir("daytona-runtime-");
    workdir = join(root, "work");
    const xdg = join(root, "xdg");
    mkdirSync(workdir, { recursive: true });
    await installMockAgent(xdg);
    serverPort = await freePort();
    daytona = await startFakeDaytona({
      // Daytona's runtime: the start command runs the real server (on a free local port).
      commandHandler: (command) => {
        const token = /--token=([0-9a-f]+)/.exec(command)?.[1];
        if (!/sandbox-agent server/.test(command) || !token) return undefined;
        const child = spawn(sandboxAgentBinary(), ["server", "--no-telemetry", "-H", "127.0.0.1", "-p", String(serverPort), `--token=${token}`], {
          cwd: workdir,
          env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: workdir, XDG_DATA_HOME: xdg, LANG: "C.UTF-8" },
          stdio: "ignore",
        });
        servers.push(child);
        return { exitCode: 0, result: "" };
      },
      previewUrlFor: () => `http://127.0.0.1:${serverPort}`,
    });
    kiln = await startTestKiln({
      // Daytona is configured but not the default: the org opts in through its settings.
      env: {
        DAYTONA_API_KEY: daytona.apiKey,
        DAYTONA_API_URL: daytona.apiUrl,
        DAYTONA_TARGET: daytona.target,
        DAYTONA_WORKDIR: workdir,
      },
    });
  });
  afterAll(async () => {
    await kiln?.stop();
    for (const s of servers) s.kill("SIGKILL");
    await daytona?.close();
  });

  it("provisions the task in a Daytona sandbox, runs an agent turn there, and deletes the sandbox when killed", async () => {
    const t = socketTransport(kiln.url);
    const ann = await signUp(t, { name: "Ann" });
    const A = api(t, ann.token);
    const orgId = `personal-${ann.user.id}`;
    expect((await A.patch(`/v1/orgs/${orgId}/settings`, { sandboxProvider: "daytona" })).status).toBe(200);
    const repoId = await A.addRepo(orgId, makeBareRepo());
    const task = await A.createTask(orgId, { repoId, prompt: "Work in the cloud" });

    const ready = await A.settled(orgId, task.id);
    expect(ready.task.lifecycle).toMatchObject({ state: "ready", message: null });
    expect(ready.task.sandbox).toMatchObject({ provider: "daytona" });
    const [sandbox] = [...daytona.state.sandboxes.values()];
    expect(sandbox).toMatchObject({ state: "started", serverRunning: true, name: `kiln-${ready.task.sandbox?.sandboxId.toLowerCase()}` });
    // The clone ran inside the sandbox (DAYTONA_WORKDIR), through sandbox-agent's process API, on the task's branch.
    expect(git(join(workdir, "repo"), "rev-parse", "--abbrev-ref", "HEAD")).toBe(ready.task.branch);

    const path = (rest = "") => `/v1/orgs/${orgId}/tasks/${task.id}/sessions${rest}`;
    const opened = await A.post<{ session: SessionSummary }>(path(), { agent: "mock", name: "Cloud pairing" });
    expect(opened.status).toBe(202);
    const sessionId = opened.body.session.id;
    await until(() => A.get<{ session: SessionSummary }>(path(`/${sessionId}`)), (r) => r.body.session.status === "ready");
    expect((await A.post(path(`/${sessionId}/messages`), { text: "Hello from Daytona" })).status).toBe(202);
    const events = await until(
      async () => (await A.get<{ events: SessionEvent[] }>(path(`/${sessionId}/events?limit=1000`))).body.events,
      (e) => e.some((x) => x.kind === "turn_ended"),
    );
    const reply = events.filter((e) => e.kind === "agent_message_chunk").map((e) => e.text ?? "").join("");
    expect(reply).toContain("Hello from Daytona");

    expect((await A.del(`/v1/orgs/${orgId}/tasks/${task.id}`)).status).toBe(202);
    await until(() => A.get<TaskView>(`/v1/orgs/${orgId}/tasks/${task.id}`), (r) => r.body.task.lifecycle.phase === "killed");
    expect(daytona.state.deleted).toContain(sandbox!.id);
  });
});

describe("a Kiln whose sandboxes run on Daytona by default", () => {
  it("refuses an org setting that would run agents on Kiln's own machine", async () => {
    const daytona = await startFakeDaytona();
    const kiln = await startTestKiln({
      env: { KILN_SANDBOX_PROVIDER: "daytona", DAYTONA_API_KEY: daytona.apiKey, DAYTONA_API_URL: daytona.apiUrl, DAYTONA_TARGET: daytona.target },
    });
    try {
      const t = socketTransport(kiln.url);
      const owner = await signUp(t);
      const A = api(t, owner.token);
      const orgId = `personal-${owner.user.id}`;
      for (const sandboxProvider of ["local", "local-git"]) {
        const refused = await A.patch(`/v1/orgs/${orgId}/settings`, { sandboxProvider });
        expect(refused).toMatchObject({ status: 403, body: { error: "provider_not_allowed", message: expect.stringContaining("daytona") } });
      }
      expect((await A.get(`/v1/orgs/${orgId}`)).body).toMatchObject({ organization: { sandboxProvider: null } });
      expect((await A.patch(`/v1/orgs/${orgId}/settings`, { sandboxProvider: "daytona" })).status).toBe(200);
    } finally {
      await kiln.stop();
      await daytona.close();
    }
  });

  it("no longer honours a host provider an org chose before the operator moved sandboxes to Daytona", { timeout: withStartups(2) }, async () => {
    const daytona = await startFakeDaytona();
    const dataDir = tempDataDir();
    seedDataDir(dataDir);
    const daytonaEnv = { DAYTONA_API_KEY: daytona.apiKey, DAYTONA_API_URL: daytona.apiUrl, DAYTONA_TARGET: daytona.target };
    try {
      const before = await spawnKiln({ KILN_DATA_DIR: dataDir, ...daytonaEnv });
      const user = await signUp(socketTransport(before.url));
      const orgId = `personal-${user.user.id}`;
      const A = api(socketTransport(before.url), user.token);
      expect((await A.patch(`/v1/orgs/${orgId}/settings`, { sandboxProvider: "local-git" })).status).toBe(200);
      const repoId = await A.addRepo(orgId, makeBareRepo());
      expect(await before.kill()).toBe(0);

      const after = await spawnKiln({ KILN_DATA_DIR: dataDir, KILN_SANDBOX_PROVIDER: "daytona", ...daytonaEnv });
      try {
        const B = api(socketTransport(after.url), user.token);
        const task = await B.createTask(orgId, { repoId, prompt: "Stay off the host" });
        // The task's sandbox is created on Daytona, labelled with the task, and nothing on the host.
        const created = await until(
          async () => daytona.requestsTo("POST", "/sandbox").map((r) => (r.body as { labels?: Record<string, string> }).labels?.["kiln.sandbox"]),
          (ids) => ids.includes(task.id),
          { timeoutMs: 15_000 },
        );
        expect(created).toContain(task.id);
        expect(existsSync(workingCopy(dataDir, task.id))).toBe(false);
      } finally {
        await after.kill();
      }
    } finally {
      await daytona.close();
    }
  });
});
