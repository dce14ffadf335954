/**
 * The whole environment a script sees: a short allowlist, never the server's own variables
 * (keys, tokens and cloud metadata stay out of reach).
 */
export function scriptEnvironment(options: {
  readonly workDir: string;
  /**
   * Where libraries keep their caches (matplotlib's font list): writable, but outside the
   * work dir, so that a cache is never listed among the files a run created.
   */
  readonly cacheDir: string;
  readonly pathDirs: readonly string[];
  /** The server's environment, read only for the CPU-tuning variables passed through. */
  readonly serverEnv: Readonly<Record<string, string | undefined>>;
}): Record<string, string> {
  const env: Record<string, string> = {
    PATH: [...options.pathDirs, "/usr/local/bin", "/usr/bin", "/bin"].join(":"),
    HOME: options.workDir,
    TMPDIR: options.workDir,
    MPLCONFIGDIR: options.cacheDir,
    XDG_CACHE_HOME: options.cacheDir,
    LANG: "C.UTF-8",
    LC_ALL: "C.UTF-8",
    PYTHONUTF8: "1",
    PYTHONUNBUFFERED: "1",
    PYTHONDONTWRITEBYTECODE: "1",
    OPENBLAS_NUM_THREADS: "1",
    OMP_NUM_THREADS: "1",
    MKL_NUM_THREADS: "1",
    NUMEXPR_NUM_THREADS: "1",
    MALLOC_ARENA_MAX: "2",
  };
  // Hosts whose CPUs older OpenBLAS builds misdetect set these; they carry no secrets.
  for (const name of ["OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"]) {
    const value = options.serverEnv[name];
    if (value) env[name] = value;
  }
  return env;
}

/** Interpreter flags: isolated mode (no PYTHON* variables, no user site, no script dir on sys.path), unbuffered, UTF-8. */
export const PYTHON_FLAGS = ["-I", "-u", "-B", "-X", "utf8"] as const;
