/** The value following each occurrence of a flag in an nsjail command line, before the jailed command (`--`). */
export function values(argv: readonly string[], flag: string): string[] {
  const command = argv.indexOf("--");
  return argv.flatMap((arg, i) => (arg === flag && i < command ? [argv[i + 1] ?? ""] : []));
}
