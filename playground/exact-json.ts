/**
 * JSON shown as the service sent it. The service passes main()'s result through unparsed, so
 * integers beyond 2^53 and float spellings (`23.0`, `1e400`) arrive exactly; JSON.parse would
 * turn them into the nearest double. Parsed here with the source text of each number kept
 * (JSON.parse's reviver context, where the browser has it), and formatted back with it.
 */

/** A JSON number as it was spelled. */
export class JsonNumber {
  constructor(readonly source: string) {}
}

interface ReviverContext {
  readonly source?: string;
}

export function parseExact(text: string): unknown {
  return JSON.parse(text, (_key: string, value: unknown, context?: ReviverContext) =>
    typeof value === "number" && context?.source !== undefined ? new JsonNumber(context.source) : value,
  );
}

/** Like JSON.stringify(value, null, 2), with each JsonNumber as it was spelled. */
export function formatJson(value: unknown, indent = ""): string {
  if (value instanceof JsonNumber) return value.source;
  const inner = `${indent}  `;
  if (Array.isArray(value)) {
    if (value.length === 0) return "[]";
    return `[\n${value.map((item) => inner + formatJson(item, inner)).join(",\n")}\n${indent}]`;
  }
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value);
    if (entries.length === 0) return "{}";
    return `{\n${entries.map(([key, item]) => `${inner}${JSON.stringify(key)}: ${formatJson(item, inner)}`).join(",\n")}\n${indent}}`;
  }
  return JSON.stringify(value);
}
