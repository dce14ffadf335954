/**
 * The harness is the Python package sandbox_harness/. Sandboxes load it from a read-only
 * directory: a jail (and the fork server's jail) has it bind-mounted at JAIL_HARNESS_DIR, the
 * subprocess backend reads it where it is. That directory is a snapshot of the package taken
 * when the server starts, in a temp dir every sandbox user can pass through (the checkout, or
 * the server's own TMPDIR, may sit below a directory they cannot enter), named by its content,
 * so servers with the same harness share one.
 */
import { createHash } from "node:crypto";
import { chmodSync, copyFileSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

export const HARNESS_PACKAGE = "sandbox_harness";
/** Where a jail sees the snapshot (read-only); the package is HARNESS_PACKAGE inside it. */
export const JAIL_HARNESS_DIR = "/sandbox/harness";

/** What a sandbox runs: a harness for one run, or the fork server. */
export type HarnessEntry = "serve" | "fork_server";

/**
 * The program for `python -c`: imports the entry from `dir` and runs its main(). The
 * directory leaves sys.path again before main(), so the script sees the interpreter's own path;
 * the package keeps importing from it (its __path__ is absolute).
 */
export function harnessBootstrap(dir: string, entry: HarnessEntry): string {
  if (!dir.startsWith("/") || /["\\\n\0]/.test(dir)) throw new Error(`the harness dir must be an absolute path without quotes or backslashes: ${dir}`);
  return `import sys; sys.path.insert(0, "${dir}"); from ${HARNESS_PACKAGE}.${entry} import main; del sys.path[0]; main()`;
}

/** The package's source in a checkout or the image. */
export const harnessPackageSource = (root: string): string => join(root, "adapters", "python", HARNESS_PACKAGE);

/**
 * A directory holding a copy of the package (HARNESS_PACKAGE/), readable by everyone and
 * writable only by this process's user; made once per content and user.
 */
export function harnessSnapshot(source: string, parent: string = sharedTempDir()): string {
  const names = readdirSync(source)
    .filter((name) => name.endsWith(".py") || name.endsWith(".json"))
    .sort();
  const hash = createHash("sha256");
  for (const name of names)
    hash
      .update(`${name}\0`)
      .update(readFileSync(join(source, name)))
      .update("\0");
  const uid = process.getuid?.() ?? 0;
  const dir = join(parent, `python-exec-harness-${uid}-${hash.digest("hex").slice(0, 16)}`);
  if (ownedOnlyBy(dir, uid)) return dir;
  const staging = mkdtempSync(join(parent, "python-exec-harness-staging-"));
  try {
    const target = join(staging, HARNESS_PACKAGE);
    mkdirSync(target);
    for (const name of names) {
      copyFileSync(join(source, name), join(target, name));
      chmodSync(join(target, name), 0o444);
    }
    chmodSync(target, 0o755);
    chmodSync(staging, 0o755);
    renameSync(staging, dir);
  } catch (error) {
    rmSync(staging, { recursive: true, force: true });
    // Another server made the same snapshot meanwhile: it is as good as this one.
    if (!ownedOnlyBy(dir, uid)) throw error;
  }
  return dir;
}

/**
 * The temp dir if every sandbox user can pass through it to the snapshot, else /tmp, which is
 * open to all (a TMPDIR of the server's own, 0700, is not).
 */
function sharedTempDir(): string {
  const dir = tmpdir();
  for (let path = dir; ; path = dirname(path)) {
    if ((statSync(path).mode & 0o001) === 0) return "/tmp";
    if (dirname(path) === path) return dir;
  }
}

/** The snapshot and its package directory exist, and only `uid` can change them. */
function ownedOnlyBy(dir: string, uid: number): boolean {
  for (const path of [dir, join(dir, HARNESS_PACKAGE)]) {
    let info: ReturnType<typeof lstatSync>;
    try {
      info = lstatSync(path);
    } catch {
      return false;
    }
    if (!info.isDirectory() || info.uid !== uid || (info.mode & 0o022) !== 0) {
      if (path === dir) throw new Error(`${dir} is not a directory that only uid ${uid} can change: remove it`);
      return false;
    }
  }
  return true;
}
