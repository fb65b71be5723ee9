import { gzipSync } from "node:zlib";
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { Logger } from "pino";
import { KilnError } from "../../shared/errors.js";
import { errorResponses } from "../../shared/schemas/common.js";
import { text } from "../../shared/schemas/text.js";
import type { KilnEnv } from "../types.js";
import type { WebBundle } from "../web-bundle.js";

/** What the page needs to know about this Kiln before anyone signs in. */
export interface PageConfig {
  /** "Sign in with GitHub" is offered only when GitHub OAuth is configured. */
  github: boolean;
}

/** Public: the page signs in itself. */
const base = { tags: ["workbench"] };
const page = createRoute({
  ...base,
  method: "get",
  path: "/",
  summary: "The workbench page",
  responses: { 200: { description: "The page", content: { "text/html": { schema: z.string() } } }, ...errorResponses(503) },
});
const asset = createRoute({
  ...base,
  method: "get",
  path: "/web/{file}",
  summary: "The workbench page's script and stylesheet; the name carries a content hash, so they are cached for good",
  request: { params: z.object({ file: text(32).regex(/^app\.[0-9a-f]{16}\.(js|css)$/) }) },
  responses: {
    200: { description: "The asset", content: { "text/javascript": { schema: z.string() }, "text/css": { schema: z.string() } } },
    ...errorResponses(400, 404, 503),
  },
});

const escapeAttr = (s: string) => s.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;");

function html(bundle: WebBundle, config: PageConfig): string {
  // Config rides in a meta tag rather than an inline script, so a strict CSP can forbid inline scripts.
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="kiln-config" content="${escapeAttr(JSON.stringify(config))}">
<title>Kiln</title>
<link rel="stylesheet" href="/web/app.${bundle.css.hash}.css">
<script type="module" src="/web/app.${bundle.js.hash}.js"></script>
</head>
<body><div id="app"><p class="boot">Loading Kiln…</p></div></body>
</html>`;
}

/** The workbench page at `/`, served by Kiln itself from a bundle built at startup (`server/web-bundle.ts`). */
export function webRoutes(bundle: Promise<WebBundle>, config: PageConfig, logger: Logger) {
  bundle.catch((err: unknown) => {
    logger.error({ err }, "the workbench page failed to build; / answers 503 until Kiln restarts with a fixed web/");
  });
  const ready = async () => {
    try {
      return await bundle;
    } catch {
      throw new KilnError("service_unavailable", "The workbench page failed to build; see Kiln's log.");
    }
  };
  // Compressed once per asset, on first request: browsers all take gzip, and the script shrinks fivefold.
  const gzipped = new Map<string, Buffer>();
  const gzipOf = (hash: string, body: string) => {
    let gz = gzipped.get(hash);
    if (!gz) gzipped.set(hash, (gz = gzipSync(body, { level: 9 })));
    return gz;
  };
  return new OpenAPIHono<KilnEnv>()
    .openapi(page, async (c) => {
      const b = await ready();
      c.header("cache-control", "no-cache");
      return c.html(html(b, config), 200);
    })
    .openapi(asset, async (c) => {
      const b = await ready();
      const { file } = c.req.valid("param");
      const kind = file.endsWith(".js") ? "js" : "css";
      const a = b[kind];
      if (file !== `app.${a.hash}.${kind}`) throw new KilnError("not_found", "No such asset; reload the page for the current one.");
      c.header("content-type", kind === "js" ? "text/javascript; charset=utf-8" : "text/css; charset=utf-8");
      c.header("cache-control", "public, max-age=31536000, immutable");
      c.header("vary", "accept-encoding");
      if (/\bgzip\b/.test(c.req.header("accept-encoding") ?? "")) {
        c.header("content-encoding", "gzip");
        return c.body(new Uint8Array(gzipOf(a.hash, a.body)), 200);
      }
      return c.body(a.body, 200);
    });
}
