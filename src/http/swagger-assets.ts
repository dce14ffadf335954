import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { join } from "node:path";

/** The Swagger UI files the /docs page loads, served by the service itself: no CDN, works offline. */
const ASSETS: Record<string, string> = {
  "swagger-ui.css": "text/css; charset=utf-8",
  "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
};

const distDir = (): string => {
  const require = createRequire(import.meta.url);
  return (require("swagger-ui-dist") as { getAbsoluteFSPath(): string }).getAbsoluteFSPath();
};

export type SwaggerAssets = ReadonlyMap<string, { readonly body: Uint8Array; readonly contentType: string }>;

export async function loadSwaggerAssets(): Promise<SwaggerAssets> {
  const dir = distDir();
  const assets = new Map<string, { body: Uint8Array; contentType: string }>();
  for (const [name, contentType] of Object.entries(ASSETS)) {
    assets.set(name, { body: await readFile(join(dir, name)), contentType });
  }
  return assets;
}
