import { describe, expect, it } from "vitest";
import { type RunForm, requestBody, requestHeaders } from "./run-request.js";

const FORM: RunForm = { script: "def main(): return 1", args: "", files: [], timeoutMs: "", memoryMb: "" };

describe("requestBody", () => {
  it("sends only the script when nothing else is filled in", () => {
    expect(requestBody(FORM)).toEqual({ ok: true, body: { script: FORM.script } });
    expect(requestBody({ ...FORM, args: "  \n", timeoutMs: " " })).toEqual({ ok: true, body: { script: FORM.script } });
  });

  it("sends args, files and limits when given", () => {
    const files = [{ path: "data/in.csv", content: "a,b\n1,2\n", encoding: "utf-8" as const }];
    const built = requestBody({ ...FORM, args: '{"n": 3, "name": "x"}', files, timeoutMs: "2000", memoryMb: " 256 " });
    expect(built).toEqual({
      ok: true,
      body: { script: FORM.script, args: { n: 3, name: "x" }, files, timeoutMs: 2000, memoryMb: 256 },
    });
  });

  it("args that are not JSON, or not an object, name the field", () => {
    expect(requestBody({ ...FORM, args: "{n: 3}" })).toMatchObject({ ok: false, field: "args", message: expect.stringMatching(/^args is not JSON/) });
    for (const args of ["[1, 2]", "null", "3", '"s"']) {
      expect(requestBody({ ...FORM, args })).toMatchObject({ ok: false, field: "args", message: expect.stringMatching(/JSON object/) });
    }
  });

  it("a limit that is not a whole number names the field", () => {
    expect(requestBody({ ...FORM, timeoutMs: "2.5" })).toMatchObject({ ok: false, field: "timeoutMs" });
    expect(requestBody({ ...FORM, memoryMb: "lots" })).toMatchObject({ ok: false, field: "memoryMb" });
  });
});

describe("requestHeaders", () => {
  it("sends JSON with an Idempotency-Key in the draft's quoted form, and the API key when one is given", () => {
    expect(requestHeaders("", "k1")).toEqual({ "content-type": "application/json", "idempotency-key": '"k1"' });
    expect(requestHeaders("  secret ", "k2")).toEqual({ "content-type": "application/json", "idempotency-key": '"k2"', authorization: "Bearer secret" });
  });

  it("gives each run a key of its own", () => {
    const keys = new Set(Array.from({ length: 100 }, () => requestHeaders("")["idempotency-key"]));
    expect(keys.size).toBe(100);
    for (const key of keys) expect(key).toMatch(/^"[0-9a-f]{32}"$/);
  });
});
