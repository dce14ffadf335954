/** The notebook's cells (their code) and the page's mode, kept in this browser across reloads. */
const CELLS_ITEM = "python-exec-service.notebook";
const MODE_ITEM = "python-exec-service.mode";

type DraftStorage = Pick<Storage, "getItem" | "setItem">;
type ModeStorage = Pick<Storage, "getItem" | "setItem" | "removeItem">;

export type Mode = "script" | "notebook";

/** Keeps the cells' code; false when the storage refused it (over its quota). */
export function saveCells(storage: DraftStorage, cells: readonly string[]): boolean {
  try {
    storage.setItem(CELLS_ITEM, JSON.stringify({ cells }));
    return true;
  } catch {
    return false;
  }
}

/** The cells' code kept; undefined when there is none, or what is stored is not a list of cells. */
export function loadCells(storage: DraftStorage): string[] | undefined {
  try {
    const { cells } = (JSON.parse(storage.getItem(CELLS_ITEM) ?? "null") ?? {}) as { cells?: unknown };
    if (!Array.isArray(cells) || cells.length === 0 || !cells.every((cell) => typeof cell === "string")) return undefined;
    return cells;
  } catch {
    return undefined;
  }
}

/** Keeps the mode the user chose; script mode, the default, is kept as nothing stored. */
export function saveMode(storage: ModeStorage, mode: Mode): void {
  try {
    if (mode === "script") storage.removeItem(MODE_ITEM);
    else storage.setItem(MODE_ITEM, mode);
  } catch {
    // Not kept: the next load starts in script mode.
  }
}

/** The mode the page was last in: script mode unless the notebook was. */
export const loadMode = (storage: Pick<Storage, "getItem">): Mode => (storage.getItem(MODE_ITEM) === "notebook" ? "notebook" : "script");
