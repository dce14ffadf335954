/** How long each step of a run's end may take (run-lifecycle.ts), and a discarded harness's too. */

/** How long a backend's own kill has before every process of the run's slot is killed directly. */
export const KILL_GRACE_MS = 1000;
/** How long the output streams may stay open once the run's processes are gone. */
export const DRAIN_GRACE_MS = 1000;
