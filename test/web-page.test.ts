import { get } from "node:http";
import { gunzipSync } from "node:zlib";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadWebBundle } from "../server/web-bundle.js";
import { startTestKiln, tempDir, type TestKiln } from "./support/kiln.js";

describe("the workbench page's serving", () => {
  let kiln: TestKiln;
  beforeAll(async () => {
    kiln = await startTestKiln({ env: { GITHUB_CLIENT_ID: "id", GITHUB_CLIENT_SECRET: "secret" } });
  });
  afterAll(async () => {
    await kiln?.stop();
  });

  it("serves the page at / with its hashed script, gzipped under 250 KB, and its stylesheet", async () => {
    const res = await fetch(`${kiln.url}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    const html = await res.text();
    // GitHub sign-in is configured here, and the page is told so.
    expect(html).toContain('content="{&quot;github&quot;:true}"');
    const js = /src="(\/web\/app\.[0-9a-f]{16}\.js)"/.exec(html)?.[1];
    const css = /href="(\/web\/app\.[0-9a-f]{16}\.css)"/.exec(html)?.[1];
    expect(js && css).toBeTruthy();

    // node:http, because fetch would decompress it: the bytes on the wire are what is measured.
    const script = await rawGet(`${kiln.url}${js}`, { "accept-encoding": "gzip, deflate, br" });
    expect(script.status).toBe(200);
    expect(script.headers["content-encoding"]).toBe("gzip");
    expect(script.headers["cache-control"]).toContain("immutable");
    const gz = script.body;
    expect(gz.length).toBeLessThan(250 * 1024);
    expect(gunzipSync(gz).toString()).toContain("kiln-config");

    const style = await fetch(`${kiln.url}${css}`);
    expect(style.headers.get("content-type")).toMatch(/^text\/css/);
  });

  it("answers an unknown asset with Kiln's 404 body, and a malformed name with a 400", async () => {
    const missing = await fetch(`${kiln.url}/web/app.0000000000000000.js`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: "not_found" });
    const bad = await fetch(`${kiln.url}/web/..%2Fpackage.json`);
    expect(bad.status).toBeGreaterThanOrEqual(400);
    expect(bad.status).toBeLessThan(500);
  });

  it("reuses a cached bundle while its sources are unchanged", async () => {
    const dir = tempDir("web-cache");
    const built: string[] = [];
    const logger = pino({ level: "info" }, { write: (line: string) => void built.push(line) });
    const first = await loadWebBundle(dir, logger);
    const second = await loadWebBundle(dir, logger);
    expect(second.js.hash).toBe(first.js.hash);
    expect(built.filter((l) => l.includes("bundled the workbench page"))).toHaveLength(1);
  });
});

function rawGet(url: string, headers: Record<string, string>): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    get(url, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on("error", reject);
    }).on("error", reject);
  });
}
