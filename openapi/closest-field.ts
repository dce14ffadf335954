/** Other names clients give a field, by the field they mean: an agent writes `code` for the script, `kwargs` for args, `script` for a cell's code. */
const ALIASES: Readonly<Record<string, readonly string[]>> = {
  script: ["code", "source", "src", "python", "program", "sourceCode"],
  // A cell's source (POST /sessions/{id}/execute): what /execute calls script.
  code: ["script", "cell", "source", "src", "python", "program", "sourceCode"],
  args: ["arguments", "kwargs", "params", "parameters"],
  content: ["text", "data", "body"],
  path: ["name", "filename", "filepath"],
};

/** A name shorter than this is too short to be taken for the beginning of a field (`t` for timeoutMs). */
const MIN_BEGINNING = 3;
/** Two names that begin with this many characters alike are taken for the same field (`time_limit` for timeoutMs). */
const SAME_BEGINNING = 4;

/** The same name for these rules whatever its case or separators: timeout_ms is timeoutMs. */
const normalized = (name: string): string => name.toLowerCase().replace(/[-_\s]/g, "");

/** Edits (insertions, deletions, substitutions, swaps of neighbours) that turn `a` into `b`. */
function editDistance(a: string, b: string): number {
  // The distance from the first i characters of a to the first j of b, at i * width + j.
  const width = b.length + 1;
  const distances = Array.from({ length: (a.length + 1) * width }, (_, at) => Math.max(Math.floor(at / width), at % width));
  const at = (i: number, j: number): number => distances[i * width + j] ?? Number.POSITIVE_INFINITY;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const substitution = at(i - 1, j - 1) + (a[i - 1] === b[j - 1] ? 0 : 1);
      const swap = i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1] ? at(i - 2, j - 2) + 1 : Number.POSITIVE_INFINITY;
      distances[i * width + j] = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, substitution, swap);
    }
  }
  return at(a.length, b.length);
}

/** How many characters `a` and `b` begin with alike. */
function sharedBeginning(a: string, b: string): number {
  let length = 0;
  while (length < a.length && length < b.length && a[length] === b[length]) length++;
  return length;
}

/** One edit is a typo of a short name, two of a longer one. */
const maxEdits = (name: string): number => (name.length <= 4 ? 1 : 2);

/**
 * The known field a client most likely meant by the unknown `name`, or undefined when none is
 * close. Case, `_` and `-` aside, a field is close when `name` is one of its aliases (`code` for
 * script); when the two begin alike, the shorter (of 3 characters or more) beginning the longer
 * or both with the same 4 characters (`timeout` and `time_limit` for timeoutMs, `file` for
 * files); or when it is at most one edit away, two for a name of 5 characters or more, a swap of
 * neighbours counting as one (`scirpt`). The fewest edits away wins; on a tie, the field listed first.
 */
export function closestField(name: string, known: readonly string[]): string | undefined {
  const wanted = normalized(name);
  const aliased = known.find((field) => ALIASES[field]?.some((alias) => normalized(alias) === wanted));
  if (aliased !== undefined) return aliased;
  let closest: { field: string; edits: number } | undefined;
  for (const field of known) {
    const candidate = normalized(field);
    const shorter = Math.min(wanted.length, candidate.length);
    const beginsAlike = shorter >= MIN_BEGINNING && sharedBeginning(wanted, candidate) >= Math.min(shorter, SAME_BEGINNING);
    const edits = editDistance(wanted, candidate);
    if (!beginsAlike && edits > maxEdits(wanted)) continue;
    if (closest === undefined || edits < closest.edits) closest = { field, edits };
  }
  return closest?.field;
}
