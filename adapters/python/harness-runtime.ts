/** Where the interpreter and the harness live; found at startup, passed to every backend. */
export interface HarnessRuntime {
  /** The virtualenv's python (numpy and pandas installed). */
  readonly pythonBin: string;
  /** The virtualenv directory containing pythonBin. */
  readonly venvDir: string;
  /** The directory holding harness.py. */
  readonly harnessDir: string;
}

export const HARNESS_FILE = "harness.py";
