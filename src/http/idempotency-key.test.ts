import { describe, expect, it } from "vitest";
import { MAX_IDEMPOTENCY_KEY_LENGTH } from "../../openapi/idempotency-key.js";
import { idempotencyKeyOf } from "./idempotency-key.js";

describe("idempotencyKeyOf", () => {
  it("takes the draft's quoted form and a bare key, as the same key", () => {
    expect(idempotencyKeyOf('"8e03978e-40d5-43e8-bc93-6894a57f9324"')).toEqual({ ok: true, value: "8e03978e-40d5-43e8-bc93-6894a57f9324" });
    expect(idempotencyKeyOf("8e03978e-40d5-43e8-bc93-6894a57f9324")).toEqual({ ok: true, value: "8e03978e-40d5-43e8-bc93-6894a57f9324" });
    expect(idempotencyKeyOf('  "a b"  ')).toEqual({ ok: true, value: "a b" });
  });

  it('reads the escapes of a quoted key: \\" and \\\\', () => {
    expect(idempotencyKeyOf(String.raw`"say \"hi\" \\ bye"`)).toEqual({ ok: true, value: String.raw`say "hi" \ bye` });
  });

  it(`takes a key of ${MAX_IDEMPOTENCY_KEY_LENGTH} characters, not one more`, () => {
    expect(idempotencyKeyOf("k".repeat(MAX_IDEMPOTENCY_KEY_LENGTH))).toMatchObject({ ok: true });
    expect(idempotencyKeyOf(`"${"k".repeat(MAX_IDEMPOTENCY_KEY_LENGTH)}"`)).toMatchObject({ ok: true });
    expect(idempotencyKeyOf("k".repeat(MAX_IDEMPOTENCY_KEY_LENGTH + 1))).toEqual({
      ok: false,
      error: expect.stringMatching(new RegExp(`1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} characters; this one has ${MAX_IDEMPOTENCY_KEY_LENGTH + 1}$`)),
    });
  });

  it.each([
    ["empty quotes", '""', /this one is empty$/],
    ["blank", "   ", /this one is not$/],
    ["a bare key with a space", "a b", /this one is not$/],
    ["two keys, as two headers arrive", '"a", "b"', /this one is not$/],
    ["an unterminated string", '"abc', /this one is not$/],
    ["an unknown escape", String.raw`"a\n"`, /this one is not$/],
    ["a quote inside a bare key", 'ab"c', /this one is not$/],
    ["a character beyond ASCII", '"clé"', /this one is not$/],
    ["a control character", '"a\tb"', /this one is not$/],
  ])("refuses %s, saying what a key is", (_name, value, why) => {
    const parsed = idempotencyKeyOf(value);
    expect(parsed).toMatchObject({ ok: false, error: expect.stringMatching(/^Idempotency-Key must be a quoted string/) });
    expect(parsed).toMatchObject({ error: expect.stringMatching(why) });
  });
});
