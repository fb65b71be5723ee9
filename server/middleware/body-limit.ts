import type { MiddlewareHandler } from "hono";
import { KilnError } from "../../shared/errors.js";
import type { KilnEnv } from "../types.js";

/** Large enough for the largest input Kiln takes (a 100,000-character message, escaped); small enough to refuse floods. */
export const MAX_BODY_BYTES = 1024 * 1024;

function tooLarge(maxBytes: number): KilnError {
  return new KilnError("payload_too_large", `The request body is larger than ${maxBytes} bytes.`);
}

/**
 * Refuses request bodies over `maxBytes` with 413 `payload_too_large`: at once from a declared
 * `content-length`, else while streaming, after reading at most `maxBytes`. Paths under
 * `except` keep their own limits (RivetKit's router).
 *
 * Hono's `bodyLimit` does the same but rebuilds the request with `new Request(raw, init)`,
 * which throws on @hono/node-server's request objects (a 500 on every DELETE without a length).
 */
export function limitBody(opts: { maxBytes: number; except: string }): MiddlewareHandler<KilnEnv> {
  return async (c, next) => {
    const raw = c.req.raw;
    if (!raw.body || c.req.path === opts.except || c.req.path.startsWith(`${opts.except}/`)) return next();
    const declared = raw.headers.get("content-length");
    if (declared !== null && !raw.headers.has("transfer-encoding")) {
      if (Number(declared) > opts.maxBytes) throw tooLarge(opts.maxBytes);
      return next();
    }
    const reader = raw.body.getReader();
    const chunks: Uint8Array[] = [];
    let size = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > opts.maxBytes) {
        await reader.cancel().catch(() => {});
        throw tooLarge(opts.maxBytes);
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
