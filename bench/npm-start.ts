import { readFileSync } from "node:fs";
import { join } from "node:path";

/** Node's arguments as `npm start` gives them in `checkout` (its V8 flags, then the built server), from its package.json. */
export function npmStartArgs(checkout: string): string[] {
  const [, ...args] = (JSON.parse(readFileSync(join(checkout, "package.json"), "utf8")) as { scripts: { start: string } }).scripts.start.split(" ");
  const main = args.pop() ?? "";
  return [...args, join(checkout, main)];
}
