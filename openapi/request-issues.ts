import type { z } from "@hono/zod-openapi";
import { closestField } from "./closest-field.js";

type Issue = z.core.$ZodRawIssue;

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;
/** A string value longer than this is not repeated back in a message. */
const MAX_SHOWN_STRING = 40;

/** What a value of each zod type is, for a field that does not say more. */
const EXPECTED: Readonly<Record<string, string>> = {
  string: "a string",
  number: "a number",
  int: "a whole number",
  boolean: "true or false",
  object: "a JSON object",
  record: "a JSON object",
  array: "an array",
};

/** A field's path as the client writes it in JSON: `files[2].encoding`. */
export function clientPath(path: readonly PropertyKey[]): string {
  let written = "";
  for (const key of path) {
    if (typeof key === "number") written += `[${key}]`;
    else if (typeof key === "string" && IDENTIFIER.test(key)) written += written === "" ? key : `.${key}`;
    else written += `[${JSON.stringify(String(key))}]`;
  }
  return written;
}

/** A value the client sent, as a message repeats it: 1.5, null, "hex", an array. */
function shown(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return "an object";
  if (typeof value === "string") return value.length <= MAX_SHOWN_STRING ? JSON.stringify(value) : "a long string";
  return String(value);
}

/** The fields of the object that raised `issue`, in their order. */
function knownFields(issue: Issue): string[] {
  const def = issue.inst?._zod.def;
  return def !== undefined && "shape" in def ? Object.keys(def.shape as object) : [];
}

function unknownField(objectPath: readonly PropertyKey[], key: string, known: readonly string[]): string {
  const named = `unknown field \`${clientPath([...objectPath, key])}\``;
  const meant = closestField(key, known);
  if (meant === undefined) return named;
  return meant === "script" ? `${named}; the script goes in \`script\`` : `${named}; did you mean \`${meant}\`?`;
}

function bound(issue: Extract<Issue, { code: "too_small" | "too_big" }>, limit: number | bigint): string {
  const comparison = issue.code === "too_small" ? (issue.inclusive ? "at least" : "more than") : issue.inclusive ? "at most" : "less than";
  const unit = issue.origin === "string" ? " characters" : issue.origin === "array" ? " items" : "";
  return `${comparison} ${limit}${unit}`;
}

function sentence(issue: Issue, expected: string | undefined): string {
  const path = issue.path ?? [];
  const field = path.length === 0 ? "the request" : clientPath(path);
  switch (issue.code) {
    case "invalid_type": {
      if (issue.input === undefined) return `${field} is required`;
      const value = shown(issue.input);
      const isQuoted = value.startsWith('"');
      return `${field} must be ${expected ?? EXPECTED[issue.expected] ?? issue.expected}, not ${isQuoted ? `the string ${value}` : value}`;
    }
    case "too_small":
      if (issue.origin === "string" && Number(issue.minimum) === 1) return `${field} must not be empty`;
      return `${field} must be ${bound(issue, issue.minimum)}`;
    case "too_big":
      return `${field} must be ${bound(issue, issue.maximum)}`;
    case "invalid_value":
      return `${field} must be ${issue.values.map((value) => JSON.stringify(value)).join(" or ")}, not ${shown(issue.input)}`;
    case "unrecognized_keys":
      return issue.keys.map((key) => unknownField(path, key, knownFields(issue))).join("; ");
    case "custom":
      return `${field} ${String(issue.params?.problem ?? "is not valid")}`;
    default:
      return `${field} is not valid`;
  }
}

/**
 * The error map of a request's fields, POST /execute's body and the MCP tool's arguments alike:
 * each zod issue as a sentence in the client's words, naming the field as the client wrote it
 * (`files[2].encoding must be "utf-8" or "base64", not "hex"`). `expected` is what the field
 * holds, said once beside it in the schema ("a whole number of milliseconds"); without it, what
 * its type is ("a string"). An unknown field is named with the closest known one, if any
 * (closestField). A refinement's issue carries its own predicate as `params.problem`
 * (`is absolute`), which follows the field's path.
 */
export const issueMessages =
  (expected?: string): z.core.$ZodErrorMap =>
  (issue) =>
    sentence(issue, expected);

/** The message of an INVALID_REQUEST for a request's issues: every one of them, in order. */
export const invalidRequestMessage = (issues: readonly { readonly message: string }[]): string =>
  `Invalid request: ${issues.map((issue) => issue.message).join("; ")}`;
