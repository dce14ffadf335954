import type { ErrorCode } from "./error-codes.js";
import type { ErrorBody } from "./schemas.js";

const example = (code: ErrorCode, error: string, extra: Partial<ErrorBody> = {}): ErrorBody => ({
  error,
  code,
  stdout: "",
  stderr: "",
  ...extra,
});

/** One documented example per error code, shown in /openapi.json and the Swagger UI. */
export const ERROR_EXAMPLES: Record<ErrorCode, ErrorBody> = {
  INVALID_REQUEST: example("INVALID_REQUEST", "Invalid request: unknown field `timeout`; did you mean `timeoutMs`?"),
  UNSUPPORTED_MEDIA_TYPE: example("UNSUPPORTED_MEDIA_TYPE", "Content-Type must be application/json"),
  PAYLOAD_TOO_LARGE: example("PAYLOAD_TOO_LARGE", "The request has 101 files, over the limit of 100 files"),
  UNAUTHORIZED: example("UNAUTHORIZED", "A valid API key is required: send Authorization: Bearer <key>"),
  IDEMPOTENCY_KEY_REUSED: example(
    "IDEMPOTENCY_KEY_REUSED",
    'Idempotency-Key "8e03978e-40d5-43e8-bc93-6894a57f9324" was already used with another request (path or body): a key stands for one request; send a new key with a new request',
  ),
  NOT_FOUND: example("NOT_FOUND", "No route for GET /nope"),
  METHOD_NOT_ALLOWED: example("METHOD_NOT_ALLOWED", "GET is not allowed on /execute; use POST"),
  SYNTAX_ERROR: example("SYNTAX_ERROR", "SyntaxError: invalid syntax (script.py, line 3, column 11)", {
    traceback: '  File "script.py", line 3\n    x = 1 + \n            ^\nSyntaxError: invalid syntax\n',
  }),
  INVALID_ARGS: example("INVALID_ARGS", 'main() requires the argument "name", which args does not give'),
  MAIN_NOT_FOUND: example("MAIN_NOT_FOUND", "No callable main() found in script", { stdout: "This script has no main\n" }),
  RUNTIME_ERROR: example("RUNTIME_ERROR", "ZeroDivisionError: division by zero", {
    stdout: "before\n",
    traceback:
      'Traceback (most recent call last):\n  File "script.py", line 3, in main\n    return 1 / 0\n           ~~^~~\nZeroDivisionError: division by zero\n',
  }),
  RESULT_NOT_JSON: example(
    "RESULT_NOT_JSON",
    'main() returned a value that is not JSON: result["df"] is pandas.DataFrame, which is not JSON; return df.to_dict()',
  ),
  RESULT_TOO_LARGE: example("RESULT_TOO_LARGE", "The result is 5000012 bytes of JSON, over the limit of 4194304 bytes"),
  SCRIPT_EXITED: example("SCRIPT_EXITED", "The script exited (sys.exit(0)) before main() returned"),
  MEMORY_LIMIT_EXCEEDED: example("MEMORY_LIMIT_EXCEEDED", "Memory limit exceeded (512 MB)"),
  RESOURCE_LIMIT_EXCEEDED: example("RESOURCE_LIMIT_EXCEEDED", "Process limit exceeded: the script started too many processes or threads"),
  TIMEOUT: example("TIMEOUT", "Script execution timed out: the wall-clock limit of 30000 ms was reached", { stdout: "Sleeping...\n" }),
  BUSY: example("BUSY", "Server busy: all sandboxes are busy and the queue is full; retry later"),
  SANDBOX_UNAVAILABLE: example("SANDBOX_UNAVAILABLE", "The sandbox could not be started"),
  CANCELLED: example("CANCELLED", "The request was cancelled (its client went away): its run was stopped", { stdout: "Sleeping...\n" }),
  INTERNAL: example("INTERNAL", "Internal error"),
  SESSION_NOT_FOUND: example(
    "SESSION_NOT_FOUND",
    'No session "hV3k9Qm2xR7tL0aB4cD8eF": it never existed, has ended or expired, or belongs to another API key; start a new one',
  ),
  SESSION_BUSY: example("SESSION_BUSY", "A cell is already running in this session; cells of one session run one at a time"),
  SESSION_LIMIT: example("SESSION_LIMIT", "All 16 sessions this server keeps are open; end one or retry later"),
};
