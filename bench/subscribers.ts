/**
 * Many live subscribers in one child process, for bench/run.ts (so their decoding does not share
 * Kiln's event loop). Two kinds:
 * - `rivet`: N connections to one OrganizationActor through Kiln's `/api/rivet`, each listening
 *   for `taskSummaryUpdated`;
 * - `ws`: N plain `ws` clients of a bare WebSocket server (the baseline's broadcast).
 *
 * Usage: node --import tsx bench/subscribers.ts '<SubscribersSpec as JSON>'
 * Protocol (lines of JSON): prints `{ready:true}` once all N are open. Then, for each line
 * `{mark, sentAt}` on stdin (sentAt: epoch ms), it waits for the message whose `title` (or body)
 * is `mark` on every connection and prints `{mark, latenciesMs}`. `{exit:true}` closes everything.
 */
import { createInterface } from "node:readline";
import { createClient } from "rivetkit/client";
import { WebSocket } from "ws";
import type { Registry } from "../actors/registry.js";
import { keys } from "../shared/keys.js";

export interface SubscribersSpec {
  kind: "rivet" | "ws";
  count: number;
  /** rivet: Kiln's base URL; ws: the server's ws:// URL. */
  url: string;
  token?: string;
  orgId?: string;
}

const now = () => performance.timeOrigin + performance.now();
const print = (v: unknown) => process.stdout.write(`${JSON.stringify(v)}\n`);

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2] ?? "{}") as SubscribersSpec;
  /** Per mark, the receive time on each connection. */
  const received = new Map<string, number[]>();
  const waiting = new Map<string, { sentAt: number }>();
  const onMessage = (mark: string) => {
    const times = received.get(mark) ?? [];
    times.push(now());
    received.set(mark, times);
    flush(mark);
  };
  const flush = (mark: string) => {
    const w = waiting.get(mark);
    const times = received.get(mark) ?? [];
    if (!w || times.length < spec.count) return;
    waiting.delete(mark);
    received.delete(mark);
    print({ mark, latenciesMs: times.map((t) => t - w.sentAt) });
  };

  const closers: (() => Promise<void> | void)[] = [];
  if (spec.kind === "rivet") {
    // Lookups through /api/rivet are signed in; each connection carries the token in its params.
    const client = createClient<Registry>({
      endpoint: `${spec.url}/api/rivet`,
      disableMetadataLookup: true,
      headers: { authorization: `Bearer ${spec.token}` },
    });
    closers.push(() => client.dispose());
    const opened: Promise<void>[] = [];
    for (let i = 0; i < spec.count; i++) {
      const conn = client.organization.get(keys.organization(spec.orgId ?? ""), { params: { token: spec.token } }).connect();
      conn.on("taskSummaryUpdated", (t: { title: string }) => onMessage(t.title));
      // The first action answers once the connection is open and authorized.
      opened.push(conn.myRole().then(() => undefined));
      closers.push(() => conn.dispose());
    }
    await Promise.all(opened);
  } else {
    const opened: Promise<void>[] = [];
    for (let i = 0; i < spec.count; i++) {
      const ws = new WebSocket(spec.url);
      ws.on("message", (data) => onMessage((JSON.parse(String(data)) as { title: string }).title));
      opened.push(new Promise((res, rej) => (ws.once("open", () => res()), ws.once("error", rej))));
      closers.push(() => ws.close());
    }
    await Promise.all(opened);
  }
  print({ ready: true });

  for await (const line of createInterface({ input: process.stdin })) {
    const msg = JSON.parse(line) as { mark?: string; sentAt?: number; exit?: boolean };
    if (msg.exit) break;
    if (msg.mark && msg.sentAt) {
      waiting.set(msg.mark, { sentAt: msg.sentAt });
      flush(msg.mark);
    }
  }
  for (const close of closers) await close();
  process.exit(0);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
