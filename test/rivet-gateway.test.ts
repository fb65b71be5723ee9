import { readdirSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import { encode as cborEncode } from "cbor-x";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { signUp, socketTransport, type SignedUp } from "./support/http.js";
import { startTestKiln, type TestKiln } from "./support/kiln.js";
import { rivetClient } from "./support/rivet.js";

// RivetKit puts internal error details (paths, keys) into its answers when asked to; ask, so a
// leak through the gateway would show.
process.env.RIVET_EXPOSE_ERRORS = "1";

const NO_SUCH_ACTOR = { error: "not_found", message: "No such actor.", group: "actor", code: "not_found" };

/** Files this process holds open under `dir`: each live actor instance holds its own. */
function openFilesUnder(dir: string): number {
  return readdirSync("/proc/self/fd").filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`).startsWith(dir);
    } catch {
      return false;
    }
  }).length;
}

/** Every file under `dir`, relative to it. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1));
}

function actionInit(token: string | undefined, body: BodyInit = JSON.stringify({ args: [] }), encoding = "json"): RequestInit {
  const headers: Record<string, string> = { "x-rivet-encoding": encoding };
  if (token) headers["x-rivet-conn-params"] = JSON.stringify({ token });
  return { method: "POST", headers, body };
}

type SocketEnd = { code: number; reason: string } | { status: number };

/** Opens a raw WebSocket to an actor and reports how it ended: its close, or the refused upgrade. */
function socketEnd(url: string, protocols: string[], onOpen?: (ws: WebSocket) => void): Promise<SocketEnd> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, protocols);
    ws.on("open", () => onOpen?.(ws));
    ws.on("close", (code, reason) => resolve({ code, reason: reason.toString() }));
    ws.on("unexpected-response", (req, res) => {
      resolve({ status: res.statusCode ?? 0 });
      req.destroy();
    });
    ws.on("error", () => {});
  });
}

describe("the gateway in front of RivetKit at /api/rivet", () => {
  let kiln: TestKiln;
  let owner: SignedUp;
  let outsider: SignedUp;
  let orgKey: string;
  let orgActorId: string;
  const rivet = (path: string, init?: RequestInit) => fetch(`${kiln.url}/api/rivet${path}`, init);
  const bearer = (u: SignedUp) => ({ headers: { authorization: `Bearer ${u.token}` } });

  beforeAll(async () => {
    kiln = await startTestKiln();
    const t = socketTransport(kiln.url);
    owner = await signUp(t, { name: "Olive" });
    outsider = await signUp(t, { name: "Oscar" });
    orgKey = `org/personal-${owner.user.id}`;
    const found = await rivet(`/actors?name=organization&key=${encodeURIComponent(orgKey)}`, bearer(owner));
    expect(found.status).toBe(200);
    orgActorId = ((await found.json()) as { actors: { actor_id: string }[] }).actors[0]!.actor_id;
    expect(orgActorId).toMatch(/^[0-9a-f]{16}$/);
  });
  afterAll(() => kiln?.stop());

  it("lets RivetKit's client through: lookup, action and connection", async () => {
    const client = rivetClient(kiln.url, owner.token);
    try {
      const handle = client.organization.get(["org", `personal-${owner.user.id}`], { params: { token: owner.token } });
      expect((await handle.summary()).id).toBe(`personal-${owner.user.id}`);
      const conn = handle.connect();
      try {
        expect((await conn.myRole())).toBe("owner");
      } finally {
        await conn.dispose();
      }
    } finally {
      await client.dispose();
    }
  });

  it("refuses aliases of an actor id: no second live instance opens the actor's files", async () => {
    expect((await rivet(`/gateway/${orgActorId}/action/summary`, actionInit(owner.token))).status).toBe(200);
    const actorsDir = join(kiln.dataDir, "actors");
    const before = openFilesUnder(actorsDir);
    const aliases = [`.%2F${orgActorId}`, `.%2F.%2F.%2F${orgActorId}`, `%2E%2F${orgActorId}`, `..%2Fstate%2F${orgActorId}`, `${orgActorId}%2F`, `.%2F`.repeat(40) + orgActorId];
    for (const alias of aliases) {
      const res = await rivet(`/gateway/${alias}/action/summary`, actionInit(owner.token));
      expect([alias, res.status, await res.json()]).toEqual([alias, 404, NO_SUCH_ACTOR]);
    }
    const parallel = await Promise.all(Array.from({ length: 50 }, (_, i) => rivet(`/gateway/${".%2F".repeat(i + 1)}${orgActorId}/action/summary`, actionInit(undefined))));
    expect(parallel.map((r) => r.status)).toEqual(parallel.map(() => 404));
    expect(openFilesUnder(actorsDir)).toBe(before);
  });

  it("is no file-existence oracle: a traversal answers the same whether the file exists or not", async () => {
    const up = "..%2F".repeat(12);
    const exists = `${up}etc%2Fpasswd`;
    const missing = `${up}etc%2Fno-such-file-here`;
    const answers = async (path: (id: string) => string, init: RequestInit) =>
      Promise.all([exists, missing].map(async (id) => {
        const res = await rivet(path(id), init);
        return { status: res.status, body: await res.text() };
      }));
    const [a, b] = await answers((id) => `/gateway/${id}/action/summary`, actionInit(owner.token));
    expect(a).toEqual(b);
    expect(a!.status).toBe(404);
    const [c, d] = await answers((id) => `/actors?actor_ids=${id}`, bearer(owner));
    expect(c).toEqual(d);
    expect(c).toEqual({ status: 200, body: JSON.stringify({ actors: [] }) });
  });

  it("refuses anonymous lookups, and tells a non-member only what a connection would", async () => {
    const byKey = (key: string) => `/actors?name=organization&key=${encodeURIComponent(key)}`;
    for (const path of [byKey(orgKey), `/actors?actor_ids=${orgActorId}`]) {
      for (const init of [{}, { headers: { authorization: "Bearer forged" } }]) {
        const res = await rivet(path, init);
        expect(res.status).toBe(401);
        expect(await res.json()).toMatchObject({ error: "unauthorized", code: "unauthorized" });
      }
      const member = await rivet(path, bearer(owner));
      expect(((await member.json()) as { actors: { actor_id: string }[] }).actors.map((a) => a.actor_id)).toEqual([orgActorId]);
      const stranger = await rivet(path, bearer(outsider));
      expect([stranger.status, await stranger.json()]).toEqual([403, expect.objectContaining({ error: "forbidden" })]);
    }
    const unknown = await rivet(byKey("org/personal-nobody"), bearer(outsider));
    expect([unknown.status, await unknown.json()]).toEqual([200, { actors: [] }]);
    expect((await rivet("/actors?name=organization", bearer(owner))).status).toBe(403);
    expect((await rivet(byKey("app"), bearer(owner))).status).toBe(403);
  });

  it("calls only an actor's own actions: Object.prototype's names are no actions, over HTTP or a connection", async () => {
    for (const name of ["constructor", "toString", "valueOf", "hasOwnProperty", "__proto__", "__defineGetter__"]) {
      const res = await rivet(`/gateway/${orgActorId}/action/${name}`, actionInit(owner.token));
      expect([name, res.status, await res.json()]).toEqual([name, 404, expect.objectContaining({ error: "not_found", message: "No such action." })]);
    }
    const client = rivetClient(kiln.url, owner.token);
    const conn = client.organization.get(["org", `personal-${owner.user.id}`], { params: { token: owner.token } }).connect();
    try {
      await conn.summary();
      await expect(conn.action({ name: "constructor", args: [] })).rejects.toMatchObject({ code: "not_found" });
    } finally {
      await conn.dispose();
      await client.dispose();
    }
  });

  it("limits an action call's body to 64 KiB, announced or streamed, with 413 payload_too_large", async () => {
    const big = JSON.stringify({ args: ["x".repeat(1024 * 1024)] });
    const announced = await rivet(`/gateway/${orgActorId}/action/summary`, actionInit(owner.token, big));
    expect([announced.status, await announced.json()]).toEqual([413, expect.objectContaining({ error: "payload_too_large" })]);
    const chunk = new TextEncoder().encode("x".repeat(16 * 1024));
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        sent += 1;
        if (sent > 64) controller.close();
        else controller.enqueue(chunk);
      },
    });
    // No content-length: the limit counts what arrives.
    const streamed = await rivet(`/gateway/${orgActorId}/action/summary`, { ...actionInit(owner.token, stream), duplex: "half" } as RequestInit);
    expect([streamed.status, await streamed.json()]).toEqual([413, expect.objectContaining({ error: "payload_too_large" })]);
  });

  describe("connections", () => {
    const url = () => `${kiln.url.replace(/^http/, "ws")}/api/rivet/gateway/${orgActorId}/connect`;
    const protocols = (params?: unknown) => [
      "rivet",
      "rivet_encoding.json",
      ...(params === undefined ? [] : [`rivet_conn_params.${encodeURIComponent(JSON.stringify(params))}`]),
    ];

    it("closes a refused connection with an auth close code, not 1011", async () => {
      // Refused by the gateway before the driver loads anything, or by the actor itself: the same codes.
      expect(await socketEnd(url(), protocols({ token: "forged" }))).toEqual({ code: 4401, reason: "kiln.unauthorized" });
      expect(await socketEnd(url(), protocols())).toEqual({ code: 4401, reason: "kiln.unauthorized" });
      expect(await socketEnd(url(), protocols({ internal: "guess" }))).toEqual({ code: 4403, reason: "kiln.forbidden" });
      expect(await socketEnd(url(), protocols({ token: outsider.token }))).toEqual({ code: 4403, reason: "user.forbidden" });
    });

    it("refuses junk protocols before the upgrade", async () => {
      for (const junk of [
        ["rivet"],
        ["rivet", "rivet_encoding.xml"],
        ["rivet", "rivet_encoding.json", "rivet_encoding.cbor"],
        ["rivet", "rivet_encoding.json", "rivet_conn_params.%E0%A4%A"],
        ["rivet", "rivet_encoding.json", `rivet_conn_params.${encodeURIComponent(JSON.stringify({ token: ["x"] }))}`],
        ["rivet", "rivet_encoding.json", "rivet_token.abc"],
      ]) {
        expect([junk, await socketEnd(url(), junk)]).toEqual([junk, { status: 400 }]);
      }
      const alias = `${kiln.url.replace(/^http/, "ws")}/api/rivet/gateway/.%2F${orgActorId}/connect`;
      expect(await socketEnd(alias, protocols({ token: owner.token }))).toEqual({ status: 404 });
    });

    it("closes a connection whose message passes the frame limit with 1009", async () => {
      const end = await socketEnd(url(), protocols({ token: owner.token }), (ws) => ws.send(Buffer.alloc(100 * 1024, 1)));
      expect(end).toMatchObject({ code: 1009 });
    });
  });

  it("answers junk with a 4xx JSON error that names no key, path or library URL", async () => {
    const dataFilesBefore = filesUnder(kiln.dataDir).filter((f) => !f.startsWith("actors/") && !f.startsWith("pglite/"));
    const id = orgActorId;
    const action = (body: BodyInit, encoding = "json", token: string | undefined = owner.token) => actionInit(token, body, encoding);
    const bareOf = (bytes: Uint8Array, version = 3) => {
      const out = new Uint8Array(3 + bytes.length);
      out.set([version & 0xff, version >> 8, bytes.length], 0);
      out.set(bytes, 3);
      return out;
    };
    const withParams = (params: string) => ({ method: "POST", headers: { "x-rivet-encoding": "json", "x-rivet-conn-params": params }, body: JSON.stringify({ args: [] }) });
    const cases: [string, string, RequestInit?][] = [
      ["empty body", `/gateway/${id}/action/summary`, action("")],
      ["null body", `/gateway/${id}/action/summary`, action("null")],
      ["non-JSON body", `/gateway/${id}/action/summary`, action("{")],
      ["array body", `/gateway/${id}/action/summary`, action("[]")],
      ["no args", `/gateway/${id}/action/summary`, action("{}")],
      ["object args", `/gateway/${id}/action/summary`, action(JSON.stringify({ args: {} }))],
      ["string args", `/gateway/${id}/action/summary`, action(JSON.stringify({ args: "x" }))],
      ["null args", `/gateway/${id}/action/summary`, action(JSON.stringify({ args: null }))],
      ["unknown JSON tag", `/gateway/${id}/action/summary`, action(JSON.stringify({ args: [["$Evil", "x"]] }))],
      ["bad bigint", `/gateway/${id}/action/summary`, action(JSON.stringify({ args: [["$BigInt", "abc"]] }))],
      ["deep nesting", `/gateway/${id}/action/listTasks`, action(`{"args":[${"[".repeat(30_000)}${"]".repeat(30_000)}]}`)],
      ["wrong-typed args", `/gateway/${id}/action/listTasks`, action(JSON.stringify({ args: [{ limit: "x" }] }))],
      ["cbor junk", `/gateway/${id}/action/summary`, action("junkjunk", "cbor")],
      ["cbor without args", `/gateway/${id}/action/summary`, action(new Uint8Array(cborEncode({ nope: 1 })), "cbor")],
      ["bare junk", `/gateway/${id}/action/summary`, action(new Uint8Array([3, 0, 200, 1, 2]), "bare")],
      ["bare unknown version", `/gateway/${id}/action/summary`, action(bareOf(cborEncode([]), 99), "bare")],
      ["bare args not a list", `/gateway/${id}/action/summary`, action(bareOf(cborEncode({ a: 1 })), "bare")],
      ["unknown encoding", `/gateway/${id}/action/summary`, action(JSON.stringify({ args: [] }), "xml")],
      ["params: array", `/gateway/${id}/action/summary`, withParams("[1]")],
      ["params: array token", `/gateway/${id}/action/summary`, withParams(JSON.stringify({ token: [owner.token] }))],
      ["params: object token", `/gateway/${id}/action/summary`, withParams(JSON.stringify({ token: { a: owner.token } }))],
      ["params: not JSON", `/gateway/${id}/action/summary`, withParams("{nope")],
      ["params: unknown field", `/gateway/${id}/action/summary`, withParams(JSON.stringify({ token: owner.token, __proto__x: "1" }))],
      ["params: NUL token", `/gateway/${id}/action/summary`, withParams(JSON.stringify({ token: "\u0000" }))],
      ["params: over-long", `/gateway/${id}/action/summary`, withParams(JSON.stringify({ token: "t".repeat(5000) }))],
      ["over-long id", `/gateway/${"a".repeat(10_000)}/action/summary`, action(JSON.stringify({ args: [] }))],
      ["NUL in id", `/gateway/${id}%00/action/summary`, action(JSON.stringify({ args: [] }))],
      ["token in the id", `/gateway/${id}@${owner.token}/action/summary`, action(JSON.stringify({ args: [] }))],
      ["__proto__ id", `/gateway/__proto__/action/summary`, action(JSON.stringify({ args: [] }))],
      ["NUL in action", `/gateway/${id}/action/summ%00ary`, action(JSON.stringify({ args: [] }))],
      ["unknown action", `/gateway/${id}/action/nope`, action(JSON.stringify({ args: [] }))],
      ["internal action", `/gateway/${id}/action/upsertMember`, action(JSON.stringify({ args: [{}] }))],
      ["unknown actor", `/gateway/0123456789abcdef/action/summary`, action(JSON.stringify({ args: [] }))],
      ["queue send", `/gateway/${id}/queue/commands`, action(JSON.stringify({ body: {} }))],
      ["raw request", `/gateway/${id}/request/x`, { method: "GET" }],
      ["action by GET", `/gateway/${id}/action/summary`, { method: "GET" }],
      ["connect without upgrade", `/gateway/${id}/connect`, { method: "GET" }],
      ["header routing", `/actors`, { method: "GET", headers: { "x-rivet-target": "actor", "x-rivet-actor": `../../${id}` } }],
      ["create", `/actors`, { method: "PUT", headers: { "content-type": "application/json" }, body: "null" }],
      ["delete", `/actors`, { method: "DELETE" }],
      ["kv", `/actors/${id}/kv/keys/AA==`, {}],
      ["names", `/actors/names?namespace=default`, {}],
      ["test route", `/.test/force-disconnect?actor=${id}&conn=x`, { method: "POST" }],
      ["__proto__ segment", `/__proto__`, {}],
      ["constructor segment", `/actors/constructor`, {}],
      ["traversal", `/..%2F..%2F..%2Fetc%2Fpasswd`, {}],
      ["lookup: repeated key", `/actors?name=organization&key=${orgKey}&key=org%2Fx`, bearer(owner)],
      ["lookup: escaped key", `/actors?name=organization&key=org%2F%5C%2Fx`, bearer(owner)],
      ["lookup: NUL key", `/actors?name=organization&key=org%2F%00`, bearer(owner)],
      ["lookup: over-long key", `/actors?name=organization&key=${"k".repeat(10_000)}`, bearer(owner)],
      ["lookup: unknown param", `/actors?name=organization&key=${orgKey}&evil=1`, bearer(owner)],
      ["lookup: NUL namespace", `/actors?name=organization&key=${orgKey}&namespace=%00`, bearer(owner)],
      ["lookup: both forms", `/actors?name=organization&key=${orgKey}&actor_ids=${id}`, bearer(owner)],
      ["lookup: 33 ids", `/actors?actor_ids=${Array.from({ length: 33 }, () => id).join(",")}`, bearer(owner)],
    ];
    for (const [label, path, init] of cases) {
      const res = await rivet(path, init);
      const text = await res.text();
      expect([label, res.status >= 400 && res.status < 500]).toEqual([label, true]);
      const body = JSON.parse(text) as { error?: unknown; message?: unknown };
      expect([label, typeof body.error, typeof body.message]).toEqual([label, "string", "string"]);
      for (const secret of [kiln.dataDir, `personal-${owner.user.id}`, "rivet.dev", "rivetkit.org", "node_modules"]) {
        expect([label, text.includes(secret)]).toEqual([label, false]);
      }
    }
    // A NUL inside well-formed args reaches the action, whose own validation answers it.
    expect((await rivet(`/gateway/${id}/action/listTasks`, action(JSON.stringify({ args: [{ repoId: "\u0000" }] })))).status).toBeLessThan(500);
    // Nothing new appeared in the data directory, and the driver's directories hold only actors' own files.
    expect(filesUnder(kiln.dataDir).filter((f) => !f.startsWith("actors/") && !f.startsWith("pglite/"))).toEqual(dataFilesBefore);
    for (const f of filesUnder(join(kiln.dataDir, "actors"))) expect(f).toMatch(/^[a-z]+\/[0-9a-f]{16}(\.db(-wal|-shm|-journal)?)?$/);
  });
});
