import { expect } from "vitest";
import type { ErrorBody, ExecuteSuccessBody } from "../../openapi/schemas.js";

/** What the tests need of the app: requests through `app.request()`, no socket (see listen() for one). */
export interface App {
  request(input: string | Request, init?: RequestInit): Response | Promise<Response>;
}

/**
 * The body of a POST /execute response, as the OpenAPI schemas declare it: a success or an
 * error, so each field may be absent (the test's expectations say which one it got). `result`
 * is `unknown` unless a test that expects a success names what its main() returns.
 */
export type ExecuteResponseBody<Result = unknown> = Partial<Omit<ExecuteSuccessBody, "result"> & ErrorBody> & { readonly result: Result };

/** A response of POST /execute: status, headers, the body's text and the body parsed. */
export interface ExecuteResponse<Result = unknown> {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  readonly body: ExecuteResponseBody<Result>;
}

async function parsed<Result>(response: Response): Promise<ExecuteResponse<Result>> {
  const text = await response.text();
  return { status: response.status, headers: response.headers, text, body: JSON.parse(text) as ExecuteResponseBody<Result> };
}

/** POSTs a script (and any other fields of the request) to /execute as JSON; `Result` is what its main() returns. */
export const execute = async <Result = unknown>(app: App, script: string, extra: Record<string, unknown> = {}): Promise<ExecuteResponse<Result>> =>
  parsed(await app.request("/execute", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ script, ...extra }) }));

/** POSTs a body exactly as given (as curl -d would), with the given content type. */
export async function postRaw(app: App, body: string | Uint8Array, contentType: string | null = "application/json"): Promise<ExecuteResponse> {
  const headers: Record<string, string> = contentType === null ? {} : { "content-type": contentType };
  return parsed(await app.request("/execute", { method: "POST", headers, body: body as BodyInit }));
}

/** Asserts the HTTP status, showing the whole body when it is not the expected one. */
export function expectStatus(res: { status: number; text: string }, status: number): void {
  expect(res.status, `HTTP ${res.status}: ${res.text.slice(0, 2000)}`).toBe(status);
}

/**
 * Python source written as it would be in a .py file: backslashes are kept as they are
 * (String.raw) and the common indentation is removed.
 */
export function py(strings: TemplateStringsArray, ...values: unknown[]): string {
  const text = String.raw(strings, ...values).replace(/^\n/, "");
  const lines = text.split("\n");
  const indents = lines.filter((line) => line.trim() !== "").map((line) => /^ */.exec(line)![0].length);
  const common = Math.min(...indents);
  return lines
    .map((line) => line.slice(common))
    .join("\n")
    .replace(/[ ]+$/, "");
}

/** A marker no other test (or run) will ever print or pass as an argument. */
export const uniqueMarker = (): string => `${process.pid}${Date.now()}${Math.floor(Math.random() * 1e9)}`;
