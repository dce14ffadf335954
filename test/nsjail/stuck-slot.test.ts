/**
 * A run's cgroup slot that cannot be emptied (here: an exited process nobody reaps, which the
 * pids controller counts and no kill ends; in production a process stuck in the kernel) keeps
 * its sandbox uid out of use, so the runs after it do not wait for that slot and fail. Real
 * nsjail backend in both modes, with nothing forked ahead so that the next run takes the uid
 * given back last.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, expect, it } from "vitest";
import { detectCgroups } from "../../adapters/cgroups/cgroup.js";
import { cgroupSlots } from "../../adapters/cgroups/cgroup-slots.js";
import { eachMode, nsjailModes } from "../support/nsjail.js";
import { processesOfRun } from "../support/processes.js";
import { appOver, slowed } from "../support/real-app.js";
import { type App, execute, py, uniqueMarker } from "../support/requests.js";
import { testTimeout } from "../support/slowdown.js";

const modes = await nsjailModes({ POOL_SIZE: "0" });

/** The host uid a process runs as. */
const hostUid = (pid: number): number => Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1]);

/**
 * Puts an exited process into the slot of `uid`: a child that joins the slot and exits, of a
 * parent that never reaps it. Killing the parent lets it go.
 */
async function holdExitedProcessIn(uid: number): Promise<ChildProcess> {
  const slot = cgroupSlots(detectCgroups({ prepare: false }).mode)!(uid);
  const source = py`
    import os, sys, time

    child = os.fork()
    if child == 0:
        for procs in sys.argv[1:]:
            with open(procs, "w") as f:
                f.write(str(os.getpid()))
        os._exit(0)
    print(child, flush=True)
    time.sleep(3600)
  `;
  const parent = spawn("python3", ["-c", source, ...slot.procsFiles], { stdio: ["ignore", "pipe", "inherit"] });
  await new Promise((resolve) => parent.stdout!.once("data", resolve));
  return parent;
}

/** A script that makes `mark` in its work dir and lasts `seconds`, so its processes can be found. */
const marking = (mark: string, seconds = 1) => py`
  import time

  def main():
      open("${mark}", "w").close()
      time.sleep(${seconds})
      return "${mark}"
`;

eachMode(modes)("nsjail ($mode): a run's slot that cannot be emptied", ({ sandbox }) => {
  let app: App;
  beforeAll(async () => {
    app = await appOver(sandbox);
  });
  afterAll(async () => {
    await sandbox.close();
  });

  // Its timeout: the slot's 30 s wait to be empty and the quarantine's 5 s looks, then the runs.
  it("is answered, and keeps its uid out of use: the runs after it get other uids, and succeed", { timeout: testTimeout(40_000, 20_000) }, async () => {
    const mark = `run-${uniqueMarker()}`;
    // Long enough for the helper to put its process into the slot while the run still holds it.
    const pending = execute(app, marking(mark, Number(slowed(5000)) / 1000));
    const [process] = await processesOfRun(mark);
    const stuckUid = hostUid(process!.pid);
    const holder = await holdExitedProcessIn(stuckUid);
    try {
      // Its slot does not empty within the grace: the run is answered all the same, with what it earned.
      const stuck = await pending;
      expect(stuck.status, stuck.text).toBe(200);
      expect(stuck.body.result).toBe(mark);
      for (let i = 0; i < 3; i++) {
        const next = `run-${uniqueMarker()}`;
        // Lasting while the test scans /proc for it and reads its uid, slow under emulation.
        const response = execute(app, marking(next, Number(slowed(2000)) / 1000));
        const [run] = await processesOfRun(next);
        expect(run, "the run never started").toBeDefined();
        expect(hostUid(run!.pid)).not.toBe(stuckUid);
        const res = await response;
        expect(res.status, res.text).toBe(200);
        expect(res.body.result).toBe(next);
      }
    } finally {
      holder.kill("SIGKILL");
    }
  });
});
