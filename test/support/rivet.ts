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
