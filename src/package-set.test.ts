import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { topLevelPackages } from "./package-set.js";
import { projectRoot } from "./project-paths.js";

describe("topLevelPackages", () => {
  it("lists the pins without a `# via` comment, in file order", () => {
    const requirements = [
      "# a comment line, numpy==1.0 inside it",
      "",
      "matplotlib==3.11.2",
      "numpy==2.4.6  # the arrays",
      "  scipy == 1.15.0",
      "contourpy==1.3.3  # via matplotlib",
      "python-dateutil==4.0.0 #via pandas",
      "-r other.txt",
    ].join("\n");
    expect(topLevelPackages(requirements)).toEqual(["matplotlib", "numpy", "scipy"]);
  });

  it("of the project's own requirements.txt: what scripts are meant to import", () => {
    const requirements = readFileSync(join(projectRoot(), "requirements.txt"), "utf8");
    expect(topLevelPackages(requirements)).toEqual(["matplotlib", "numpy", "pandas"]);
  });
});
