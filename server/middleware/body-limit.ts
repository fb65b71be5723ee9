import type { MiddlewareHandler } from "hono";
import { KilnError } from "../../shared/errors.js";
import type { KilnEnv } from "../types.js";

/** Large enough for the largest input Kiln takes (a 100,000-character message, escaped); small enough to refuse floods. */
export const MAX_BODY_BYTES = 1024 * 1024;

function tooLarge(maxBytes: number): KilnError {
  return new KilnError("payload_too_large", `The request body is larger than ${maxBytes} bytes.`);
}

/**
 * Refuses a body over `maxBytes` with 413 `payload_too_large`, without reading the rest of it: at
 * once from a declared `content-length`, else while streaming, after at most `maxBytes`. Paths
 * under `except` keep their own limits (RivetKit's router). Limits stack: the tightest wins.
 *
 * Hono's `bodyLimit` does the same but rebuilds the request with `new Request(raw, init)`, which
 * throws on @hono/node-server's request objects (a 500 for any chunked body).
 */
export function limitBody(maxBytes: number, opts: { except?: string } = {}): MiddlewareHandler<KilnEnv> {
  const { except } = opts;
  return async (c, next) => {
    const raw = c.req.raw;
    if (except && (c.req.path === except || c.req.path.startsWith(`${except}/`))) return next();
    const declared = raw.headers.get("content-length");
    const chunked = raw.headers.has("transfer-encoding");
    // An HTTP/1.1 request with neither header has no body. `raw.body` is touched only for a chunked
    // body: on @hono/node-server it turns the light request into a full undici Request (a fifth of
    // an idle device poll's CPU), which reading the JSON body later does not need.
    if (declared === null && !chunked) return next();
    if (declared !== null && !chunked) {
      if (Number(declared) > maxBytes) throw tooLarge(maxBytes);
      return next();
    }
    if (!raw.body) return next();
    const reader = raw.body.getReader();
    const chunks: Uint8Array[] = [];
    let size = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > maxBytes) {
        await reader.cancel().catch(() => {});
        throw tooLarge(maxBytes);
      }
      chunks.push(value);
    }
    const headers = new Headers(raw.headers);
    headers.delete("transfer-encoding");
    headers.set("content-length", String(size));
    c.req.raw = new Request(raw.url, { method: raw.method, headers, body: size ? Buffer.concat(chunks) : undefined, signal: raw.signal });
    return next();
  };
}
