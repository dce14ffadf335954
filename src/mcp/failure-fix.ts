import { SCRIPT_FILENAME } from "../../adapters/python/protocol-facts.js";
import type { ErrorCode } from "../../openapi/error-codes.js";
import type { ExecuteLimits } from "../http/execute.js";

/** What a failed call is known by: its code, its message and traceback, the script it ran. */
export interface FailedCall {
  readonly code: ErrorCode;
  readonly message: string;
  readonly traceback?: string;
  readonly retryAfterSeconds?: number;
  readonly script: string;
  /** The code ran (or was to run) as a cell of a session. */
  readonly inSession?: boolean;
  /** The failure ended the session. */
  readonly sessionEnded?: boolean;
}

type Fix = (failed: FailedCall, limits: ExecuteLimits) => string;

/** `line 3: "x = 1 +"`, the script's own text of that line. */
function quoteLine(script: string, line: number): string {
  const text = script.split(/\r\n|\r|\n/)[line - 1]?.trim();
  return text ? `line ${line}: ${JSON.stringify(text)}` : `line ${line}`;
}

const SCRIPT_FILE_PATTERN = SCRIPT_FILENAME.replaceAll(".", "\\.");

/** The line a syntax error names, as the harness's message gives it: "(script.py, line 3, column 9)". */
const syntaxErrorLine = (message: string): number | undefined => {
  const found = new RegExp(`\\(${SCRIPT_FILE_PATTERN}, line (\\d+)`).exec(message);
  return found ? Number(found[1]) : undefined;
};

/** The innermost line of the script in a traceback (the frames after it are the libraries' it called). */
const innermostScriptLine = (traceback: string | undefined): number | undefined => {
  const lines = [...(traceback ?? "").matchAll(new RegExp(`File "${SCRIPT_FILE_PATTERN}", line (\\d+)`, "g"))];
  const last = lines.at(-1);
  return last ? Number(last[1]) : undefined;
};

const FIXES: Partial<Record<ErrorCode, Fix>> = {
  SYNTAX_ERROR: ({ message, script }) => {
    const line = syntaxErrorLine(message);
    return line === undefined ? "Fix the syntax the error names." : `Fix the syntax at ${quoteLine(script, line)}.`;
  },
  RUNTIME_ERROR: ({ traceback, script }) => {
    const line = innermostScriptLine(traceback);
    if (line === undefined) return "Fix the code the error names.";
    return `The error comes from ${quoteLine(script, line)}: fix the code there, or what the traceback shows led to it.`;
  },
  RESULT_NOT_JSON: () =>
    "main() must return a JSON value: convert the part the error names as it says. Or leave main() out and end the code " +
    "with an expression: a cell's value that is not JSON comes back as its repr().",
  RESULT_TOO_LARGE: () =>
    "Return less (a summary, the first rows), or write the data to a file in the working directory: the files the code writes come back with the result.",
  MAIN_NOT_FOUND: () => "Give main()'s required parameters in args, give them defaults, or leave main() out and write the code at the top level.",
  INVALID_ARGS: () => "Make args name exactly main()'s parameters, or leave args out: code without a main() takes none.",
  SCRIPT_EXITED: () => "Do not end the process (sys.exit(), exit(), os._exit()): let the code run to its end.",
  TIMEOUT: (_, limits) => `Make the code do less or run faster: timeoutMs is at most ${limits.maxTimeoutMs} ms, its default.`,
  MEMORY_LIMIT_EXCEEDED: ({ inSession }, limits) =>
    inSession
      ? `Keep less in the session (smaller data, narrower dtypes, chunks, del what is no longer needed), or start it with a larger memoryMb: it holds everything the session keeps, at most ${limits.maxMemoryMb} MB, its default.`
      : `Use less memory (smaller data, narrower dtypes, chunks): memoryMb is at most ${limits.maxMemoryMb} MB, its default.`,
  RESOURCE_LIMIT_EXCEEDED: () => "Stay within the limit the error names: fewer processes or threads, fewer open files, smaller files.",
  INVALID_REQUEST: () => "Fix the argument the error names.",
  PAYLOAD_TOO_LARGE: () => "Send a smaller script, or fewer or smaller files: the error gives the limit.",
  BUSY: ({ retryAfterSeconds }) => `Every sandbox is busy: call again${retryAfterSeconds === undefined ? " shortly" : ` in ${retryAfterSeconds} s`}.`,
  SANDBOX_UNAVAILABLE: ({ retryAfterSeconds }) =>
    `The service cannot run code right now: call again${retryAfterSeconds === undefined ? " later" : ` in ${retryAfterSeconds} s`}.`,
  SESSION_NOT_FOUND: () =>
    "Start a new session with start_session and run again the code that set up its state: this one has ended (idle too long, too old, " +
    "ended, or ended by its code) or never existed.",
  SESSION_BUSY: () => "Other code is running in this session: wait for its answer, then call again. Code in one session runs one call at a time.",
  SESSION_LIMIT: ({ retryAfterSeconds }) =>
    "End a session you no longer need with end_session, or run the code without sessionId" +
    `${retryAfterSeconds === undefined ? "" : `, or call again in ${retryAfterSeconds} s`}.`,
};

/** Said after the fix of a failure that ended its session (its own cause aside, the state is gone). */
const SESSION_ENDED = "The session has ended and everything it held is gone: start a new one with start_session and run again the code that set up its state.";

/**
 * What the agent should change for the call to work, in a sentence that points at the script's
 * line where the failure names one; undefined where nothing in the call can fix it.
 */
export function fixFor(failed: FailedCall, limits: ExecuteLimits): string | undefined {
  const fix = FIXES[failed.code]?.(failed, limits);
  if (!failed.sessionEnded || failed.code === "SESSION_NOT_FOUND") return fix;
  return fix === undefined ? SESSION_ENDED : `${fix} ${SESSION_ENDED}`;
}
