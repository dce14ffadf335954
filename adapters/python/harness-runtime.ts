/** Where the interpreter is and what the harness says; found at startup, passed to every backend. */
export interface HarnessRuntime {
  /** The virtualenv's python (numpy and pandas installed). */
  readonly pythonBin: string;
  /** The virtualenv directory containing pythonBin. */
  readonly venvDir: string;
  /**
   * harness.py's source. It is handed to the interpreter with -c, so a sandbox needs no access
   * to the server's own files: only the virtualenv must be readable by the sandbox's user.
   */
  readonly harnessSource: string;
  /** zygote.py's source: the fork server, which runs harnessSource's per-run code in each child. */
  readonly zygoteSource: string;
}
