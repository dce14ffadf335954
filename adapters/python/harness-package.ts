/**
 * The harness is the Python package sandbox_harness/. Sandboxes load it from a read-only
 * directory: a jail (and the fork server's jail) has it bind-mounted at JAIL_HARNESS_DIR, the
 * subprocess backend reads it where it is. That directory is a snapshot of the package taken
 * when the server starts, in a temp dir every sandbox user can pass through (the checkout, or
 * the server's own TMPDIR, may sit below a directory they cannot enter), named by its content,
 * so servers with the same harness share one.
 */
import { createHash } from "node:crypto";
import { chmodSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, type Stats, statSync, writeFileSync } from "node:fs";
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
  if (!dir.startsWith("/") || /["\\]|\p{Cc}/u.test(dir))
    throw new Error(`the harness dir must be an absolute path without quotes, backslashes or control characters: ${dir}`);
  return `import sys; sys.path.insert(0, "${dir}"); from ${HARNESS_PACKAGE}.${entry} import main; del sys.path[0]; main()`;
}

/** The package's source in a checkout or the image. */
export const harnessPackageSource = (root: string): string => join(root, "adapters", "python", HARNESS_PACKAGE);

/**
 * A directory holding a copy of the package (HARNESS_PACKAGE/), readable by everyone and
 * writable only by this process's user; made once per content and user, and reused only when it
 * still holds exactly that content. When its name is taken by anything else, the copy keeps a
 * name of its own.
 */
export function harnessSnapshot(source: string, parent: string = sharedTempDir()): string {
  const files = readdirSync(source)
    .filter((name) => name.endsWith(".py") || name.endsWith(".json"))
    .sort()
    .map((name) => ({ name, content: readFileSync(join(source, name)) }));
  const hash = createHash("sha256");
  for (const { name, content } of files) hash.update(`${name}\0`).update(content).update("\0");
  const uid = process.getuid?.() ?? 0;
  const named = join(parent, `python-exec-harness-${uid}-${hash.digest("hex").slice(0, 16)}`);
  if (holdsExactly(named, files, uid)) return named;
  const made = mkdtempSync(join(parent, "python-exec-harness-"));
  const target = join(made, HARNESS_PACKAGE);
  mkdirSync(target);
  for (const { name, content } of files) {
    writeFileSync(join(target, name), content);
    chmodSync(join(target, name), 0o444);
  }
  chmodSync(target, 0o755);
  chmodSync(made, 0o755);
  try {
    renameSync(made, named);
    return named;
  } catch {
    // Taken meanwhile: by the same snapshot of another server, or by anything else.
    if (!holdsExactly(named, files, uid)) return made;
    rmSync(made, { recursive: true, force: true });
    return named;
  }
}

/** `dir` holds the package's files and nothing else, as regular files only `uid` owns and none can write. */
function holdsExactly(dir: string, files: readonly { name: string; content: Buffer }[], uid: number): boolean {
  const owned = (path: string, mode: number, isType: (info: Stats) => boolean): boolean => {
    try {
      const info = lstatSync(path);
      return isType(info) && info.uid === uid && (info.mode & 0o777) === mode;
    } catch {
      return false;
    }
  };
  const target = join(dir, HARNESS_PACKAGE);
  if (!owned(dir, 0o755, (info) => info.isDirectory()) || !owned(target, 0o755, (info) => info.isDirectory())) return false;
  if (readdirSync(target).sort().join("\0") !== files.map(({ name }) => name).join("\0")) return false;
  return files.every(({ name, content }) => owned(join(target, name), 0o444, (info) => info.isFile()) && readFileSync(join(target, name)).equals(content));
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
