import { beforeAll, describe, expect, test } from "vitest";
import { composeApp } from "../../src/compose.js";
import { loadPlaygroundAssets } from "../../src/http/playground.js";
import { acceptedRequestId } from "../../src/http/request-id.js";
import { playgroundBundleDir, projectRoot } from "../../src/project-paths.js";
import { listen } from "../support/listening.js";
import { capturingLogger } from "../support/observing.js";
import { realSubprocessSandbox, testConfig } from "../support/real-app.js";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
// Markers that must never reach the log: they are in the script's source and its output.
const SOURCE_MARKER = "source-marker-7f3a";
const OUTPUT_MARKER = "output-marker-91bc";
const SCRIPT = `# ${SOURCE_MARKER}
import sys

def main():
    print("${OUTPUT_MARKER}" * 3)
    print("${OUTPUT_MARKER}", file=sys.stderr)
    return {"answer": "${OUTPUT_MARKER}"}
`;

type App = Awaited<ReturnType<typeof composeApp>>["app"];
let app: App;
let capture: ReturnType<typeof capturingLogger>;

beforeAll(async () => {
  capture = capturingLogger("info");
  const config = testConfig();
  ({ app } = await composeApp(config, realSubprocessSandbox(config), { python: "test", packages: {} }, capture.logger));
});

const postWithId = (script: string, requestId?: string) =>
  app.request("/execute", {
    method: "POST",
    headers: { "content-type": "application/json", ...(requestId === undefined ? {} : { "x-request-id": requestId }) },
    body: JSON.stringify({ script }),
  });

const linesOf = (requestId: string) => capture.lines.filter((line) => line.requestId === requestId);

describe("one structured log line per execution", () => {
  test("has the request id, backend, code, duration and sizes, and nothing of the script or its output", async () => {
    const response = await postWithId(SCRIPT, "client-id-123");
    expect(response.status).toBe(200);
    expect(response.headers.get("x-request-id")).toBe("client-id-123");
    const text = await response.text();
    const body = JSON.parse(text) as { stdout: string; stderr: string };
    // the result is spliced into the body exactly as the harness wrote it
    const resultJson = text.slice('{"result":'.length, text.indexOf(',"stdout":'));

    const executions = linesOf("client-id-123").filter((line) => line.msg === "execution");
    expect(executions).toHaveLength(1);
    const line = executions[0]!;
    expect(line).toMatchObject({
      level: 30,
      requestId: "client-id-123",
      backend: "subprocess",
      code: "OK",
      scriptBytes: Buffer.byteLength(SCRIPT),
      stdoutBytes: Buffer.byteLength(body.stdout),
      stderrBytes: Buffer.byteLength(body.stderr),
      stdoutTruncated: false,
      stderrTruncated: false,
      resultBytes: Buffer.byteLength(resultJson),
    });
    expect(line.stdoutBytes).toBe(3 * OUTPUT_MARKER.length + 1);
    expect(typeof line.durationMs).toBe("number");
    expect(line.durationMs as number).toBeGreaterThanOrEqual(line.runMs as number);
    expect(typeof line.time).toBe("number");

    const everything = capture.raw.join("");
    expect(everything).not.toContain(SOURCE_MARKER);
    expect(everything).not.toContain(OUTPUT_MARKER);
  });

  test("a failed run is logged with its code (and still without its traceback or output)", async () => {
    const response = await postWithId(`def main():\n    raise ValueError("${OUTPUT_MARKER}")\n`, "failing-run");
    expect(response.status).toBe(400);
    const line = linesOf("failing-run").find((entry) => entry.msg === "execution");
    expect(line).toMatchObject({ code: "RUNTIME_ERROR", backend: "subprocess", level: 30 });
    expect(line?.resultBytes).toBeUndefined();
    expect(capture.raw.join("")).not.toContain(OUTPUT_MARKER);
  });

  test("files in and out are logged as counts and sizes, never their names or contents", async () => {
    const response = await app.request("/execute", {
      method: "POST",
      headers: { "content-type": "application/json", "x-request-id": "with-files" },
      body: JSON.stringify({
        script: `def main():\n    open("out-${SOURCE_MARKER}.txt", "w").write(open("in-${SOURCE_MARKER}.txt").read() * 2)\n`,
        files: [{ path: `in-${SOURCE_MARKER}.txt`, content: OUTPUT_MARKER }],
      }),
    });
    expect(response.status).toBe(200);
    const line = linesOf("with-files").find((entry) => entry.msg === "execution");
    expect(line).toMatchObject({ inputFiles: 1, inputFileBytes: OUTPUT_MARKER.length, outputFiles: 1, figures: 0 });
    const everything = capture.raw.join("");
    expect(everything).not.toContain(SOURCE_MARKER);
    expect(everything).not.toContain(OUTPUT_MARKER);
  });

  test("each HTTP request also gets one access line with method, path, status and duration", async () => {
    await postWithId("def main(): return 1", "access-line");
    const access = linesOf("access-line").filter((line) => line.msg === "request");
    expect(access).toHaveLength(1);
    expect(access[0]).toMatchObject({ method: "POST", path: "/execute", status: 200, level: 30 });
  });
});

describe("request ids", () => {
  test("without X-Request-Id a UUID is generated, echoed in the response and used in the log", async () => {
    const response = await postWithId("def main(): return 1");
    const id = response.headers.get("x-request-id");
    expect(id).toMatch(UUID);
    expect(linesOf(id!).map((line) => line.msg)).toEqual(expect.arrayContaining(["execution", "request"]));
  });

  test("an unacceptable X-Request-Id (too long, control characters, non-ASCII) is replaced by a UUID", async () => {
    // (a header value cannot carry a newline at all; fetch refuses it before we could send it)
    for (const bad of ["x".repeat(129), "tab\there", "caf\u00e9"]) {
      const response = await app.request("/health", { headers: { "x-request-id": bad } });
      expect(response.headers.get("x-request-id"), bad).toMatch(UUID);
    }
  });

  test("over HTTP, each kind of response carries its id with its body whole: a result, an error, the health check, the playground", async () => {
    const served = await listen(app);
    try {
      const requests: [string, RequestInit, number, (body: string) => boolean][] = [
        [
          "/execute",
          { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ script: "def main(): return 41 + 1" }) },
          200,
          (b) => b.startsWith('{"result":42,'),
        ],
        ["/execute", { method: "POST", headers: { "content-type": "application/json" }, body: "{" }, 400, (b) => b.includes('"INVALID_REQUEST"')],
        ["/health", {}, 200, (b) => b.includes('"status"')],
        ["/", {}, 200, (b) => b.includes("<html")],
      ];
      for (const [path, init, status, bodyIsWhole] of requests) {
        const id = `over-http-${path}-${status}`;
        const response = await fetch(`${served.url}${path}`, { ...init, headers: { ...init.headers, "x-request-id": id } });
        expect([path, response.status, response.headers.get("x-request-id"), bodyIsWhole(await response.text())]).toEqual([path, status, id, true]);
      }
    } finally {
      await served.close();
    }
  });

  test("ids up to 128 printable characters are kept as sent", async () => {
    for (const good of ["a", "x".repeat(128), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "trace/1;o=1"]) {
      const response = await app.request("/health", { headers: { "x-request-id": good } });
      expect(response.headers.get("x-request-id")).toBe(good);
    }
    expect(acceptedRequestId("  padded  ")).toBe("padded");
    expect(acceptedRequestId("")).toBeUndefined();
    expect(acceptedRequestId("line\nbreak")).toBeUndefined();
  });

  test("every response carries the id: errors, 404s and the docs too", async () => {
    for (const [path, init] of [
      ["/nope", {}],
      ["/execute", { method: "POST", headers: { "content-type": "text/plain" }, body: "x" }],
      ["/openapi.json", {}],
    ] as const) {
      const response = await app.request(path, init);
      expect(response.headers.get("x-request-id"), path).toMatch(UUID);
    }
  });

  test("probes are logged at debug, so /health polling does not flood the info log", async () => {
    await app.request("/health", { headers: { "x-request-id": "probe-1" } });
    expect(linesOf("probe-1")).toEqual([]);
  });
});

describe("internal errors", () => {
  test("a bug in a handler is a 500 INTERNAL that still carries the request id, logged with that id", async () => {
    const { createApp } = await import("../../src/http/app.js");
    const internal: { error: unknown; requestId: string | undefined }[] = [];
    const broken = createApp({
      execute: async () => {
        throw new Error("a bug");
      },
      health: () => ({ status: "ok", backend: "fake", isolation: "none", python: "3", packages: {} }),
      limits: { maxTimeoutMs: 1000, maxMemoryMb: 64, maxScriptBytes: 1000, maxInputFiles: 2, maxInputFilesBytes: 1000 },
      swaggerAssets: new Map(),
      playgroundAssets: await loadPlaygroundAssets(playgroundBundleDir(projectRoot())),
      onInternalError: (error, requestId) => internal.push({ error, requestId }),
    });
    const response = await broken.request("/execute", {
      method: "POST",
      headers: { "content-type": "application/json", "x-request-id": "bug-1" },
      body: JSON.stringify({ script: "def main(): return 1" }),
    });
    expect(response.status).toBe(500);
    expect(response.headers.get("x-request-id")).toBe("bug-1");
    expect(((await response.json()) as { code: string }).code).toBe("INTERNAL");
    expect(internal).toEqual([{ error: expect.objectContaining({ message: "a bug" }), requestId: "bug-1" }]);
  });
});
