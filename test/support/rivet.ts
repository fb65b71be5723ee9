import { createServer, connect, type Server } from "node:net";
import { createClient } from "rivetkit/client";
import type { Registry } from "../../actors/registry.js";

/**
 * RivetKit's client over a real socket, as a browser uses it. Its actor lookups are signed in with
 * `token` (the gateway refuses anonymous ones); actions and connections carry their own `params`.
 */
export function rivetClient(baseUrl: string, token?: string) {
  return createClient<Registry>({
    endpoint: `${baseUrl}/api/rivet`,
    disableMetadataLookup: true,
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });
}

export interface CountingProxy {
  url: string;
  /** WebSocket upgrades to an actor's `/connect` seen so far. */
  connects(): number;
  close(): Promise<void>;
}

/** A TCP proxy in front of Kiln that counts connection attempts, to see a client's reconnects. */
export async function countingProxy(targetUrl: string): Promise<CountingProxy> {
  const target = new URL(targetUrl);
  let connects = 0;
  const sockets = new Set<{ destroy(): void }>();
  const server: Server = createServer((client) => {
    const upstream = connect(Number(target.port), target.hostname);
    sockets.add(client);
    sockets.add(upstream);
    client.once("data", (first: Buffer) => {
      const head = first.toString("latin1");
      if (/^GET \S*\/gateway\/\S+\/connect/.test(head) && /\r\nupgrade: websocket/i.test(head)) connects += 1;
    });
    client.pipe(upstream).pipe(client);
    client.on("error", () => upstream.destroy());
    upstream.on("error", () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    connects: () => connects,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Keep-alive sockets would hold the server open.
        for (const s of sockets) s.destroy();
      }),
  };
}

export interface ReplayingProxy {
  url: string;
  /** From now on, keep on each socket a copy of the first frame from Kiln that contains every one of `markers`. */
  keep(markers: string[]): void;
  /** How many sockets have a frame kept. */
  recorded(): number;
  /** Sends each socket's kept frame to its client again: an old event, arriving late. */
  replay(): void;
  close(): Promise<void>;
}

/**
 * A TCP proxy in front of Kiln that keeps a copy of a WebSocket frame from Kiln (found by strings
 * it contains, such as an event's name and an id: RivetKit's encodings carry strings as plain
 * UTF-8) on each socket, and can deliver it again later. A client that applies events blindly
 * would go back in time.
 */
export async function replayingProxy(targetUrl: string): Promise<ReplayingProxy> {
  const target = new URL(targetUrl);
  let needles: Buffer[] | undefined;
  const kept = new Map<{ write(b: Buffer): void }, Buffer>();
  const sockets = new Set<{ destroy(): void }>();
  const server: Server = createServer((client) => {
    const upstream = connect(Number(target.port), target.hostname);
    sockets.add(client);
    sockets.add(upstream);
    let first = true;
    client.on("data", (chunk: Buffer) => {
      if (first) {
        first = false;
        // No permessage-deflate: frames must carry their payload as sent.
        chunk = Buffer.from(chunk.toString("latin1").replace(/\r\nsec-websocket-extensions:[^\r]*/i, ""), "latin1");
      }
      upstream.write(chunk);
    });
    let pending = Buffer.alloc(0);
    let upgraded = false;
    upstream.on("data", (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      if (!upgraded) {
        const end = pending.indexOf("\r\n\r\n");
        if (end < 0) return;
        const head = pending.subarray(0, end + 4);
        client.write(head);
        pending = pending.subarray(end + 4);
        upgraded = / 101 /.test(head.toString("latin1").split("\r\n")[0] ?? "");
        if (!upgraded) {
          client.write(pending);
          pending = Buffer.alloc(0);
          upstream.removeAllListeners("data");
          upstream.pipe(client);
          return;
        }
      }
      // Server frames are unmasked: 2 bytes, then a 16- or 64-bit length when the 7-bit one says so.
      for (;;) {
        if (pending.length < 2) return;
        const len7 = (pending[1] ?? 0) & 0x7f;
        const offset = len7 === 126 ? 4 : len7 === 127 ? 10 : 2;
        if (pending.length < offset) return;
        const len = len7 === 126 ? pending.readUInt16BE(2) : len7 === 127 ? Number(pending.readBigUInt64BE(2)) : len7;
        if (pending.length < offset + len) return;
        const frame = Buffer.from(pending.subarray(0, offset + len));
        pending = pending.subarray(offset + len);
        const payload = frame.subarray(offset);
        if (needles && !kept.has(client) && needles.every((n) => payload.includes(n))) kept.set(client, frame);
        client.write(frame);
      }
    });
    client.on("error", () => upstream.destroy());
    upstream.on("error", () => client.destroy());
    client.on("close", () => {
      kept.delete(client);
      upstream.destroy();
    });
    upstream.on("close", () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    keep: (markers) => {
      needles = markers.map((m) => Buffer.from(m, "utf8"));
      kept.clear();
    },
    recorded: () => kept.size,
    replay: () => {
      for (const [client, frame] of kept) client.write(frame);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}
