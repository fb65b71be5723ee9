import { z } from "zod";

/** PostgreSQL cannot store NUL in text (22021), and no name, id or message of Kiln's needs one. */
export const WITHOUT_NUL = /^[^\u0000]*$/;

/**
 * Every string Kiln accepts from a client: at most `max` characters, and no NUL. Chain further
 * checks on it (`text(120).trim().min(1)`).
 */
export function text(max: number) {
  return z.string().max(max).regex(WITHOUT_NUL, "must not contain NUL characters");
}

/**
 * An id taken from a URL path. Its shape is the resource's business: a malformed id of any
 * length answers the same 404 as a well-formed unknown one. The bound is what an HTTP request
 * line can carry anyway.
 */
export function pathId() {
  return text(16_384);
}
