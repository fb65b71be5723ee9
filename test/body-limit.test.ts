import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signUp, socketTransport, type SignedUp } from "./support/http.js";
import { startTestKiln, type TestKiln } from "./support/kiln.js";

/** 64 MiB offered; a Kiln that buffers it before answering reads it all. */
const OFFERED = 64 * 1024 * 1024;
const CHUNK = Buffer.alloc(64 * 1024, "a");

/**
 * Streams a JSON body of up to OFFERED bytes over a raw socket and returns the first response
 * line, with how many bytes had been written when it arrived.
 */
function streamBody(baseUrl: string, path: string, headers: string[], token: string): Promise<{ statusLine: string; sent: number; body: string }> {
  const url = new URL(baseUrl);
  return new Promise((resolve) => {
    const socket = connect(Number(url.port), url.hostname);
    let sent = 0;
    let answer = "";
    let answered = false;
    const finish = () => {
      answered = true;
      const [head = "", body = ""] = answer.split("\r\n\r\n");
      resolve({ statusLine: head.split("\r\n")[0] ?? "", sent, body });
      socket.destroy();
    };
    socket.on("data", (d: Buffer) => {
      answer += d.toString("latin1");
      if (answer.includes("\r\n\r\n") && /\r\n\r\n[\s\S]*[}\n]/.test(answer)) finish();
    });
    // Kiln (or Node's HTTP parser, on bytes past a content-length) may also just hang up.
    socket.on("error", () => (answered ? undefined : finish()));
    socket.on("close", () => (answered ? undefined : finish()));
    socket.on("connect", async () => {
      socket.write(
        [`POST ${path} HTTP/1.1`, `host: ${url.host}`, `origin: ${url.origin}`, `authorization: Bearer ${token}`, "content-type: application/json", ...headers, "", ""].join("\r\n"),
      );
      const chunked = headers.some((h) => /transfer-encoding: chunked/i.test(h));
      while (!answered && !socket.destroyed && sent < OFFERED) {
        const frame = chunked ? Buffer.concat([Buffer.from(`${CHUNK.length.toString(16)}\r\n`), CHUNK, Buffer.from("\r\n")]) : CHUNK;
        sent += CHUNK.length;
        if (!socket.write(frame)) {
          await new Promise<void>((res) => {
            const done = () => {
              socket.off("drain", done);
              socket.off("data", done);
              socket.off("close", done);
              res();
            };
            socket.on("drain", done);
            socket.on("data", done);
            socket.on("close", done);
          });
        }
      }
    });
  });
}

describe("request body limit", () => {
  let kiln: TestKiln;
  let ann: SignedUp;

  beforeAll(async () => {
    kiln = await startTestKiln();
    ann = await signUp(socketTransport(kiln.url));
  });
  afterAll(async () => {
    await kiln?.stop();
  });

  it("refuses a streamed body without content-length with 413 before reading it all", async () => {
    // Pages and documents too (`/docs`, `/openapi.json`, the workbench): the limit comes before routing.
    for (const path of ["/v1/workers", `/v1/orgs/personal-${ann.user.id}/tasks`, "/api/auth/update-user", "/api/auth/change-password", "/docs", "/docs/assets/swagger-ui.css", "/openapi.json", "/"]) {
      const res = await streamBody(kiln.url, path, ["transfer-encoding: chunked"], ann.token);
      expect(res.statusLine, path).toMatch(/^HTTP\/1\.1 413 /);
      expect(JSON.parse(res.body)).toMatchObject({ error: "payload_too_large", message: expect.any(String) });
      expect(res.sent).toBeLessThan(OFFERED);
    }
  });

  it("refuses a declared content-length over the limit with 413 without reading the body", async () => {
    const res = await streamBody(kiln.url, "/v1/workers", [`content-length: ${OFFERED}`], ann.token);
    expect(res.statusLine).toMatch(/^HTTP\/1\.1 413 /);
    expect(JSON.parse(res.body)).toMatchObject({ error: "payload_too_large" });
    expect(res.sent).toBeLessThan(OFFERED);
  });

  it("reads no more than a content-length that understates the body, and stays up", async () => {
    const res = await streamBody(kiln.url, "/v1/workers", ["content-length: 10"], ann.token);
    // The 10 bytes are not JSON (400), and the rest is not HTTP: the connection ends early either way.
    if (res.statusLine) expect(res.statusLine).toMatch(/^HTTP\/1\.1 400 /);
    expect(res.sent).toBeLessThan(OFFERED);
    expect((await fetch(`${kiln.url}/healthz`)).status).toBe(200);
  });

  it("takes a body just under the limit", async () => {
    const text = "x".repeat(100_000);
    const res = await fetch(`${kiln.url}/v1/workers`, {
      method: "POST",
      headers: { authorization: `Bearer ${ann.token}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "w", destination: "local", workspacePath: "/tmp/w", description: "d", padding: text.repeat(9) }),
    });
    expect(res.status).toBe(201);
  });
});
