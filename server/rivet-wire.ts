/**
 * RivetKit's wire format between its client and its manager router, read strictly enough for the
 * gateway to refuse junk before RivetKit sees it: RivetKit 2.2.1 answers a body or header it
 * cannot decode with a 500. Also how RivetKit's own error answers become Kiln's.
 */
import { decode as cborDecode } from "cbor-x";
import type { KilnConnParams } from "../actors/auth.js";
import { ERROR_STATUS, isErrorCode, type ErrorCode } from "../shared/errors.js";

export type RivetEncoding = "json" | "cbor" | "bare";

export function parseEncoding(value: string | undefined): RivetEncoding | undefined {
  return value === "json" || value === "cbor" || value === "bare" ? value : undefined;
}

/** The connection params Kiln's actors read (actors/auth.ts); anything else is junk. */
const CONN_PARAM_KEYS: Record<keyof KilnConnParams, true> = { token: true, internal: true, actAs: true };
const MAX_CONN_PARAMS_CHARS = 4096;
/** Tokens, keys and user ids are short visible ASCII; a NUL here once reached a header and threw. */
const CONN_PARAM_VALUE = /^[\x21-\x7e]{0,1024}$/;

/** Conn params as the client sends them: a JSON object of short strings, keys from KilnConnParams. */
export function validConnParams(raw: string | undefined): boolean {
  if (raw === undefined) return true;
  if (raw.length > MAX_CONN_PARAMS_CHARS) return false;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return false;
  }
  // The client sends nothing at all when it has no params; `null` is the one other empty form.
  if (parsed === null) return true;
  if (typeof parsed !== "object" || Array.isArray(parsed)) return false;
  return Object.entries(parsed).every(([k, v]) => Object.hasOwn(CONN_PARAM_KEYS, k) && typeof v === "string" && CONN_PARAM_VALUE.test(v));
}

/** Deeper than this, no Kiln action input is real; decoders and zod recurse on it. */
const MAX_DEPTH = 32;

/** RivetKit's JSON encoding tags binary and bigint values as `["$Type", string]`; an unknown tag makes it throw. */
function validJsonTag(arr: unknown[]): boolean {
  const [tag, value] = arr;
  if (arr.length !== 2 || typeof tag !== "string" || !tag.startsWith("$") || tag.startsWith("$$")) return true;
  if (typeof value !== "string") return false;
  if (tag === "$BigInt") return /^-?\d{1,400}$/.test(value);
  if (tag === "$ArrayBuffer" || tag === "$Uint8Array") return /^[A-Za-z0-9+/]*={0,2}$/.test(value);
  return false;
}

/** Walks a decoded value without recursion: bounded depth, and valid JSON tags when `json`. */
function wellFormed(root: unknown, json: boolean): boolean {
  const stack: [unknown, number][] = [[root, 0]];
  while (stack.length) {
    const [value, depth] = stack.pop()!;
    if (typeof value !== "object" || value === null) continue;
    if (depth >= MAX_DEPTH) return false;
    if (Array.isArray(value)) {
      if (json && !validJsonTag(value)) return false;
      for (const v of value) stack.push([v, depth + 1]);
    } else if (!ArrayBuffer.isView(value) && !(value instanceof ArrayBuffer)) {
      for (const v of Object.values(value)) stack.push([v, depth + 1]);
    }
  }
  return true;
}

/** A little-endian base-128 length, as BARE writes `data` and `string` lengths. */
function readLength(bytes: Uint8Array, at: number): [length: number, next: number] | undefined {
  let value = 0;
  for (let i = 0; i < 5 && at + i < bytes.length; i++) {
    const b = bytes[at + i]!;
    value += (b & 0x7f) * 2 ** (7 * i);
    if ((b & 0x80) === 0) return [value, at + i + 1];
  }
  return undefined;
}

function readBytes(bytes: Uint8Array, at: number): [Uint8Array, number] | undefined {
  const len = readLength(bytes, at);
  if (!len || len[1] + len[0] > bytes.length) return undefined;
  return [bytes.subarray(len[1], len[1] + len[0]), len[1] + len[0]];
}

/** RivetKit's protocol versions (a u16 prefix) that 2.2.1 reads. */
const BARE_VERSIONS = new Set([1, 2, 3]);

function bareVersionOk(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && BARE_VERSIONS.has(bytes[0]! | (bytes[1]! << 8));
}

function decodeActionArgs(encoding: RivetEncoding, body: Uint8Array): unknown {
  if (encoding === "json") {
    const parsed: unknown = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(body));
    return wellFormed(parsed, true) ? (parsed as { args?: unknown } | null)?.args : undefined;
  }
  if (encoding === "cbor") {
    const decoded: unknown = cborDecode(body);
    return wellFormed(decoded, false) && typeof decoded === "object" ? (decoded as { args?: unknown } | null)?.args : undefined;
  }
  // bare: a version, then one `data` field holding the CBOR-encoded args, and nothing after it.
  if (!bareVersionOk(body)) return undefined;
  const data = readBytes(body, 2);
  if (!data || data[1] !== body.length) return undefined;
  const args: unknown = cborDecode(data[0]);
  return wellFormed(args, false) ? args : undefined;
}

/** An action call's body decodes, and its args are an array (RivetKit spreads them into the action). */
export function validActionBody(encoding: RivetEncoding, body: Uint8Array): boolean {
  try {
    return Array.isArray(decodeActionArgs(encoding, body));
  } catch {
    return false;
  }
}

/** An error as RivetKit's router answers it. */
export interface RivetError {
  group: string;
  code: string;
  message: string;
  metadata?: unknown;
}

function decodeBareError(bytes: Uint8Array): RivetError | undefined {
  if (!bareVersionOk(bytes)) return undefined;
  const text = new TextDecoder("utf-8", { fatal: true });
  const fields: string[] = [];
  let at = 2;
  for (let i = 0; i < 3; i++) {
    const field = readBytes(bytes, at);
    if (!field) return undefined;
    fields.push(text.decode(field[0]));
    at = field[1];
  }
  const [group = "", code = "", message = ""] = fields;
  const metadata = bytes[at] === 1 ? readBytes(bytes, at + 1) : undefined;
  return { group, code, message, metadata: metadata ? cborDecode(metadata[0]) : undefined };
}

/** Reads RivetKit's error answer in whichever encoding it chose, or undefined when it is not one. */
export function decodeRivetError(bytes: Uint8Array, contentType: string | null, encoding: RivetEncoding): RivetError | undefined {
  try {
    const json = encoding === "json" || contentType?.includes("application/json");
    const decoded: unknown = json ? JSON.parse(new TextDecoder().decode(bytes)) : encoding === "bare" ? decodeBareError(bytes) : cborDecode(bytes);
    const e = decoded as Partial<RivetError> | null | undefined;
    if (typeof e?.group !== "string" || typeof e.code !== "string" || typeof e.message !== "string") return undefined;
    return { group: e.group, code: e.code, message: e.message, metadata: e.metadata ?? undefined };
  } catch {
    return undefined;
  }
}

/**
 * Kiln's error body under /api/rivet: `{ error, message, details? }`, plus `group` and `code`, the
 * two fields RivetKit's client reads, so a refusal surfaces there as an ActorError with that code.
 */
export interface RivetErrorBody {
  error: ErrorCode;
  message: string;
  details?: unknown;
  group: string;
  code: string;
  metadata?: unknown;
  requestId?: string;
}

export function gatewayError(error: ErrorCode, message: string): RivetErrorBody {
  return { error, message, group: "kiln", code: error };
}

/** One answer for every id that names no actor, well-formed or not, so the answer reveals nothing. */
export const NO_SUCH_ACTOR: RivetErrorBody = { error: "not_found", message: "No such actor.", group: "actor", code: "not_found" };

const FIXED_MESSAGES: Partial<Record<string, string>> = {
  "actor.not_found": NO_SUCH_ACTOR.message,
  "action.not_found": "No such action.",
};

/**
 * Rewrites RivetKit's error answer into Kiln's vocabulary. Only Kiln's own actors' messages
 * (group `user`) pass through; RivetKit's name actor keys, ids, data paths or its docs URLs, so
 * they are replaced. `group` and `code` stay as RivetKit sent them: its client acts on them.
 */
export function kilnErrorFromRivet(status: number, err: RivetError | undefined, requestId: string | undefined): { status: number; body: RivetErrorBody } {
  if (status >= 500 || !err) {
    const error: ErrorCode = status >= 500 ? (status === 503 ? "service_unavailable" : "internal_error") : "invalid_request";
    const message =
      status >= 500 ? `Something went wrong on our side. Quote request id ${requestId ?? "?"} when reporting it.` : "The request was refused.";
    return { status: ERROR_STATUS[error], body: { error, message, group: err?.group ?? "kiln", code: err?.code ?? error, requestId } };
  }
  const { group, code } = err;
  if (group === "user" && isErrorCode(code) && ERROR_STATUS[code] < 500) {
    const body: RivetErrorBody = { error: code, message: err.message, group, code };
    if (err.metadata !== undefined) Object.assign(body, { details: err.metadata, metadata: err.metadata });
    return { status: ERROR_STATUS[code], body };
  }
  if (code === "incoming_too_long") {
    return { status: 413, body: { error: "payload_too_large", message: "The message is too large.", group, code } };
  }
  const error: ErrorCode = isErrorCode(code) && ERROR_STATUS[code] < 500 ? code : "invalid_request";
  const message = FIXED_MESSAGES[`${group}.${code}`] ?? `The request was refused (${group}.${code}).`;
  return { status: ERROR_STATUS[error], body: { error, message, group, code } };
}

/**
 * The close code for a WebSocket RivetKit refuses. RivetKit closes every refusal with 1011
 * (server error) and `<group>.<code>` as the reason; a refusal that is the client's to fix gets
 * 4000 + the HTTP status of its Kiln code instead (4401 unauthorized, 4403 forbidden, 4404…).
 */
export function refusalCloseCode(reason: string): number | undefined {
  const code = reason.split("#")[0]?.split(".")[1];
  if (!isErrorCode(code)) return undefined;
  const status: number = ERROR_STATUS[code];
  return status >= 400 && status < 500 ? 4000 + status : undefined;
}
