import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { CgroupSlot } from "../cgroups/cgroup-slots.js";
import { SlotQuarantine } from "./slot-quarantine.js";

/** A slot that is empty or not as the test says; nothing else of it is used. */
function slot(state: { empty: boolean }): CgroupSlot {
  return { procsFiles: ["/cgroup/uid-7/cgroup.procs"], isEmpty: () => state.empty } as Partial<CgroupSlot> as CgroupSlot;
}

describe("SlotQuarantine", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("gives a uid back at once when its slot is empty, or when it has none, and says nothing", () => {
    const stuck: string[] = [];
    const quarantine = new SlotQuarantine((message) => stuck.push(message));
    const released: string[] = [];
    quarantine.releaseWhenEmpty(slot({ empty: true }), () => released.push("empty"));
    quarantine.releaseWhenEmpty(undefined, () => released.push("none"));
    expect(released).toEqual(["empty", "none"]);
    expect(stuck).toEqual([]);
    expect(quarantine.size).toBe(0);
  });

  it("keeps the uid of a slot that cannot be emptied out of use, says so, and gives it back once the slot is empty", async () => {
    const stuck: string[] = [];
    const quarantine = new SlotQuarantine((message) => stuck.push(message));
    const state = { empty: false };
    let released = 0;
    quarantine.releaseWhenEmpty(slot(state), () => released++);
    expect(released).toBe(0);
    expect(stuck).toEqual([expect.stringMatching(/uid-7.*could not be emptied.*kept out of use/)]);
    expect(quarantine.size).toBe(1);

    await vi.advanceTimersByTimeAsync(60_000);
    expect(released).toBe(0);
    expect(quarantine.size).toBe(1);

    state.empty = true;
    await vi.advanceTimersByTimeAsync(60_000);
    expect(released).toBe(1);
    expect(quarantine.size).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
    expect(stuck).toHaveLength(1);
  });

  it("when closed, gives back what is empty by then and stops looking at the rest: no timer is left", async () => {
    const stuck: string[] = [];
    const quarantine = new SlotQuarantine((message) => stuck.push(message));
    const emptied = { empty: false };
    const stillStuck = { empty: false };
    const released: string[] = [];
    quarantine.releaseWhenEmpty(slot(emptied), () => released.push("emptied"));
    quarantine.releaseWhenEmpty(slot(stillStuck), () => released.push("still stuck"));
    await vi.advanceTimersByTimeAsync(10_000);
    emptied.empty = true;
    quarantine.close();
    expect(released).toEqual(["emptied"]);
    stillStuck.empty = true;
    await vi.advanceTimersByTimeAsync(60_000);
    expect(released).toEqual(["emptied"]);
    expect(vi.getTimerCount()).toBe(0);

    // After close, an empty slot's uid still goes back at once; a stuck one's is only reported.
    quarantine.releaseWhenEmpty(slot({ empty: true }), () => released.push("late, empty"));
    quarantine.releaseWhenEmpty(slot({ empty: false }), () => released.push("late, stuck"));
    expect(released).toEqual(["emptied", "late, empty"]);
    expect(stuck).toHaveLength(3);
    expect(vi.getTimerCount()).toBe(0);
    expect(quarantine.size).toBe(0);
  });

  it("when closed, a slot that cannot be read is reported and does not keep the others from their last look", async () => {
    const stuck: string[] = [];
    const quarantine = new SlotQuarantine((message) => stuck.push(message));
    const unreadable = { empty: false };
    const emptied = { empty: false };
    const released: string[] = [];
    const broken = slot(unreadable);
    quarantine.releaseWhenEmpty(broken, () => released.push("unreadable"));
    quarantine.releaseWhenEmpty(slot(emptied), () => released.push("emptied"));
    broken.isEmpty = () => {
      throw new Error("EIO");
    };
    emptied.empty = true;
    quarantine.close();
    expect(released).toEqual(["emptied"]);
    expect(stuck.at(-1)).toMatch(/uid-7.*could not be looked at on close.*EIO/);
    expect(vi.getTimerCount()).toBe(0);
  });
});
