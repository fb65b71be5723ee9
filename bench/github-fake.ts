/**
 * The fake GitHub API (test/fakes/github.ts) in its own process for bench/github.ts, so its work
 * and memory are not counted as Kiln's. Seeds installations from the JSON spec in argv, prints
 * `{ url, appId, privateKey }` as one line, and exits when its stdin closes.
 *
 * Usage: node --import tsx bench/github-fake.ts '<FakeSpec as JSON>'
 */
import { startFakeGitHub, type FakeMember, type FakeRepo } from "../test/fakes/github.js";

export interface FakeInstallationSpec {
  id: number;
  account: { id: number; login: string; type: "Organization" | "User" };
  repos: number;
  /** Open pull requests in all: `bigRepos` repositories get `perBigRepo` each (several pages), the rest round-robin. */
  pulls: number;
  bigRepos: number;
  perBigRepo: number;
  members: number;
}

export interface FakeSpec {
  installations: FakeInstallationSpec[];
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2] ?? "{}") as FakeSpec;
  const fake = await startFakeGitHub();
  for (const inst of spec.installations) {
    const repos: FakeRepo[] = Array.from({ length: inst.repos }, (_, i) => ({ id: inst.id * 10_000 + i + 1, fullName: `${inst.account.login}/repo-${i + 1}`, private: i % 3 === 0 }));
    fake.addInstallation(inst.id, inst.account, repos);
    const members: FakeMember[] = Array.from({ length: inst.members }, (_, i) => ({ id: inst.id * 10_000 + i + 1, login: `${inst.account.login}-user-${i + 1}`, role: i < 2 ? "admin" : "member" }));
    fake.setMembers(inst.account.login, members);
    let left = inst.pulls;
    const add = (repo: FakeRepo, n: number) => {
      for (let k = 0; k < n && left > 0; k++, left--) fake.addPull(repo.fullName, { title: `Change ${k + 1}`, head: `branch-${left}`, base: "main", draft: k % 5 === 0, body: null });
    };
    for (const repo of repos.slice(0, inst.bigRepos)) add(repo, inst.perBigRepo);
    const rest = repos.slice(inst.bigRepos);
    for (let i = 0; left > 0 && rest.length; i++) add(rest[i % rest.length]!, 1);
  }
  process.stdout.write(`${JSON.stringify({ url: fake.url, appId: fake.appId, privateKey: fake.privateKey })}\n`);
  process.stdin.resume();
  process.stdin.on("end", () => void fake.close().then(() => process.exit(0)));
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
