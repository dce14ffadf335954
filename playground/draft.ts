import type { InputFile, RunForm } from "./run-request.js";

/** The user's own script, args, files and limits, kept in this browser across reloads. */
const DRAFT_ITEM = "python-exec-service.draft";

type DraftStorage = Pick<Storage, "getItem" | "setItem" | "removeItem">;

/** What saveDraft could keep: the input files are the first to go when the storage is full. */
export type Kept = "all" | "without-files" | "nothing";

export function saveDraft(storage: DraftStorage, form: RunForm): Kept {
  for (const [kept, draft] of [
    ["all", form],
    ["without-files", { ...form, files: [] }],
  ] as const) {
    try {
      storage.setItem(DRAFT_ITEM, JSON.stringify(draft));
      return kept;
    } catch {
      // Over the storage's quota (or storage refused): try with less.
    }
  }
  return "nothing";
}

const isInputFile = (value: unknown): value is InputFile => {
  const file = value as Partial<Record<keyof InputFile, unknown>>;
  return (
    typeof file === "object" &&
    file !== null &&
    typeof file.path === "string" &&
    typeof file.content === "string" &&
    (file.encoding === "utf-8" || file.encoding === "base64")
  );
};

/** The saved draft; undefined when there is none, or what is stored is not one (another version of the page, edited by hand). */
export function loadDraft(storage: DraftStorage): RunForm | undefined {
  let draft: Partial<Record<keyof RunForm, unknown>>;
  try {
    draft = JSON.parse(storage.getItem(DRAFT_ITEM) ?? "null") ?? {};
  } catch {
    return undefined;
  }
  const { script, args, files, timeoutMs, memoryMb } = draft;
  if (typeof script !== "string" || typeof args !== "string" || typeof timeoutMs !== "string" || typeof memoryMb !== "string") return undefined;
  if (!Array.isArray(files) || !files.every(isInputFile)) return undefined;
  return { script, args, files, timeoutMs, memoryMb };
}

export function dropDraft(storage: DraftStorage): void {
  storage.removeItem(DRAFT_ITEM);
}
