import type { MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { KilnError } from "../../shared/errors.js";
import type { KilnEnv } from "../types.js";

/** Refuses a body over `maxBytes` with 413 `payload_too_large`, without reading the rest of it. */
export function limitBody(maxBytes: number): MiddlewareHandler<KilnEnv> {
  const limit = bodyLimit({
    maxSize: maxBytes,
    onError: () => {
      throw new KilnError("payload_too_large", `The request body is larger than ${maxBytes} bytes.`);
    },
  });
  return async (c, next) => {
    // An HTTP/1.1 request with neither header has no body. Hono's limiter would still rebuild the
    // request with the global Request class, which the Node adapter's own request does not accept.
    if (!c.req.header("content-length") && !c.req.header("transfer-encoding")) return next();
    return limit(c, next);
  };
}
