import { gunzipSync } from "node:zlib";
import { beforeAll, describe, expect, it } from "vitest";
import { type CapturedOutput, NO_OUTPUT } from "../../domain/captured-output.js";
import { type ExecutionRequest, MIN_MEMORY_MB } from "../../domain/execution-request.js";
import { failure } from "../../domain/execution-result.js";
import { FAILURE_CODES } from "../../domain/failure-code.js";
import { MAX_INPUT_PATH_BYTES } from "../../domain/input-files.js";
import { err, ok } from "../../domain/result.js";
import type { SandboxOutcome } from "../../domain/sandbox.port.js";
import { ERROR_CODES, type ErrorCode, ROUTING_ERROR_CODES } from "../../openapi/error-codes.js";
import { ERROR_EXAMPLES } from "../../openapi/error-examples.js";
import { executeRequestSchema, executeSuccessSchema, type HealthBody } from "../../openapi/schemas.js";
import { STATUS_BY_CODE } from "../../openapi/status-by-code.js";
import { playgroundBundleDir, projectRoot } from "../project-paths.js";
import { type AppDeps, createApp } from "./app.js";
import { type ExecuteLimits, maxBodyBytes } from "./execute.js";
import { loadPlaygroundAssets } from "./playground.js";
import { loadSwaggerAssets } from "./swagger-assets.js";

const LIMITS = { maxTimeoutMs: 10_000, maxMemoryMb: 256, maxScriptBytes: 1000, maxInputFiles: 3, maxInputFilesBytes: 1000 };
const HEALTH: HealthBody = { status: "ok", backend: "fake", isolation: "none: a test fake", python: "3.11.2", packages: { numpy: "2" } };
/** Limits where the body cap's room for the other fields (and for the files) does not hide how the script is counted. */
const LARGE_SCRIPT_LIMITS = { ...LIMITS, maxScriptBytes: 256 * 1024 };
/** The same with room for files large enough that the cap's room for the other fields does not hide how they are counted. */
const LARGE_LIMITS = { ...LARGE_SCRIPT_LIMITS, maxInputFilesBytes: 1024 * 1024 };

/** `text` as a JSON string with every UTF-16 unit escaped as \uXXXX: the longest way JSON can spell it. */
const escapedAtWorst = (text: string): string =>
  `"${Array.from({ length: text.length }, (_, i) => `\\u${text.charCodeAt(i).toString(16).padStart(4, "0")}`).join("")}"`;

/** A path of MAX_INPUT_PATH_BYTES, in names of at most 255 bytes, starting with `tag`. */
const longestPath = (tag: string): string => [tag.padEnd(254, "a"), "b".repeat(255), "c".repeat(255), "d".repeat(255), "e"].join("/");

const OUTPUT: CapturedOutput = { stdout: "printed\n", stderr: "warned\n", stdoutTruncated: false, stderrTruncated: true };

let swaggerAssets: AppDeps["swaggerAssets"];
let playgroundAssets: AppDeps["playgroundAssets"];
beforeAll(async () => {
  swaggerAssets = await loadSwaggerAssets();
  playgroundAssets = await loadPlaygroundAssets(playgroundBundleDir(projectRoot()));
});

/** The app over a fake execute function: no sandbox, no Python, no socket. `calls` are the requests without their signals. */
function appWith(
  execute: (request: ExecutionRequest) => Promise<SandboxOutcome> = async () => ok({ resultJson: "null", output: NO_OUTPUT, durationMs: 1 }),
  limits: ExecuteLimits = LIMITS,
) {
  const calls: Omit<ExecutionRequest, "signal">[] = [];
  const internalErrors: unknown[] = [];
  const app = createApp({
    execute: (request) => {
      const { signal: _, ...call } = request;
      calls.push(call);
      return execute(request);
    },
    health: () => HEALTH,
    limits,
    swaggerAssets,
    playgroundAssets,
    onInternalError: (error) => internalErrors.push(error),
  });
  return { app, calls, internalErrors };
}

type App = ReturnType<typeof appWith>["app"];

const post = (app: App, body: BodyInit | null, headers: Record<string, string> = { "content-type": "application/json" }) =>
  app.request("/execute", { method: "POST", headers, body });

const postJson = (app: App, value: unknown) => post(app, JSON.stringify(value));

async function errorBody(response: Response) {
  expect(response.headers.get("content-type")).toMatch(/^application\/json/);
  const body = (await response.json()) as Record<string, unknown>;
  expect(typeof body.error).toBe("string");
  expect(body).toHaveProperty("stdout");
  expect(body).toHaveProperty("stderr");
  return body;
}

describe("POST /execute", () => {
  it("200: the result is spliced in as the sandbox wrote it, with the output fields", async () => {
    const resultJson = '{"big": 18446744073709551616, "pi": 3.141592653589793238, "f": 1.0, "s": "é🐍"}';
    const { app, calls } = appWith(async () => ok({ resultJson, output: OUTPUT, durationMs: 42 }));

    const response = await postJson(app, { script: "def main(): ..." });

    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^application\/json/);
    const text = await response.text();
    // Not re-serialized: 2^64 and the float spellings survive byte for byte.
    expect(text).toContain(`"result":${resultJson}`);
    expect(text).toContain("18446744073709551616");
    expect(text).toContain("3.141592653589793238");
    expect(JSON.parse(text)).toEqual({
      result: { big: 2 ** 64, pi: Math.PI, f: 1, s: "é🐍" },
      stdout: "printed\n",
      stderr: "warned\n",
      stdoutTruncated: false,
      stderrTruncated: true,
      durationMs: 42,
    });
    expect(calls).toEqual([{ script: "def main(): ...", timeoutMs: LIMITS.maxTimeoutMs, memoryMb: LIMITS.maxMemoryMb }]);
  });

  it("hands the run the request's signal: a client that goes away cancels it", async () => {
    const client = new AbortController();
    const { app } = appWith(
      (request) =>
        new Promise((resolve) => {
          request.signal?.addEventListener("abort", () => resolve(err(failure("CANCELLED", "gone", NO_OUTPUT))));
          client.abort();
        }),
    );
    const response = await app.request("/execute", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: '{"script":"x"}',
      signal: client.signal,
    });
    expect(response.status).toBe(499);
    expect(await errorBody(response)).toMatchObject({ code: "CANCELLED" });
  });

  it.each(["null", "0", '"text"', "[1,2]"])("200 with the JSON value %s as the result", async (resultJson) => {
    const { app } = appWith(async () => ok({ resultJson, output: NO_OUTPUT, durationMs: 1 }));
    const body = (await (await postJson(app, { script: "x" })).json()) as { result: unknown };
    expect(body.result).toEqual(JSON.parse(resultJson));
  });

  it("passes per-request limits through", async () => {
    const { app, calls } = appWith();
    expect((await postJson(app, { script: "x", timeoutMs: 1500, memoryMb: 64 })).status).toBe(200);
    expect((await postJson(app, { script: "y", timeoutMs: LIMITS.maxTimeoutMs, memoryMb: LIMITS.maxMemoryMb })).status).toBe(200);
    expect(calls).toEqual([
      { script: "x", timeoutMs: 1500, memoryMb: 64 },
      { script: "y", timeoutMs: LIMITS.maxTimeoutMs, memoryMb: LIMITS.maxMemoryMb },
    ]);
  });

  describe("args and files", () => {
    it("args reach the sandbox as the exact JSON text the client sent: big integers and 1.0 intact", async () => {
      const { app, calls } = appWith();
      const body = '{"script": "x", "args": {"big": 18446744073709551617, "f": 1.0, "e": 1e400, "nested": [{"n": -0.0}], "s": "é"}}';
      expect((await post(app, body)).status).toBe(200);
      expect(calls[0]?.argsJson).toBe('{"big":18446744073709551617,"f":1.0,"e":1e400,"nested":[{"n":-0.0}],"s":"é"}');
    });

    it("without args, the request has none (main() is called with no arguments)", async () => {
      const { app, calls } = appWith();
      await postJson(app, { script: "x" });
      expect(calls[0]).not.toHaveProperty("argsJson");
      expect(calls[0]).not.toHaveProperty("files");
    });

    it.each<[string, unknown]>([
      ["an array", [1, 2]],
      ["a string", "name=Ada"],
      ["null", null],
      ["a number", 3],
    ])("args that are %s: 400 INVALID_REQUEST naming args", async (_name, args) => {
      const { app, calls } = appWith();
      const response = await postJson(app, { script: "x", args });
      expect(response.status).toBe(400);
      const body = await errorBody(response);
      expect(body.code).toBe("INVALID_REQUEST");
      expect(body.error).toContain("args");
      expect(calls).toEqual([]);
    });

    it("files reach the sandbox with utf-8 as the default encoding", async () => {
      const { app, calls } = appWith();
      const files = [
        { path: "data/in.csv", content: "a\n1\n" },
        { path: "b.bin", content: "AAE=", encoding: "base64" },
      ];
      expect((await postJson(app, { script: "x", files })).status).toBe(200);
      expect(calls[0]?.files).toEqual([
        { path: "data/in.csv", content: "a\n1\n", encoding: "utf-8" },
        { path: "b.bin", content: "AAE=", encoding: "base64" },
      ]);
    });

    it.each<[string, unknown, string]>([
      ["an absolute path", [{ path: "/etc/passwd", content: "" }], 'files[0].path "/etc/passwd" is absolute'],
      ["a path with ..", [{ path: "a/../../x", content: "" }], 'files[0].path "a/../../x" contains ".."'],
      [
        "a repeated path",
        [
          { path: "a", content: "" },
          { path: "a", content: "" },
        ],
        'files[1].path "a" repeats files[0].path',
      ],
      [
        "a file that is also a directory",
        [
          { path: "d", content: "" },
          { path: "d/x", content: "" },
        ],
        'files[0].path "d" is a file, but files[1].path "d/x" needs it',
      ],
      ["invalid base64", [{ path: "a", content: "not base64!", encoding: "base64" }], "files[0].content is not valid base64"],
      ["an unknown encoding", [{ path: "a", content: "", encoding: "hex" }], 'files[0].encoding must be "utf-8" or "base64", not "hex"'],
      ["a file without content", [{ path: "a" }], "files[0].content is required"],
      ["an unknown field in a file", [{ path: "a", content: "", encodng: "base64" }], "unknown field `files[0].encodng`; did you mean `encoding`?"],
    ])("%s: 400 INVALID_REQUEST naming it, and nothing runs", async (_name, files, named) => {
      const { app, calls } = appWith();
      const response = await postJson(app, { script: "x", files });
      expect(response.status).toBe(400);
      const body = await errorBody(response);
      expect(body.code).toBe("INVALID_REQUEST");
      expect(body.error).toContain(named);
      expect(calls).toEqual([]);
    });

    it("more files than MAX_INPUT_FILES: 413", async () => {
      const { app, calls } = appWith();
      const files = Array.from({ length: LIMITS.maxInputFiles + 1 }, (_, i) => ({ path: `f${i}`, content: "" }));
      const response = await postJson(app, { script: "x", files });
      expect(response.status).toBe(413);
      const body = await errorBody(response);
      expect(body.code).toBe("PAYLOAD_TOO_LARGE");
      expect(body.error).toContain(`over the limit of ${LIMITS.maxInputFiles} files`);
      expect((await postJson(app, { script: "x", files: files.slice(1) })).status).toBe(200);
      expect(calls).toHaveLength(1);
    });

    it("files over MAX_INPUT_FILES_BYTES once decoded: 413; at the limit they run", async () => {
      const { app, calls } = appWith();
      const bytes = (n: number) => Buffer.alloc(n, 7).toString("base64");
      const over = await postJson(app, {
        script: "x",
        files: [
          { path: "a", content: bytes(600), encoding: "base64" },
          { path: "b", content: "é".repeat(201) },
        ],
      });
      expect(over.status).toBe(413);
      expect((await errorBody(over)).error).toContain(`${600 + 402} bytes once decoded, over the limit of ${LIMITS.maxInputFilesBytes} bytes`);
      const atLimit = await postJson(app, {
        script: "x",
        files: [
          { path: "a", content: bytes(598), encoding: "base64" },
          { path: "b", content: "é".repeat(201) },
        ],
      });
      expect(atLimit.status).toBe(200);
      expect(calls).toHaveLength(1);
    });

    it.each(["utf-8", "base64"] as const)(
      "the largest script and %s files, with the longest paths, all escaped at worst, fit the body limit and run",
      async (encoding) => {
        const { app, calls } = appWith(undefined, LARGE_LIMITS);
        const script = "\u0001".repeat(LARGE_LIMITS.maxScriptBytes);
        // The decoded bytes split so that base64's padding is the most it can be in total.
        const sizes = [349_525, 349_525, 349_526];
        expect(sizes).toHaveLength(LARGE_LIMITS.maxInputFiles);
        expect(sizes.reduce((a, b) => a + b)).toBe(LARGE_LIMITS.maxInputFilesBytes);
        const files = sizes.map((size, i) => {
          const path = longestPath(String(i));
          const content = encoding === "utf-8" ? "\u0002".repeat(size) : Buffer.alloc(size, 0xfb).toString("base64");
          return { path, content, encoding };
        });
        expect(Buffer.byteLength(files[0]?.path ?? "")).toBe(MAX_INPUT_PATH_BYTES);
        const spelled = files.map(
          (file) =>
            `{${escapedAtWorst("path")}: ${escapedAtWorst(file.path)}, ${escapedAtWorst("content")}: ${escapedAtWorst(file.content)}, ${escapedAtWorst("encoding")}: ${escapedAtWorst(file.encoding)}}`,
        );
        const body = `{${escapedAtWorst("script")}: ${escapedAtWorst(script)}, ${escapedAtWorst("files")}: [${spelled.join(", ")}]}`;
        const response = await post(app, body);
        expect(response.status).toBe(200);
        expect(calls).toEqual([{ script, timeoutMs: LIMITS.maxTimeoutMs, memoryMb: LIMITS.maxMemoryMb, files }]);
        expect(body.length).toBeLessThanOrEqual(maxBodyBytes(LARGE_LIMITS));
        // Over what the limits were once thought to need (twice the script and files, 2 KiB per file).
        expect(body.length).toBeGreaterThan(
          2 * LARGE_LIMITS.maxScriptBytes + 2 * LARGE_LIMITS.maxInputFilesBytes + LARGE_LIMITS.maxInputFiles * 2048 + 64 * 1024,
        );
      },
    );

    it("the response carries files and figures only when the run left some", async () => {
      const artifacts = {
        files: [{ path: "out.txt", size: 2, mediaType: "text/plain", encoding: "utf-8" as const, content: "hi" }],
        filesTruncated: false,
        figures: [],
        figuresTruncated: false,
      };
      const withFiles = appWith(async () => ok({ resultJson: "1", output: NO_OUTPUT, durationMs: 1, artifacts })).app;
      const body = (await (await postJson(withFiles, { script: "x" })).json()) as Record<string, unknown>;
      expect(body.files).toEqual(artifacts.files);
      expect(body.filesTruncated).toBe(false);
      expect(body).not.toHaveProperty("figures");

      const empty = { files: [], filesTruncated: false, figures: [], figuresTruncated: false };
      const withNone = appWith(async () => ok({ resultJson: "1", output: NO_OUTPUT, durationMs: 1, artifacts: empty })).app;
      const plain = (await (await postJson(withNone, { script: "x" })).json()) as Record<string, unknown>;
      expect(Object.keys(plain)).toEqual(["result", "stdout", "stderr", "stdoutTruncated", "stderrTruncated", "durationMs"]);

      const failed = appWith(async () => err(failure("RUNTIME_ERROR", "boom", NO_OUTPUT, { artifacts }))).app;
      const failedBody = (await (await postJson(failed, { script: "x" })).json()) as Record<string, unknown>;
      expect(failedBody.files).toEqual(artifacts.files);
    });
  });

  it.each(["application/json; charset=utf-8", "Application/JSON", "application/json;charset=UTF-8"])("accepts Content-Type %s", async (type) => {
    const { app } = appWith();
    expect((await post(app, JSON.stringify({ script: "x" }), { "content-type": type })).status).toBe(200);
  });

  it.each(FAILURE_CODES.map((code) => [code, STATUS_BY_CODE[code]] as const))("a %s failure answers %i with its code and output", async (code, status) => {
    const { app } = appWith(async () => err(failure(code, `message for ${code}`, OUTPUT, { traceback: "tb", durationMs: 9 })));
    const response = await postJson(app, { script: "x" });
    expect(response.status).toBe(status);
    expect(await errorBody(response)).toEqual({
      error: `message for ${code}`,
      code,
      stdout: "printed\n",
      stderr: "warned\n",
      stdoutTruncated: false,
      stderrTruncated: true,
      traceback: "tb",
      durationMs: 9,
    });
  });

  it("every code has a status: 400, 401, 404, 405, 408, 409, 413, 415, 422, 429, 499, 500 and 503 are all in use", () => {
    expect(new Set(Object.values(STATUS_BY_CODE))).toEqual(new Set([400, 401, 404, 405, 408, 409, 413, 415, 422, 429, 499, 500, 503]));
    expect(Object.keys(STATUS_BY_CODE).sort()).toEqual([...ERROR_CODES].sort());
  });

  it("a failure without traceback or duration leaves those fields out", async () => {
    const { app } = appWith(async () => err(failure("MAIN_NOT_FOUND", "No callable main() found in script", OUTPUT)));
    const body = await errorBody(await postJson(app, { script: "x" }));
    expect(body).not.toHaveProperty("traceback");
    expect(body).not.toHaveProperty("durationMs");
  });

  it("BUSY is 429 with a Retry-After header", async () => {
    const { app } = appWith(async () => err(failure("BUSY", "Server busy", NO_OUTPUT, { retryAfterSeconds: 3 })));
    const response = await postJson(app, { script: "x" });
    expect(response.status).toBe(429);
    expect(response.headers.get("retry-after")).toBe("3");
    expect((await errorBody(response)).code).toBe("BUSY");
  });

  it("other failures carry no Retry-After", async () => {
    const { app } = appWith(async () => err(failure("TIMEOUT", "timed out", NO_OUTPUT)));
    expect((await postJson(app, { script: "x" })).headers.get("retry-after")).toBeNull();
  });

  describe("415 UNSUPPORTED_MEDIA_TYPE", () => {
    it.each([
      ["text/plain", { "content-type": "text/plain" }],
      ["form-encoded", { "content-type": "application/x-www-form-urlencoded" }],
      ["application/jsonp", { "content-type": "application/jsonp" }],
      ["JSON with a dangling ';'", { "content-type": "application/json;" }],
      ["JSON with a parameter without a value", { "content-type": "application/json; charset" }],
      ["JSON with a space before ';'", { "content-type": "application/json ; charset=utf-8" }],
    ])("for %s", async (_name, headers) => {
      const { app, calls } = appWith();
      const response = await post(app, JSON.stringify({ script: "x" }), headers);
      expect(response.status).toBe(415);
      expect((await errorBody(response)).code).toBe("UNSUPPORTED_MEDIA_TYPE");
      expect(calls).toEqual([]);
    });

    it("for a body without a Content-Type", async () => {
      const { app, calls } = appWith();
      // A byte body: fetch adds no Content-Type for it (a string body would get text/plain).
      const request = new Request("http://localhost/execute", { method: "POST", body: new TextEncoder().encode('{"script":"x"}') });
      expect(request.headers.get("content-type")).toBeNull();
      const response = await app.request(request);
      expect(response.status).toBe(415);
      expect((await errorBody(response)).code).toBe("UNSUPPORTED_MEDIA_TYPE");
      expect(calls).toEqual([]);
    });
  });

  describe("413 PAYLOAD_TOO_LARGE", () => {
    const bodyMax = maxBodyBytes(LIMITS);

    it("a body nested deeper than a result may be is refused before it is parsed, on /execute and /mcp", async () => {
      const { app, calls } = appWith(undefined, LARGE_SCRIPT_LIMITS);
      const deep = "[".repeat(1_000_000);
      for (const response of [await post(app, `{"script": "x", "args": {"a": ${deep}`), await mcpPost(app, deep)]) {
        expect(response.status).toBe(400);
        const body = await errorBody(response);
        expect(body.code).toBe("INVALID_REQUEST");
        expect(body.error).toMatch(/^The request body nests arrays and objects more than \d+ levels deep$/);
      }
      expect(calls).toEqual([]);
    });

    it("a body over the limit is refused before it is parsed: a huge invalid body is 413, not 400", async () => {
      const { app, calls } = appWith();
      const huge = `{"script": "${"x".repeat(bodyMax)} this is not JSON`;

      const small = await post(app, "{ this is not JSON");
      expect(small.status).toBe(400); // the same kind of body, under the limit, is a parse error

      const response = await post(app, huge);
      expect(response.status).toBe(413);
      const body = await errorBody(response);
      expect(body.code).toBe("PAYLOAD_TOO_LARGE");
      expect(body.error).toBe(`The request body is over the limit of ${bodyMax} bytes`);
      expect(calls).toEqual([]);
    });

    it("a body over the limit is 413 even when it declares its Content-Length", async () => {
      const { app } = appWith();
      const huge = `[${"1,".repeat(bodyMax)}1]`;
      const response = await post(app, huge, { "content-type": "application/json", "content-length": String(huge.length) });
      expect(response.status).toBe(413);
    });

    it("a streamed body (no Content-Length) over the limit is 413", async () => {
      const { app } = appWith();
      const chunk = new TextEncoder().encode("x".repeat(16 * 1024));
      let sent = 0;
      const stream = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (sent > bodyMax * 2) return controller.close();
          sent += chunk.length;
          controller.enqueue(chunk);
        },
      });
      const request = new Request("http://localhost/execute", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: stream,
        duplex: "half",
      } as RequestInit);
      const response = await app.request(request);
      expect(response.status).toBe(413);
    });

    it("a script over MAX_SCRIPT_BYTES (counted in UTF-8 bytes) is 413", async () => {
      const { app, calls } = appWith();
      const atLimit = await postJson(app, { script: "x".repeat(LIMITS.maxScriptBytes) });
      expect(atLimit.status).toBe(200);

      const over = await postJson(app, { script: "x".repeat(LIMITS.maxScriptBytes + 1) });
      expect(over.status).toBe(413);
      const body = await errorBody(over);
      expect(body.code).toBe("PAYLOAD_TOO_LARGE");
      expect(body.error).toContain(String(LIMITS.maxScriptBytes));

      // 501 characters, 1002 bytes: under the limit in characters, over it in bytes.
      const multiByte = await postJson(app, { script: "é".repeat(LIMITS.maxScriptBytes / 2 + 1) });
      expect(multiByte.status).toBe(413);
      expect(calls).toHaveLength(1);
    });

    it("a script at MAX_SCRIPT_BYTES of non-ASCII text, every character escaped as \\uXXXX, is not refused as too large", async () => {
      const { app, calls } = appWith(undefined, LARGE_SCRIPT_LIMITS);
      const n = LARGE_SCRIPT_LIMITS.maxScriptBytes;
      // é is 2 bytes, escaped \u00e9 (6); 🐍 is 4, escaped as the surrogate pair \ud83d\udc0d (12).
      const script = "🐍".repeat(n / 8) + "é".repeat(n / 4);
      expect(Buffer.byteLength(script)).toBe(n);
      const body = `{"script": ${escapedAtWorst(script)}}`;
      expect(body.length).toBeGreaterThan(3 * n);

      const response = await post(app, body);
      expect(response.status).toBe(200);
      expect(calls).toEqual([{ script, timeoutMs: LIMITS.maxTimeoutMs, memoryMb: LIMITS.maxMemoryMb }]);
    });

    it("a script at MAX_SCRIPT_BYTES of control characters escaped as \\u00XX is not refused as too large; a byte more is, once parsed", async () => {
      const { app, calls } = appWith(undefined, LARGE_SCRIPT_LIMITS);
      const n = LARGE_SCRIPT_LIMITS.maxScriptBytes;
      const script = "\u0001".repeat(n);
      const body = `{"script": ${escapedAtWorst(script)}}`;
      expect(body.length).toBeGreaterThan(6 * n);

      const atLimit = await post(app, body);
      expect(atLimit.status).toBe(200);
      expect(calls).toHaveLength(1);

      const over = await post(app, `{"script": ${escapedAtWorst(`${script}\u0001`)}}`);
      expect(over.status).toBe(413);
      // The script's own limit, not the body's: the body was read and parsed.
      expect((await errorBody(over)).error).toBe(`The script is ${n + 1} bytes, over the limit of ${n} bytes`);
      expect(calls).toHaveLength(1);
    });
  });

  describe("400 INVALID_REQUEST", () => {
    it.each<[string, string]>([
      ["a body that is not JSON", "def main(): return 1"],
      ["truncated JSON", '{"script": "x"'],
      ["an empty body", ""],
      ["a JSON string", '"def main(): pass"'],
      ["a JSON array", '["x"]'],
      ["JSON null", "null"],
      ["a missing script", "{}"],
      ["a misspelled script field", '{"scrpt": "x"}'],
      ["a script that is a number", '{"script": 42}'],
      ["a script that is null", '{"script": null}'],
      ["a script that is a list of lines", '{"script": ["def main():", "  return 1"]}'],
      ["an empty script", '{"script": ""}'],
      ["timeoutMs over the maximum", `{"script": "x", "timeoutMs": ${LIMITS.maxTimeoutMs + 1}}`],
      ["timeoutMs of 0", '{"script": "x", "timeoutMs": 0}'],
      ["a negative timeoutMs", '{"script": "x", "timeoutMs": -5}'],
      ["a fractional timeoutMs", '{"script": "x", "timeoutMs": 1500.5}'],
      ["timeoutMs as a string", '{"script": "x", "timeoutMs": "1500"}'],
      ["memoryMb of 0", '{"script": "x", "memoryMb": 0}'],
      ["memoryMb over the maximum", `{"script": "x", "memoryMb": ${LIMITS.maxMemoryMb + 1}}`],
      ["a fractional memoryMb", '{"script": "x", "memoryMb": 12.5}'],
    ])("for %s", async (_name, body) => {
      const { app, calls, internalErrors } = appWith();
      const response = await post(app, body);
      expect(response.status).toBe(400);
      const parsed = await errorBody(response);
      expect(parsed.code).toBe("INVALID_REQUEST");
      expect(parsed.stdout).toBe("");
      expect(calls).toEqual([]);
      expect(internalErrors).toEqual([]);
    });

    it.each<[string, unknown, string]>([
      ["timeoutMs over the maximum", { script: "x", timeoutMs: LIMITS.maxTimeoutMs + 1 }, `timeoutMs must be at most ${LIMITS.maxTimeoutMs}`],
      ["memoryMb of 0", { script: "x", memoryMb: 0 }, `memoryMb must be at least ${MIN_MEMORY_MB}`],
      ["an empty script", { script: "" }, "script must not be empty"],
      ["a missing script", {}, "script is required"],
      ["a script that is a number", { script: 42 }, "script must be a string of Python source, not 42"],
      ["an unknown field close to a known one", { script: "x", timeout: 5 }, "unknown field `timeout`; did you mean `timeoutMs`?"],
      ["an unknown field close to none", { script: "x", colour: "red" }, "unknown field `colour`"],
      ["code instead of script", { code: "def main(): ..." }, "script is required; unknown field `code`; the script goes in `script`"],
    ])("%s: the message names the field as the client wrote it", async (_name, body, sentence) => {
      const { app, calls } = appWith();
      expect((await errorBody(await postJson(app, body))).error).toBe(`Invalid request: ${sentence}`);
      expect(calls).toEqual([]);
    });

    it("lists every problem of a body at once", async () => {
      const { app } = appWith();
      const body = await errorBody(await postJson(app, { script: "x", timeoutMs: 1.5, args: ["Ada"], arg: { name: "Ada" } }));
      expect(body.error).toBe(
        "Invalid request: timeoutMs must be a whole number of milliseconds, not 1.5; " +
          "args must be a JSON object of main()'s arguments by name, not an array; unknown field `arg`; did you mean `args`?",
      );
    });

    it("a body that is not JSON: the message says where it stops being JSON, and why", async () => {
      const { app, internalErrors } = appWith();
      const truncated = await errorBody(await post(app, '{\n  "script": "x",\n  "timeoutMs": 5000\n'));
      expect(truncated).toMatchObject({
        code: "INVALID_REQUEST",
        error: "The request body is not valid JSON: the text ends before its closing }, at line 4, column 1",
      });
      const python = await errorBody(await post(app, '{"script": "x", "args": {"flag": True}}'));
      expect(python.error).toBe("The request body is not valid JSON: True is not a JSON value (JSON has true, false, null and numbers), at line 1, column 34");
      const empty = await errorBody(await post(app, ""));
      expect(empty.error).toMatch(/^The request body is empty: send a JSON object such as \{"script": /);
      expect(internalErrors).toEqual([]);
    });
  });

  describe("500 INTERNAL", () => {
    it("execute throwing is a generic 500 and goes to onInternalError, not to the client", async () => {
      const bug = new Error("secret detail: /srv/keys/token.txt");
      const { app, internalErrors } = appWith(async () => {
        throw bug;
      });
      const response = await postJson(app, { script: "x" });
      expect(response.status).toBe(500);
      const text = await response.text();
      expect(text).not.toContain("secret");
      expect(text).not.toContain("token.txt");
      expect(JSON.parse(text)).toMatchObject({ code: "INTERNAL", error: "Internal error", stdout: "", stderr: "" });
      expect(internalErrors).toEqual([bug]);
    });

    it("a bug in health is a 500 too", async () => {
      const internalErrors: unknown[] = [];
      const app = createApp({
        execute: async () => ok({ resultJson: "1", output: NO_OUTPUT, durationMs: 1 }),
        health: () => {
          throw new TypeError("oops");
        },
        limits: LIMITS,
        swaggerAssets,
        playgroundAssets,
        onInternalError: (error) => internalErrors.push(error),
      });
      const response = await app.request("/health");
      expect(response.status).toBe(500);
      expect(((await response.json()) as { code: string }).code).toBe("INTERNAL");
      expect(internalErrors).toHaveLength(1);
    });
  });
});

describe("GET /health", () => {
  it("answers what the deps report", async () => {
    const { app } = appWith();
    const response = await app.request("/health");
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual(HEALTH);
  });
});

describe("GET /openapi.json", () => {
  type Json = Record<string, any>;
  let doc: Json;
  beforeAll(async () => {
    const response = await appWith().app.request("/openapi.json");
    expect(response.status).toBe(200);
    doc = (await response.json()) as Json;
  });

  /** Follows a local $ref such as #/components/schemas/ExecuteRequest. */
  const resolve = (node: Json): Json => {
    if (typeof node.$ref !== "string") return node;
    const path = (node.$ref as string).replace(/^#\//, "").split("/");
    return path.reduce<Json>((at, key) => at[key] as Json, doc);
  };

  it("is OpenAPI 3.1", () => {
    expect(doc.openapi).toMatch(/^3\.1\.\d+$/);
    expect(doc.info.title).toBeTruthy();
  });

  it("documents POST /execute with the request schema that validates requests", () => {
    const operation = doc.paths["/execute"].post as Json;
    expect(operation.requestBody.required).toBe(true);
    const schema = resolve(operation.requestBody.content["application/json"].schema as Json);
    expect(schema.type).toBe("object");
    expect(schema.required).toEqual(["script"]);
    expect(schema.properties.script).toMatchObject({ type: "string", minLength: 1 });
    expect(schema.properties.timeoutMs).toMatchObject({ type: "integer", maximum: LIMITS.maxTimeoutMs });
    expect(schema.properties.memoryMb).toMatchObject({ type: "integer", maximum: LIMITS.maxMemoryMb });
    expect(schema.properties.script.example).toContain("def main");
  });

  it("says that a request and each of its files have no fields but their own", () => {
    const schema = resolve(doc.paths["/execute"].post.requestBody.content["application/json"].schema as Json);
    expect(schema.additionalProperties).toBe(false);
    expect(resolve(schema.properties.files.items).additionalProperties).toBe(false);
  });

  it("documents 200 and every error status, each with examples", () => {
    const responses = doc.paths["/execute"].post.responses as Json;
    expect(Object.keys(responses).sort()).toEqual(["200", "400", "401", "408", "413", "415", "422", "429", "499", "500", "503"]);

    const success = responses["200"].content["application/json"];
    for (const example of Object.values(success.examples as Json) as Json[]) {
      expect(executeSuccessSchema.parse(example.value)).toMatchObject({ result: expect.anything(), stdout: expect.any(String) });
    }
    expect(success.examples.filesAndFigures.value).toMatchObject({ files: [expect.anything()], figures: [expect.anything()] });
    expect(resolve(success.schema).properties).toHaveProperty("result");

    for (const status of ["400", "401", "408", "413", "415", "422", "429", "500", "503"]) {
      const content = responses[status].content["application/json"];
      expect(resolve(content.schema).properties, status).toHaveProperty("code");
      const examples = content.examples as Json;
      expect(Object.keys(examples).length, status).toBeGreaterThan(0);
      for (const example of Object.values(examples) as Json[]) {
        expect(STATUS_BY_CODE[example.value.code as ErrorCode], `${status} ${example.value.code}`).toBe(Number(status));
      }
    }
  });

  it("documents every error code in the Error schema, routing ones (404, 405) included", () => {
    expect(resolve(doc.paths["/execute"].post.responses["400"].content["application/json"].schema).properties.code.enum).toEqual([...ERROR_CODES]);
  });

  it("has an example for every code /execute answers (all but the routing and session ones), under its own status", () => {
    const responses = doc.paths["/execute"].post.responses as Json;
    for (const code of ERROR_CODES.filter((code) => !ROUTING_ERROR_CODES.includes(code) && !code.startsWith("SESSION_"))) {
      const examples = responses[String(STATUS_BY_CODE[code])].content["application/json"].examples as Json;
      expect(examples[code]?.value, code).toEqual(ERROR_EXAMPLES[code]);
    }
  });

  it("offers a request example for each feature, each one a valid request", () => {
    const body = doc.paths["/execute"].post.requestBody.content["application/json"];
    expect(Object.keys(body.examples)).toEqual(["hello", "args", "csv", "binary", "figure", "unsafePath", "invalidArgs"]);
    for (const [name, example] of Object.entries(body.examples as Json) as [string, Json][]) {
      // Each one passes the request checks, except the one that shows them refusing a path.
      expect(executeRequestSchema(LIMITS).safeParse(example.value).success, name).toBe(name !== "unsafePath");
    }
    const schema = resolve(body.schema as Json);
    expect(schema.properties.args.type).toBe("object");
    expect(resolve(schema.properties.files.items).properties.encoding).toMatchObject({ enum: ["utf-8", "base64"], default: "utf-8" });
  });

  it("documents GET /health", () => {
    const health = doc.paths["/health"].get as Json;
    expect(health.responses["200"].content["application/json"].schema).toBeDefined();
  });
});

describe("GET /docs", () => {
  it("is a Swagger UI page that loads its assets from the service itself, no CDN", async () => {
    const response = await appWith().app.request("/docs");
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^text\/html/);
    const html = await response.text();
    expect(html).toContain("SwaggerUIBundle");
    expect(html).toContain("/openapi.json");
    expect(html).not.toMatch(/https?:\/\//);
    expect(html).not.toMatch(/src=["']\/\//); // nor protocol-relative URLs

    const urls = [...html.matchAll(/(?:src|href)=["']([^"']+)["']/g)].map((match) => match[1]);
    expect(urls.length).toBeGreaterThanOrEqual(2);
    for (const url of urls) expect(url).toMatch(/^\/docs\/assets\//);
  });

  it("serves every asset the page references with its content type", async () => {
    const { app } = appWith();
    const html = await (await app.request("/docs")).text();
    const urls = [...html.matchAll(/(?:src|href)=["']([^"']+)["']/g)].map((match) => match[1]!);
    const types: Record<string, RegExp> = { ".js": /^text\/javascript/, ".css": /^text\/css/ };
    for (const url of urls) {
      const response = await app.request(url);
      expect(response.status, url).toBe(200);
      const extension = url.slice(url.lastIndexOf("."));
      expect(response.headers.get("content-type"), url).toMatch(types[extension] ?? /^$/);
      expect((await response.arrayBuffer()).byteLength, url).toBeGreaterThan(10_000);
    }
  });

  it("serves the real swagger-ui-dist bundle", async () => {
    const { app } = appWith();
    const js = await (await app.request("/docs/assets/swagger-ui-dist/swagger-ui-bundle.js")).text();
    expect(js).toContain("SwaggerUIBundle");
  });

  it.each(["/docs/assets/swagger-ui-dist/nope.js", "/docs/assets/swagger-ui-dist/..%2Fpackage.json", "/docs/assets/swagger-ui-dist/index.html"])(
    "404 for %s (only the known assets are served)",
    async (path) => {
      const response = await appWith().app.request(path);
      expect(response.status).toBe(404);
    },
  );
});

describe("GET / (the playground)", () => {
  it("is a page that loads only the service's own bundle and stylesheet, no CDN", async () => {
    const response = await appWith().app.request("/");
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/html; charset=utf-8");
    const html = await response.text();
    expect(html).toContain('id="editor"');
    expect(html).not.toMatch(/(?:src|href)=["'](?:https?:)?\/\//);
    const urls = [...html.matchAll(/(?:src|href)=["']([^"']+)["']/g)].map((match) => match[1]!);
    expect(urls.filter((url) => url.startsWith("/playground/")).sort()).toEqual(["/playground/playground.css", "/playground/playground.js"]);
  });

  it("serves the bundle gzipped to a client that takes gzip, revalidated by its ETag", async () => {
    const { app } = appWith();
    const plain = await app.request("/playground/playground.js");
    expect(plain.status).toBe(200);
    expect(plain.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect(plain.headers.get("cache-control")).toBe("no-cache");
    expect(plain.headers.get("content-encoding")).toBeNull();
    const js = new Uint8Array(await plain.arrayBuffer());
    // CodeMirror is bundled in, with the Python language.
    expect(new TextDecoder().decode(js)).toContain("cm-editor");

    const zipped = await app.request("/playground/playground.js", { headers: { "accept-encoding": "br, gzip;q=0.8" } });
    expect(zipped.headers.get("content-encoding")).toBe("gzip");
    expect(zipped.headers.get("vary")).toBe("accept-encoding");
    const compressed = new Uint8Array(await zipped.arrayBuffer());
    expect(compressed.byteLength).toBeLessThan(js.byteLength / 2);
    expect(new Uint8Array(gunzipSync(compressed))).toEqual(js);

    const refused = await app.request("/playground/playground.js", { headers: { "accept-encoding": "gzip;q=0, identity" } });
    expect(refused.headers.get("content-encoding")).toBeNull();

    const etag = plain.headers.get("etag")!;
    expect(etag).toMatch(/^"[\w-]+"$/);
    const again = await app.request("/playground/playground.js", { headers: { "if-none-match": etag } });
    expect(again.status).toBe(304);
    expect(await again.text()).toBe("");
  });

  it.each(["/playground/nope.js", "/playground/index.html", "/playground/..%2Fpackage.json"])("404 for %s (only the known assets)", async (path) => {
    expect((await appWith().app.request(path)).status).toBe(404);
  });
});

const mcpPost = (app: App, body: string) =>
  app.request("/mcp", { method: "POST", headers: { "content-type": "application/json", accept: "application/json, text/event-stream" }, body });

describe("POST /mcp", () => {
  it("answers a call whose client has already gone with 499 and runs nothing", async () => {
    const { app, calls } = appWith();
    const call = { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "run_python", arguments: { script: "def main():\n    return 1" } } };
    const response = await app.request(
      new Request("http://localhost/mcp", {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
        body: JSON.stringify(call),
        signal: AbortSignal.abort(),
      }),
    );
    expect(response.status).toBe(STATUS_BY_CODE.CANCELLED);
    expect(calls).toEqual([]);
  });

  it("a run_python call with a script at MAX_SCRIPT_BYTES escaped as \\u00XX runs; a body over the limit is 413", async () => {
    const { app, calls } = appWith(undefined, LARGE_SCRIPT_LIMITS);
    const script = "\u0001".repeat(LARGE_SCRIPT_LIMITS.maxScriptBytes);
    const call = `{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "run_python", "arguments": {"script": ${escapedAtWorst(script)}}}}`;
    const response = await mcpPost(app, call);
    expect(response.status).toBe(200);
    expect(calls).toEqual([{ script, timeoutMs: LIMITS.maxTimeoutMs, memoryMb: LIMITS.maxMemoryMb, entry: "main-or-cell" }]);

    const bodyMax = maxBodyBytes(LARGE_SCRIPT_LIMITS);
    const over = await mcpPost(app, `{"jsonrpc": "2.0", "id": 2, "method": "${"x".repeat(bodyMax)}"}`);
    expect(over.status).toBe(413);
    expect((await errorBody(over)).error).toBe(`The request body is over the limit of ${bodyMax} bytes`);
    expect(calls).toHaveLength(1);
  });
});

describe("unknown routes", () => {
  it.each([
    ["GET", "/nope"],
    ["POST", "/execute/extra"],
  ])("%s %s is a 404 error body with code NOT_FOUND", async (method, path) => {
    const response = await appWith().app.request(path, { method });
    expect(response.status).toBe(404);
    expect(response.headers.get("content-type")).toMatch(/^application\/json/);
    expect(await response.json()).toEqual({ error: `No route for ${method} ${path}`, code: "NOT_FOUND", ...NO_OUTPUT });
  });

  it.each(["GET", "PUT", "DELETE"])("%s /execute is a 405 naming POST, not a complaint about the Content-Type, and runs nothing", async (method) => {
    const { app, calls } = appWith();
    const response = await app.request("/execute", { method });
    expect(response.status).toBe(405);
    expect(response.headers.get("allow")).toBe("POST");
    expect(((await response.json()) as { code: string }).code).toBe("METHOD_NOT_ALLOWED");
    expect(calls).toEqual([]);
  });

  it("POST /health is a 405 naming GET and HEAD", async () => {
    const response = await appWith().app.request("/health", { method: "POST" });
    expect(response.status).toBe(405);
    expect(response.headers.get("allow")).toBe("GET, HEAD");
  });
});
