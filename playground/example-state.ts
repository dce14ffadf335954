import type { Example } from "./examples.js";
import type { RunForm } from "./run-request.js";

const LIMITS = ["timeoutMs", "memoryMb"] as const;

/** The form as choosing `example` fills it: its script, args, files and limits; blank (the server's default) for what it leaves out. */
export function exampleForm(example: Example): RunForm {
  return {
    script: example.script,
    args: example.args === undefined ? "" : JSON.stringify(example.args, null, 2),
    files: example.files ?? [],
    timeoutMs: example.timeoutMs === undefined ? "" : String(example.timeoutMs),
    memoryMb: "",
  };
}

const sameFiles = (a: RunForm["files"], b: RunForm["files"]): boolean =>
  a.length === b.length && a.every((file, i) => file.path === b[i]?.path && file.content === b[i]?.content && file.encoding === b[i]?.encoding);

const sameForm = (a: RunForm, b: RunForm): boolean =>
  a.script === b.script && a.args === b.args && a.timeoutMs === b.timeoutMs && a.memoryMb === b.memoryMb && sameFiles(a.files, b.files);

/** The example the form is, unedited; undefined once it is edited (the user's own script). */
export const exampleOf = (form: RunForm, examples: readonly Example[]): Example | undefined => examples.find((example) => sameForm(exampleForm(example), form));

/** The limits an example sets, as a person reads them ("timeout 2000 ms"); empty when it sets none. */
export function limitsOf(example: Example): string {
  const form = exampleForm(example);
  const named = { timeoutMs: `timeout ${form.timeoutMs} ms`, memoryMb: `memory ${form.memoryMb} MB` };
  return LIMITS.filter((limit) => form[limit] !== "")
    .map((limit) => named[limit])
    .join(", ");
}

/** The form after an edit, and the example whose limits the edit cleared, if it did. */
export interface Edited {
  readonly form: RunForm;
  readonly clearedLimitsOf?: Example;
}

/**
 * An example's limits belong to it: the edit of its script, args or files that takes the form
 * off the example also sets the limits back to blank (the server's default), so the timeout
 * example's 2 s does not stay on the user's own script. An edit of a limit keeps every limit as
 * typed: they are the user's now.
 */
export function afterEdit(before: RunForm, after: RunForm, examples: readonly Example[]): Edited {
  const left = exampleOf(before, examples);
  if (left === undefined || limitsOf(left) === "" || exampleOf(after, examples) === left) return { form: after };
  if (LIMITS.some((limit) => before[limit] !== after[limit])) return { form: after };
  return { form: { ...after, timeoutMs: "", memoryMb: "" }, clearedLimitsOf: left };
}
