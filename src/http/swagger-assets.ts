import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

/** The Swagger UI files the /docs page loads, served by the service itself: no CDN, works offline. */
const ASSETS: Record<string, string> = {
  "swagger-ui.css": "text/css; charset=utf-8",
  "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
};

// The package's directory from its package.json: its main module would run the whole Swagger UI
// bundle in the server, 38 MiB of resident memory for nothing it serves.
const distDir = (): string => dirname(createRequire(import.meta.url).resolve("swagger-ui-dist/package.json"));

export type SwaggerAssets = ReadonlyMap<string, { readonly body: Uint8Array; readonly contentType: string }>;

export async function loadSwaggerAssets(): Promise<SwaggerAssets> {
  const dir = distDir();
  const assets = new Map<string, { body: Uint8Array; contentType: string }>();
  for (const [name, contentType] of Object.entries(ASSETS)) {
    assets.set(name, { body: await readFile(join(dir, name)), contentType });
  }
  return assets;
}
