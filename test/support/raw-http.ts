import { request } from "node:http";

export interface RawResponse {
  status: number;
  contentType: string;
  text: string;
}

/**
 * One HTTP request with the path sent byte for byte (no URL normalization, so `..%2F`, `%00`
 * and malformed escapes reach Kiln as a client could send them).
 */
export function rawRequest(
  baseUrl: string,
  opts: { method: string; path: string; headers?: Record<string, string>; body?: string | Buffer },
): Promise<RawResponse> {
  const url = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        method: opts.method,
        path: opts.path,
        // A fresh connection each time: a reused keep-alive socket can be closed under the request.
        agent: false,
        // Node frames a DELETE's body only when told its length.
        headers: { origin: url.origin, ...(opts.body === undefined ? {} : { "content-length": String(Buffer.byteLength(opts.body)) }), ...opts.headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, contentType: String(res.headers["content-type"] ?? ""), text: Buffer.concat(chunks).toString("utf8") }),
        );
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(opts.body);
  });
}
