/** Where the interpreter and the harness are; found at startup, passed to every backend. */
export interface HarnessRuntime {
  /** The virtualenv's python (numpy and pandas installed). */
  readonly pythonBin: string;
  /** The virtualenv directory containing pythonBin. */
  readonly venvDir: string;
  /**
   * A directory holding the harness package, readable by every sandbox user (harnessSnapshot):
   * a jail mounts it read-only, the subprocess backend puts it on the interpreter's path.
   */
  readonly harnessDir: string;
}
