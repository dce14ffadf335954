import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";

/** A file of the playground, held in memory with its gzip encoding and validator, computed once. */
interface PlaygroundAsset {
  readonly body: Uint8Array;
  readonly gzipped: Uint8Array;
  readonly contentType: string;
  readonly etag: string;
}

export type PlaygroundAssets = ReadonlyMap<string, PlaygroundAsset>;

const FILES: Record<string, string> = {
  "index.html": "text/html; charset=utf-8",
  "playground.js": "text/javascript; charset=utf-8",
  "playground.css": "text/css; charset=utf-8",
  "favicon.svg": "image/svg+xml",
};

/** Reads the built playground (scripts/build-playground.ts); a missing file stops start-up, as a half-built image should. */
export async function loadPlaygroundAssets(dir: string): Promise<PlaygroundAssets> {
  const assets = new Map<string, PlaygroundAsset>();
  for (const [name, contentType] of Object.entries(FILES)) {
    let body: Uint8Array;
    try {
      body = await readFile(join(dir, name));
    } catch (error) {
      throw new Error(`The playground is not built (${join(dir, name)}: ${(error as Error).message}): run \`npm run build\``);
    }
    const etag = `"${createHash("sha256").update(body).digest("base64url").slice(0, 22)}"`;
    assets.set(name, { body, gzipped: gzipSync(body, { level: 9 }), contentType, etag });
  }
  return assets;
}

/** Whether the client takes gzip: named (or `*`) in Accept-Encoding without q=0. */
function acceptsGzip(header: string | undefined): boolean {
  return (header ?? "").split(",").some((entry) => {
    const [coding, ...params] = entry.trim().toLowerCase().split(";");
    if (coding !== "gzip" && coding !== "*") return false;
    const q = params.map((param) => /^\s*q=([\d.]+)\s*$/.exec(param)?.[1]).find((value) => value !== undefined);
    return q === undefined || Number(q) > 0;
  });
}

/** Revalidated on every load (no-cache with an ETag): a new version shows at once, an unchanged one costs a 304. */
function send(c: Context, asset: PlaygroundAsset): Response {
  const headers: Record<string, string> = {
    "content-type": asset.contentType,
    "cache-control": "no-cache",
    etag: asset.etag,
    vary: "accept-encoding",
  };
  if (c.req.header("if-none-match") === asset.etag) return new Response(null, { status: 304, headers });
  if (acceptsGzip(c.req.header("accept-encoding"))) {
    return new Response(asset.gzipped as Uint8Array<ArrayBuffer>, { status: 200, headers: { ...headers, "content-encoding": "gzip" } });
  }
  return new Response(asset.body as Uint8Array<ArrayBuffer>, { status: 200, headers });
}

/** The playground at GET /, its script and stylesheet under /playground/, and the service's icon at /favicon.ico. */
export function installPlayground(app: OpenAPIHono, assets: PlaygroundAssets): void {
  const page = assets.get("index.html");
  const icon = assets.get("favicon.svg");
  if (!page || !icon) throw new Error("the playground assets have no index.html or favicon.svg");
  app.get("/", (c) => send(c, page));
  // Where browsers and other clients look for a site's icon: the SVG, as image/svg+xml (an image is taken by its type, not its name).
  app.get("/favicon.ico", (c) => send(c, icon));
  app.get("/playground/:file", (c) => {
    const file = c.req.param("file");
    const asset = file === "index.html" ? undefined : assets.get(file);
    return asset ? send(c, asset) : c.notFound();
  });
}
