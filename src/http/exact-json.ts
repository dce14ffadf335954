type SourceReviver = (this: unknown, key: string, value: unknown, context: { readonly source: string }) => unknown;

// JSON.parse's source text access and JSON.rawJSON (ES2026; in Node since 21) are not in this TypeScript's lib.
const parseWithSource = JSON.parse as (text: string, reviver: SourceReviver) => unknown;
const rawJSON = (JSON as unknown as { rawJSON(text: string): unknown }).rawJSON;

/**
 * The JSON text of `field` in a JSON object body, with every number spelled as the client
 * wrote it: integers beyond 2^53 stay exact and 1.0 stays a float for Python.
 */
export function exactFieldJson(body: string, field: string): string {
  const parsed = parseWithSource(body, (_key, value, context) => (typeof value === "number" ? rawJSON(context.source) : value));
  return JSON.stringify((parsed as Record<string, unknown>)[field]);
}
