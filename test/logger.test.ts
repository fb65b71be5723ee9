import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { RequestLog } from "../server/middleware/request-context.js";
import { createLogger } from "../shared/logger.js";

function capture() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split("\n").filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { lines, stream };
}

describe("the logger", () => {
  it("never writes secrets, wherever they sit", () => {
    const { lines, stream } = capture();
    const log = createLogger("info", stream);
    log.info({ token: "t0ken", params: { token: "p-t0ken", internal: "k3y" }, user: { password: "pw" }, headers: { authorization: "Bearer x" } }, "hi");
    const text = JSON.stringify(lines);
    for (const secret of ["t0ken", "p-t0ken", "k3y", "\"pw\"", "Bearer x"]) expect(text).not.toContain(secret);
    expect(lines[0]).toMatchObject({ msg: "hi", service: "kiln", token: "[redacted]" });
  });

  it("keeps refused actor actions out of error logs, but not real errors", () => {
    const { lines, stream } = capture();
    const log = createLogger("info", stream).child({ component: "rivetkit" });
    log.error({ msg: "action error", actionName: "summary" });
    log.error({ msg: "internal error" });
    expect(lines.map((l) => l.msg)).toEqual(["internal error"]);
  });

  it("gives a request's lines its request id (the child logger is made on the first line)", () => {
    const { lines, stream } = capture();
    const log = new RequestLog(createLogger("info", stream), "req-42");
    log.debug({ a: 1 }, "below the level");
    log.info({ token: "t0ken" }, "hello");
    log.error({ status: 500 }, "failed");
    expect(lines).toEqual([
      expect.objectContaining({ msg: "hello", requestId: "req-42", token: "[redacted]" }),
      expect.objectContaining({ msg: "failed", requestId: "req-42", status: 500 }),
    ]);
  });
});
