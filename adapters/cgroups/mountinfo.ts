/** One cgroup filesystem mount from /proc/self/mountinfo. */
export interface CgroupMount {
  readonly mountPoint: string;
  readonly version: 1 | 2;
  /** v1: the controllers bound to this hierarchy (from the super options). */
  readonly controllers: readonly string[];
}

/** The cgroup mounts in a /proc/<pid>/mountinfo text. */
export function parseMountinfo(text: string): CgroupMount[] {
  const mounts: CgroupMount[] = [];
  for (const line of text.split("\n")) {
    // id parent major:minor root mount-point options [optional fields...] - fstype source super-options
    const fields = line.split(" ");
    const dash = fields.indexOf("-");
    if (dash < 0 || fields.length < dash + 4) continue;
    const fstype = fields[dash + 1];
    const mountPoint = unescapeMountField(fields[4] ?? "");
    if (fstype === "cgroup2") {
      mounts.push({ mountPoint, version: 2, controllers: [] });
    } else if (fstype === "cgroup") {
      const controllers = (fields[dash + 3] ?? "").split(",").filter((o) => !["rw", "ro"].includes(o) && !o.includes("="));
      mounts.push({ mountPoint, version: 1, controllers });
    }
  }
  return mounts;
}

function unescapeMountField(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}
