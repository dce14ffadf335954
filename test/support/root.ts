import { it } from "vitest";

export const isRoot = process.getuid?.() === 0;

/**
 * `it` for a guarantee the subprocess backend gives only when the server runs as root, where
 * each run gets a uid of its own (docs/sandbox.md, "What needs root"). As another user the test is
 * registered as skipped, under a name that says so, with a loud warning, as the nsjail tests
 * are: the suite passes for a newcomer without claiming what their setup does not have.
 */
export function itAsRoot(name: string, test: () => Promise<void>): void {
  if (isRoot) {
    it(name, test);
    return;
  }
  console.warn(`\n*** SKIPPING (needs root): ${name} ***\n`);
  it.skip(`${name} [needs root]`, test);
}
