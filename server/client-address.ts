import { BlockList, isIP } from "node:net";
import type { Context } from "hono";

/** A CIDR (`10.0.0.0/8`, `fd00::/8`) or a single address, as KILN_TRUSTED_PROXIES lists them. */
export interface Cidr {
  address: string;
  prefix: number;
  family: "ipv4" | "ipv6";
}

/** Parses one CIDR or address; null when it is neither. */
export function parseCidr(text: string): Cidr | null {
  const [address = "", prefixText, ...rest] = text.trim().split("/");
  const version = isIP(address);
  if (!version || rest.length) return null;
  const max = version === 4 ? 32 : 128;
  const prefix = prefixText === undefined ? max : /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : NaN;
  if (!(prefix >= 0 && prefix <= max)) return null;
  return { address, prefix, family: version === 4 ? "ipv4" : "ipv6" };
}

function familyOf(address: string): "ipv4" | "ipv6" | null {
  const version = isIP(address);
  return version === 4 ? "ipv4" : version === 6 ? "ipv6" : null;
}

/**
 * Who is on the other end of a request: the socket's address, unless that is a trusted proxy,
 * in which case `X-Forwarded-For` is read from the right, past every trusted hop. Anyone else's
 * forwarding headers are ignored, so a client cannot pick its own address.
 */
export class ClientAddresses {
  private readonly trusted = new BlockList();
  private readonly any: boolean;

  constructor(trustedProxies: Cidr[]) {
    for (const c of trustedProxies) this.trusted.addSubnet(c.address, c.prefix, c.family);
    this.any = trustedProxies.length > 0;
  }

  private isTrusted(address: string): boolean {
    const family = familyOf(address);
    return this.any && family !== null && this.trusted.check(address, family);
  }

  /** The client's address for a request; `in-process` for requests that came through no socket. */
  of(c: Context): string {
    const socket = (c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)?.incoming?.socket?.remoteAddress;
    if (!socket) return "in-process";
    if (!this.isTrusted(socket)) return socket;
    let client = socket;
    const hops = (c.req.header("x-forwarded-for") ?? "").split(",").map((h) => h.trim()).filter(Boolean);
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = hops[i]!;
      // A hop that is not an address was written by someone untrusted: the last good hop answers for it.
      if (!familyOf(hop)) break;
      client = hop;
      if (!this.isTrusted(hop)) break;
    }
    return client;
  }
}
