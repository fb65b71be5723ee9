import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { KilnError } from "../../shared/errors.js";
import { errorResponses } from "../../shared/schemas/common.js";
import { text } from "../../shared/schemas/text.js";
// The package index also evaluates the 1.5 MB UI bundle; only its directory is needed here.
import getAbsoluteFSPath from "swagger-ui-dist/absolute-path.js";
import type { KilnEnv } from "../types.js";

/** A Map, not an object: `__proto__` or `constructor` in the path must not find anything. */
const ASSETS = new Map([
  ["swagger-ui.css", "text/css; charset=utf-8"],
  ["swagger-ui-bundle.js", "text/javascript; charset=utf-8"],
]);

const PAGE = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Kiln API</title><link rel="stylesheet" href="/docs/assets/swagger-ui.css"></head>
<body><div id="docs"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script>window.ui = SwaggerUIBundle({ url: "/openapi.json", dom_id: "#docs" });</script>
</body></html>`;

/** Public: the API's description, readable before signing in. */
const base = { tags: ["docs"] };
const openapi = createRoute({
  ...base,
  method: "get",
  path: "/openapi.json",
  summary: "This API's OpenAPI 3.1 document, generated from the schemas the routes validate with",
  responses: { 200: { description: "The document", content: { "application/json": { schema: z.record(z.string(), z.unknown()) } } } },
});
const page = createRoute({
  ...base,
  method: "get",
  path: "/docs",
  summary: "The document rendered by Swagger UI, served offline",
  responses: { 200: { description: "The page", content: { "text/html": { schema: z.string() } } } },
});
const asset = createRoute({
  ...base,
  method: "get",
  path: "/docs/assets/{file}",
  summary: "Swagger UI's stylesheet and script",
  request: { params: z.object({ file: text(64) }) },
  responses: {
    200: { description: "The asset", content: { "text/css": { schema: z.string() }, "text/javascript": { schema: z.string() } } },
    ...errorResponses(400, 404),
  },
});

/**
 * RivetKit's router registers its own routes (actor creation, raw storage) that Kiln's guard
 * refuses to clients; they are not part of Kiln's API. Clients reach actors through the
 * RivetKit client, documented in ACTORS.md.
 */
function withoutRivetInternals<T extends { paths?: Record<string, unknown> }>(doc: T): T {
  const paths = Object.fromEntries(Object.entries(doc.paths ?? {}).filter(([path]) => !path.startsWith("/api/rivet")));
  return { ...doc, paths };
}

/** `/openapi.json` from the same zod schemas the routes validate with, and `/docs` rendering it offline. */
export function docsRoutes(api: OpenAPIHono<KilnEnv>, version: string) {
  api.openAPIRegistry.registerComponent("securitySchemes", "bearer", { type: "http", scheme: "bearer" });
  api.openAPIRegistry.registerComponent("securitySchemes", "cookie", {
    type: "apiKey",
    in: "cookie",
    name: "better-auth.session_token",
  });
  let document: unknown;
  return new OpenAPIHono<KilnEnv>()
    .openapi(openapi, (c) => {
      document ??= withoutRivetInternals(
        api.getOpenAPI31Document({
          openapi: "3.1.0",
          info: { title: "Kiln API", version, description: "Kiln: a backend for coding-agent work on RivetKit actors." },
        }),
      );
      return c.json(document as Record<string, unknown>, 200);
    })
    .openapi(page, (c) => c.html(PAGE, 200))
    .openapi(asset, async (c) => {
      const { file } = c.req.valid("param");
      const type = ASSETS.get(file);
      if (!type) throw new KilnError("not_found", "No such asset.");
      const body = await readFile(join(getAbsoluteFSPath(), file));
      return c.body(new Uint8Array(body), 200, { "content-type": type, "cache-control": "public, max-age=86400" });
    });
}
