/**
 * How many times slower than a native machine this one starts and runs scripts: TEST_SLOWDOWN,
 * 1 unless set (the emulated VM of `npm run test:cgroup2` sets it). Test and hook timeouts and
 * the short time limits tests set are scaled by it, so that they fit what a test needs there
 * without letting a stuck test hold the run for long anywhere.
 */
export function slowdown(): number {
  const factor = Number(process.env.TEST_SLOWDOWN ?? "1");
  if (!(factor >= 1)) throw new Error(`TEST_SLOWDOWN must be a number >= 1: ${process.env.TEST_SLOWDOWN}`);
  return factor;
}

/** `ms` scaled by the slowdown: a test's timeout, or a time limit it sets (in ms, as a number). */
export const scaled = (ms: number): number => Math.round(ms * slowdown());

/**
 * A test's own timeout, for a test that needs more than the default: the service's own fixed
 * waits it goes through (which do not slow down), plus its work, scaled.
 */
export const testTimeout = (fixedWaitsMs: number, workMs: number): number => fixedWaitsMs + scaled(workMs);
