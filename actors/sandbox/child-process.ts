import type { ChildProcess } from "node:child_process";
import { createServer } from "node:net";

/** A free port on 127.0.0.1: bind port 0, read it, release it (a server started right after takes it). */
export function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const srv = createServer();
    srv.once("error", fail);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      srv.close(() => (addr && typeof addr === "object" ? done(addr.port) : fail(new Error("no port"))));
    });
  });
}

/** SIGTERM, then SIGKILL after 3 s: sandbox-agent stops its agents on SIGTERM, but a stuck one must not hold shutdown. */
export function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((done) => {
    const force = setTimeout(() => child.kill("SIGKILL"), 3_000);
    child.once("exit", () => {
      clearTimeout(force);
      done();
    });
    child.kill("SIGTERM");
  });
}
