import { type ShutdownDeps, shutDown } from "./shut-down.js";

/**
 * Runs `shutDown` on the first SIGTERM or SIGINT (Cloud Run and Kubernetes send SIGTERM on
 * every scale-down), hurries it on a second one, then exits 0.
 */
export function shutDownOnSignals(deps: ShutdownDeps, exit: (code: number) => void = (code) => process.exit(code)): void {
  let hurry: (() => void) | undefined;
  const hurried = new Promise<void>((resolve) => {
    hurry = resolve;
  });
  let started = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (started) {
      deps.logger.warn({ signal }, "second signal: not waiting for the grace period");
      hurry?.();
      return;
    }
    started = true;
    deps.logger.info({ signal }, "signal received");
    shutDown(deps, hurried).then(
      () => exit(0),
      (error: unknown) => {
        deps.logger.error({ err: error }, "shutdown failed");
        exit(1);
      },
    );
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
}
