/**
 * The top-level packages of requirements.txt: the pins not marked "# via ...", which are
 * there only because another pin needs them. /health lists these with the versions the live
 * sandbox reports.
 */
export function topLevelPackages(requirements: string): string[] {
  const names: string[] = [];
  for (const line of requirements.split("\n")) {
    const [pin = "", comment = ""] = line.split(/\s+#/, 2);
    const match = /^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*==/.exec(pin);
    if (match?.[1] && !/^\s*via\b/.test(comment)) names.push(match[1]);
  }
  return names;
}
