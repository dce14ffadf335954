import { buildPlayground } from "../../scripts/build-playground.js";
import { playgroundBundleDir, projectRoot } from "../../src/project-paths.js";

/** vitest's global set-up: the server serves the playground bundle, so every test run builds it from the current source first. */
export default async function setup(): Promise<void> {
  await buildPlayground(playgroundBundleDir(projectRoot()));
}
