import { type CapturedOutput, NO_OUTPUT } from "../../domain/captured-output.js";
import { type ExecutionFailure, failure } from "../../domain/execution-result.js";
import { err, type Result } from "../../domain/result.js";
import type { SandboxPort } from "../../domain/sandbox.port.js";
import type { SessionsApi } from "../http/sessions.js";
import type { Execute } from "../observability/observe-executions.js";

/**
 * Whether the service still takes new executions. On SIGTERM it drains: runs already
 * admitted (running or queued) go on, new ones are refused with 503 so a load balancer
 * retries them elsewhere. When the grace period is over it aborts: no further run starts
 * (a queued request admitted now is refused too), and the runs killed by the shutdown are
 * answered 503, not with whatever a killed interpreter looks like.
 */
export class Drain {
  private state: "serving" | "draining" | "aborting" = "serving";

  /** `retryAfterSeconds`: what the refusals tell clients to wait before they retry. */
  constructor(private readonly retryAfterSeconds: number) {}

  get serving(): boolean {
    return this.state === "serving";
  }

  get aborting(): boolean {
    return this.state === "aborting";
  }

  startDraining(): void {
    if (this.state === "serving") this.state = "draining";
  }

  abort(): void {
    this.state = "aborting";
  }

  /** Refuses new execution requests once draining has begun. */
  guard(execute: Execute): Execute {
    return async (request, context) => {
      if (!this.serving) return this.refused("The server is shutting down; retry the request");
      return execute(request, context);
    };
  }

  /**
   * Refuses new sessions and new cells once draining has begun: the sessions end with the server
   * (Sessions.close, once the requests in flight are answered), so their clients start again
   * elsewhere. Reading and deleting a session go on.
   */
  guardSessions(sessions: SessionsApi): SessionsApi {
    return {
      create: async (owner, request, signal) => {
        if (!this.serving) return this.refused("The server is shutting down; start the session on another replica");
        return sessions.create(owner, request, signal);
      },
      view: (owner, id) => sessions.view(owner, id),
      execute: async (owner, id, cell, signal) => {
        if (!this.serving) return this.refused("The server is shutting down and its sessions end with it; start a new session on another replica");
        return sessions.execute(owner, id, cell, signal);
      },
      delete: (owner, id) => sessions.delete(owner, id),
    };
  }

  /** The sandbox as the use case sees it: after abort, nothing starts and killed runs are a 503. */
  guardSandbox(sandbox: SandboxPort): SandboxPort {
    return {
      get backend() {
        return sandbox.backend;
      },
      get isolation() {
        return sandbox.isolation;
      },
      run: async (request) => {
        if (this.aborting) return this.refused("The server is shutting down; retry the request");
        const outcome = await sandbox.run(request);
        if (this.aborting && !outcome.ok) return this.refused("The server shut down before the script finished; retry the request", outcome.error.output);
        return outcome;
      },
      close: () => sandbox.close(),
    };
  }

  private refused(message: string, output: CapturedOutput = NO_OUTPUT): Result<never, ExecutionFailure> {
    return err(failure("SANDBOX_UNAVAILABLE", message, output, { retryAfterSeconds: this.retryAfterSeconds }));
  }
}
