import { describe, expect, it } from "vitest";
import { type Claim, type IdempotencyLimits, IdempotencyStore, type RememberedAnswer } from "./idempotency-store.js";

const LIMITS: IdempotencyLimits = { windowMs: 1000, maxKeys: 3, maxBytes: 1000 };

/** An answer whose body is `bytes` long, with no headers. */
const answerOf = (status: number, bytes = 10): RememberedAnswer => ({ status, headers: [], body: new Uint8Array(bytes) });

/** A store on a clock the test moves, counting the keys it forgets before their time. */
function storeWith(limits: Partial<IdempotencyLimits> = {}) {
  const clock = { now: 0 };
  const forgotten: number[] = [];
  const store = new IdempotencyStore({ ...LIMITS, ...limits }, { now: () => clock.now, onForgotten: () => forgotten.push(clock.now) });
  return { store, clock, forgotten };
}

function expectFirst(claim: Claim): Extract<Claim, { kind: "first" }> {
  expect(claim.kind).toBe("first");
  return claim as Extract<Claim, { kind: "first" }>;
}

/** Claims `key` (in `scope`) as the first request and settles it with `answer`, remembered. */
function answered(store: IdempotencyStore, key: string, answer: RememberedAnswer, scope = ""): void {
  expectFirst(store.claim(key, "body", `first-${key}`, scope)).settle(answer, true);
}

/** A key as the store holds it, in its scope ("" by default) and a newline. */
const storedKeyBytes = (key: string, scope = ""): number => scope.length + 1 + key.length;

describe("IdempotencyStore", () => {
  it("gives the same key and body the first request's answer, naming that request", () => {
    const { store } = storeWith();
    const timeout = answerOf(408);
    answered(store, "k", timeout);
    expect(store.claim("k", "body", "again")).toEqual({ kind: "answered", firstRequestId: "first-k", answer: timeout });
    expect(store.claim("k", "body", "and again")).toMatchObject({ kind: "answered", answer: timeout });
  });

  it("has a repeat of a running request wait for its answer", async () => {
    const { store } = storeWith();
    const first = expectFirst(store.claim("k", "body", "r1"));
    const repeat = store.claim("k", "body", "r2");
    expect(repeat).toMatchObject({ kind: "running", firstRequestId: "r1", run: first.run });
    const answer = answerOf(200);
    first.settle(answer, true);
    await expect((repeat as Extract<Claim, { kind: "running" }>).answer).resolves.toBe(answer);
  });

  it("refuses the key with another body, whether its request is running or answered", () => {
    const { store } = storeWith();
    const first = expectFirst(store.claim("k", "body", "r1"));
    expect(store.claim("k", "other body", "r2")).toEqual({ kind: "mismatch", firstRequestId: "r1" });
    first.settle(answerOf(200), true);
    expect(store.claim("k", "other body", "r3")).toEqual({ kind: "mismatch", firstRequestId: "r1" });
    // The refusals took nothing from the first request.
    expect(store.claim("k", "body", "r4")).toMatchObject({ kind: "answered", firstRequestId: "r1" });
  });

  it("keeps an answer for the window from when it was given, however long its run took", () => {
    const { store, clock, forgotten } = storeWith();
    const first = expectFirst(store.claim("k", "body", "r1"));
    clock.now = 5 * LIMITS.windowMs;
    first.settle(answerOf(200), true);
    clock.now += LIMITS.windowMs - 1;
    expect(store.claim("k", "body", "r2").kind).toBe("answered");
    clock.now += 1;
    expectFirst(store.claim("k", "body", "r3"));
    // Expired, not forgotten early.
    expect(forgotten).toEqual([]);
  });

  it("drops the expired answers of other keys as keys are claimed", () => {
    const { store, clock } = storeWith();
    answered(store, "a", answerOf(200, 100));
    clock.now = 10;
    answered(store, "b", answerOf(200, 100));
    expect({ keys: store.keys, bytes: store.bytes }).toEqual({ keys: 2, bytes: 2 * (100 + storedKeyBytes("a")) });
    clock.now = LIMITS.windowMs + 5;
    store.claim("c", "body", "r");
    expect({ keys: store.keys, bytes: store.bytes }).toEqual({ keys: 2, bytes: 100 + storedKeyBytes("b") });
  });

  it("does not remember an answer it is told not to: the next request with the key runs, and a waiting repeat still gets it", async () => {
    const { store } = storeWith();
    const first = expectFirst(store.claim("k", "body", "r1"));
    const repeat = store.claim("k", "body", "r2") as Extract<Claim, { kind: "running" }>;
    const busy = answerOf(429);
    first.settle(busy, false);
    await expect(repeat.answer).resolves.toBe(busy);
    expectFirst(store.claim("k", "body", "r3"));
    expect(store.bytes).toBe(0);
  });

  it("claims anew a key whose run was cancelled, and the cancelled run's answer is not remembered over the new one", () => {
    const { store } = storeWith();
    const client = new AbortController();
    const cancelled = expectFirst(store.claim("k", "body", "r1"));
    cancelled.run.join(client.signal);
    client.abort();
    expect(cancelled.run.cancelled).toBe(true);

    const again = expectFirst(store.claim("k", "body", "r2"));
    expect(again.run).not.toBe(cancelled.run);
    cancelled.settle(answerOf(499), true);
    expect(store.claim("k", "body", "r3")).toMatchObject({ kind: "running", firstRequestId: "r2" });
    again.settle(answerOf(200), true);
    expect(store.claim("k", "body", "r4")).toMatchObject({ kind: "answered", firstRequestId: "r2", answer: { status: 200 } });
  });

  it("forgets the oldest key to make room for a new one past maxKeys", () => {
    const { store, forgotten } = storeWith({ maxKeys: 2 });
    answered(store, "a", answerOf(200));
    answered(store, "b", answerOf(200));
    answered(store, "c", answerOf(200));
    expect(store.keys).toBe(2);
    expect(forgotten).toHaveLength(1);
    expect(store.claim("b", "body", "r").kind).toBe("answered");
    expect(store.claim("c", "body", "r").kind).toBe("answered");
    // "a" is as if never sent.
    expect(store.claim("a", "body", "r").kind).toBe("first");
  });

  it("never forgets a running request for room: its repeats still get its answer and it is remembered", async () => {
    const { store, forgotten } = storeWith({ maxKeys: 1 });
    const first = expectFirst(store.claim("a", "body", "r1"));
    const repeat = store.claim("a", "body", "r2") as Extract<Claim, { kind: "running" }>;
    expectFirst(store.claim("b", "body", "r3"));
    expect(store.keys).toBe(2);
    first.settle(answerOf(408), true);
    await expect(repeat.answer).resolves.toMatchObject({ status: 408 });
    expect(store.claim("a", "body", "r4").kind).toBe("answered");
    expect(forgotten).toEqual([]);
  });

  it("a client at half the keys or bytes forgets its own oldest answers, not other clients'", () => {
    const { store, forgotten } = storeWith({ maxKeys: 4, maxBytes: 1000 });
    answered(store, "theirs", answerOf(200), "other client");
    for (const key of ["a", "b", "c", "d", "e"]) answered(store, key, answerOf(200), "flooding client");
    expect(store.claim("theirs", "body", "r", "other client").kind).toBe("answered");
    expect(store.claim("a", "body", "r", "flooding client").kind).toBe("first");
    expect(forgotten.length).toBeGreaterThan(0);
    const big = storeWith({ maxKeys: 100, maxBytes: 1000 });
    answered(big.store, "theirs", answerOf(200, 300), "other client");
    for (const key of ["a", "b", "c"]) answered(big.store, key, answerOf(200, 300), "flooding client");
    expect(big.store.claim("theirs", "body", "r", "other client").kind).toBe("answered");
  });

  it("forgets the oldest answers to stay within maxBytes, counting body, headers and key", () => {
    const { store, forgotten } = storeWith({ maxBytes: 250, maxKeys: 10 });
    const withHeader: RememberedAnswer = { status: 200, headers: [["content-type", "json"]], body: new Uint8Array(100) };
    answered(store, "a", withHeader);
    expect(store.bytes).toBe(100 + "content-type".length + "json".length + storedKeyBytes("a"));
    answered(store, "b", answerOf(200, 100));
    answered(store, "c", answerOf(200, 100));
    expect(store.bytes).toBe(2 * (100 + storedKeyBytes("b")));
    expect(forgotten).toHaveLength(1);
    expect(store.claim("a", "body", "r").kind).toBe("first");
    expect(store.claim("c", "body", "r").kind).toBe("answered");
  });

  it("does not remember an answer larger than maxBytes, and forgets nothing else for it", () => {
    const { store, forgotten } = storeWith({ maxBytes: 250 });
    answered(store, "small", answerOf(200, 100));
    answered(store, "huge", answerOf(200, 300));
    expect(forgotten).toHaveLength(1);
    expect(store.claim("huge", "body", "r").kind).toBe("first");
    expect(store.claim("small", "body", "r").kind).toBe("answered");
    expect(store.bytes).toBe(100 + storedKeyBytes("small"));
  });

  it("with maxBytes 0 remembers no answer, yet a repeat still waits for a running request", () => {
    const { store } = storeWith({ maxBytes: 0 });
    const first = expectFirst(store.claim("k", "body", "r1"));
    expect(store.claim("k", "body", "r2").kind).toBe("running");
    first.settle(answerOf(200, 0), true);
    expect(store.claim("k", "body", "r3").kind).toBe("first");
  });

  it("a first request that fails with no answer makes its waiting repeats fail too, and the key is forgotten", async () => {
    const { store } = storeWith();
    const first = expectFirst(store.claim("k", "body", "r1"));
    const repeat = store.claim("k", "body", "r2") as Extract<Claim, { kind: "running" }>;
    first.fail(new Error("broken"));
    await expect(repeat.answer).rejects.toThrow("broken");
    expect(store.claim("k", "body", "r3").kind).toBe("first");
  });
});
