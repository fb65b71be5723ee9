import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { SessionSummary } from "../shared/schemas/session.js";
import { api } from "./support/api.js";
import { makeBareRepo } from "./support/git.js";
import { signUp, socketTransport } from "./support/http.js";
import { seedDataDir, spawnKiln, tempDataDir, withStartups } from "./support/kiln.js";
import { until } from "./support/poll.js";

const SECRET = "sk-ant-test-credential-5f2c9e";

describe("agent credentials", () => {
  it("reach the sandbox server's environment and nowhere else: no route, no log line", { timeout: withStartups(1) }, async () => {
    const dataDir = tempDataDir();
    seedDataDir(dataDir);
    const kiln = await spawnKiln({ KILN_DATA_DIR: dataDir, ANTHROPIC_API_KEY: SECRET, LOG_LEVEL: "debug" });
    try {
      const t = socketTransport(kiln.url);
      const user = await signUp(t);
      const orgId = `personal-${user.user.id}`;
      const A = api(t, user.token);
      const task = await A.createTask(orgId, { repoId: await A.addRepo(orgId, makeBareRepo()), prompt: "Use a real agent" });
      await A.settled(orgId, task.id);
      const base = `/v1/orgs/${orgId}/tasks/${task.id}/sessions`;
      const session = (await A.post<{ session: SessionSummary }>(base, { agent: "mock" })).body.session;
      await until(() => A.get<{ session: SessionSummary }>(`${base}/${session.id}`), (r) => r.body.session.status === "ready");
      await A.post(`${base}/${session.id}/messages`, { text: "hello" });
      await until(() => A.get<{ events: { kind: string }[] }>(`${base}/${session.id}/events`), (r) => r.body.events.some((e) => e.kind === "turn_ended"));

      const pid = (JSON.parse(readFileSync(join(dataDir, "sandboxes", task.id, "server.json"), "utf8")) as { pid: number }).pid;
      const environ = readFileSync(`/proc/${pid}/environ`, "utf8").split("\0");
      expect(environ).toContain(`ANTHROPIC_API_KEY=${SECRET}`);
      // Kiln's own secrets stay out of the sandbox.
      expect(environ.some((v) => v.startsWith("BETTER_AUTH_SECRET=") || v.startsWith("DATABASE_URL="))).toBe(false);

      const responses = await Promise.all(
        ["/v1/me", `/v1/orgs/${orgId}/tasks/${task.id}`, `${base}/${session.id}`, `${base}/${session.id}/events`, "/openapi.json", "/healthz"].map(async (p) =>
          JSON.stringify((await A.get(p)).body),
        ),
      );
      for (const body of responses) expect(body).not.toContain(SECRET);
    } finally {
      await kiln.kill();
    }
    expect(kiln.output()).toContain('"level":20');
    expect(kiln.output()).not.toContain(SECRET);
  });
});
