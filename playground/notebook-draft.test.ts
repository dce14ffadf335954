import { describe, expect, it } from "vitest";
import { quotaStorage } from "../test/support/quota-storage.js";
import { loadCells, loadMode, saveCells, saveMode } from "./notebook-draft.js";

describe("the notebook's draft", () => {
  it("keeps the cells' code", () => {
    const kept = quotaStorage();
    expect(loadCells(kept)).toBeUndefined();
    expect(saveCells(kept, ["x = 41", "x + 1", ""])).toBe(true);
    expect(loadCells(kept)).toEqual(["x = 41", "x + 1", ""]);
  });

  it("says when the storage refused the cells", () => {
    const full = quotaStorage(10);
    expect(saveCells(full, ["a long cell that does not fit"])).toBe(false);
    expect(loadCells(full)).toBeUndefined();
  });

  it("ignores what is not a list of cells", () => {
    for (const stored of ["{", "null", "[]", '{"cells": []}', '{"cells": [1]}', '{"cells": "x"}']) {
      const other = quotaStorage();
      other.items.set("python-exec-service.notebook", stored);
      expect(loadCells(other)).toBeUndefined();
    }
  });

  it("keeps the mode: script unless the notebook was the last", () => {
    const kept = quotaStorage();
    expect(loadMode(kept)).toBe("script");
    saveMode(kept, "notebook");
    expect(loadMode(kept)).toBe("notebook");
    saveMode(kept, "script");
    expect(loadMode(kept)).toBe("script");
    // Script mode is the default: nothing is stored for it.
    expect(kept.items.size).toBe(0);
    kept.items.set("python-exec-service.mode", "other");
    expect(loadMode(kept)).toBe("script");
  });
});
