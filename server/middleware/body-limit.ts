import type { MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { KilnError } from "../../shared/errors.js";
import type { KilnEnv } from "../types.js";

/** Refuses a body over `maxBytes` with 413 `payload_too_large`, without reading the rest of it. */
export function limitBody(maxBytes: number): MiddlewareHandler<KilnEnv> {
  return bodyLimit({
    maxSize: maxBytes,
    onError: () => {
      throw new KilnError("payload_too_large", `The request body is larger than ${maxBytes} bytes.`);
    },
  });
}
