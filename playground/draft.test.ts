import { describe, expect, it } from "vitest";
import { quotaStorage } from "../test/support/quota-storage.js";
import { dropDraft, loadDraft, saveDraft } from "./draft.js";
import type { RunForm } from "./run-request.js";

const FORM: RunForm = {
  script: "def main(n):\n    return n\n",
  args: '{"n": 1}',
  files: [
    { path: "in.csv", content: "a\n1\n", encoding: "utf-8" },
    { path: "blob.bin", content: "AAEC", encoding: "base64" },
  ],
  timeoutMs: "2000",
  memoryMb: "",
};

describe("the draft", () => {
  it("comes back as it was saved: script, args, files and limits", () => {
    const local = quotaStorage();
    expect(loadDraft(local)).toBeUndefined();
    expect(saveDraft(local, FORM)).toBe("all");
    expect(loadDraft(local)).toEqual(FORM);
  });

  it("is saved without its files when they do not fit the storage, and not at all when the rest does not either", () => {
    const small = quotaStorage(JSON.stringify({ ...FORM, files: [] }).length);
    expect(saveDraft(small, FORM)).toBe("without-files");
    expect(loadDraft(small)).toEqual({ ...FORM, files: [] });
    expect(saveDraft(quotaStorage(10), FORM)).toBe("nothing");
  });

  it("is gone once dropped", () => {
    const local = quotaStorage();
    saveDraft(local, FORM);
    dropDraft(local);
    expect(loadDraft(local)).toBeUndefined();
  });

  it("is none when what is stored is not a draft", () => {
    const local = quotaStorage();
    saveDraft(local, FORM);
    const [item] = local.items.keys();
    for (const stored of ["{", "null", "3", "[]", JSON.stringify({ ...FORM, args: { n: 1 } }), JSON.stringify({ ...FORM, files: [{ path: "a" }] })]) {
      local.items.set(item!, stored);
      expect(loadDraft(local), stored).toBeUndefined();
    }
  });
});
