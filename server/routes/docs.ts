import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { OpenAPIHono } from "@hono/zod-openapi";
import { Hono } from "hono";
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
  const app = new Hono<KilnEnv>();
  app.get("/openapi.json", (c) => {
    document ??= withoutRivetInternals(
      api.getOpenAPI31Document({
        openapi: "3.1.0",
        info: { title: "Kiln API", version, description: "Kiln: a backend for coding-agent work on RivetKit actors." },
      }),
    );
    return c.json(document as object);
  });
  app.get("/docs", (c) => c.html(PAGE));
  app.get("/docs/assets/:file", async (c) => {
    const file = c.req.param("file");
    const type = ASSETS.get(file);
    if (!type) return c.json({ error: "not_found", message: "No such asset." }, 404);
    const body = await readFile(join(getAbsoluteFSPath(), file));
    return c.body(body, 200, { "content-type": type, "cache-control": "public, max-age=86400" });
  });
  return app;
}
