import { execFileSync } from "node:child_process";
import type { Reporter, TestCase, TestModule } from "vitest/node";

/**
 * A reporter for long runs whose output is only read afterwards (the cgroup v2 VM's console):
 * one line as each test starts and ends, and, every minute, the name of whatever has been
 * going for longer than a few minutes (a test, or a test file still being loaded) with what
 * the machine does (scripts/machine-snapshot.sh: the busiest processes, where the kernel holds
 * them, the backtraces of the CPUs not idle, the kernel's last errors), so a hang shows where it is and what
 * it does. Lines start with `[progress]`; scripts/test-cgroup2.sh reads them back.
 */
export default class ProgressReporter implements Reporter {
  /** What has started and not ended, by vitest's id: its label and when it started. */
  private readonly going = new Map<string, { label: string; since: number }>();
  private timer: NodeJS.Timeout | undefined;
  /** The stalls already shown in full (see nameStalled), and when the last full picture was. */
  private readonly shown = new Set<string>();
  private shownAt = 0;

  private readonly stalledAfterMs: number;
  private readonly checkEveryMs: number;

  /** vitest passes the reporter's options (`{}` when none are given on the command line). */
  constructor({ stalledAfterMs = 180_000, checkEveryMs = 60_000 }: { stalledAfterMs?: number; checkEveryMs?: number } = {}) {
    this.stalledAfterMs = stalledAfterMs;
    this.checkEveryMs = checkEveryMs;
  }

  /** Before the global set-up (vitest.config.ts), which may hang as well as a test can. */
  onInit(): void {
    this.timer = setInterval(() => this.nameStalled(), this.checkEveryMs);
    this.timer.unref();
    this.start(GLOBAL_SETUP, "the global set-up", "loading");
  }

  onTestModuleQueued(module: TestModule): void {
    if (this.going.delete(GLOBAL_SETUP)) print("loaded the global set-up");
    this.start(module.id, module.relativeModuleId, "loading");
  }

  onTestModuleCollected(module: TestModule): void {
    this.end(module.id);
    print(`loaded ${module.relativeModuleId}`);
  }

  onTestCaseReady(test: TestCase): void {
    this.start(test.id, labelOf(test), "started");
  }

  onTestCaseResult(test: TestCase): void {
    const result = test.result();
    // Tests filtered out or skipped are reported at the end of their file, never started: not news.
    if (!this.going.has(test.id) && result.state === "skipped") return;
    this.end(test.id);
    const ms = Math.round(test.diagnostic()?.duration ?? 0);
    const firstError = result.state === "failed" ? `: ${result.errors?.[0]?.message?.split("\n")[0] ?? "failed"}` : "";
    print(`${result.state} ${labelOf(test)} (${ms} ms)${firstError}`);
  }

  onTestRunEnd(): void {
    clearInterval(this.timer);
  }

  private start(id: string, label: string, what: "loading" | "started"): void {
    this.going.set(id, { label: `${what} ${label}`, since: performance.now() });
    print(`${what} ${label}`);
  }

  private end(id: string): void {
    this.going.delete(id);
  }

  private nameStalled(): void {
    const now = performance.now();
    const stalled = [...this.going.values()].filter(({ since }) => now - since >= this.stalledAfterMs);
    for (const { label, since } of stalled) print(`still going after ${Math.round((now - since) / 1000)} s: ${label}`);
    if (stalled.length === 0) return;
    // The whole picture (kernel stacks, the CPUs' backtraces) when something newly stalls and
    // every few minutes after; the busiest processes in between.
    const newlyStalled = stalled.some(({ label }) => !this.shown.has(label));
    // Half a check of slack: the timer's ticks and performance.now() may differ by a millisecond.
    if (newlyStalled || now - this.shownAt >= SNAPSHOT_EVERY_MS - this.checkEveryMs / 2) {
      for (const { label } of stalled) this.shown.add(label);
      this.shownAt = now;
      print(`what the machine is doing:\n${commandOutput("bash", ["scripts/machine-snapshot.sh"])}`);
    } else {
      print(`what the machine is doing:\n${commandOutput("top", ["-b", "-n", "1", "-w", "160", "-o", "%CPU"], 20)}`);
    }
  }
}

/** How often a stall that goes on is shown in full. */
const SNAPSHOT_EVERY_MS = 5 * 60_000;

/** A command's output (its first `lines` lines, when given), and why it ended early if it did. */
function commandOutput(command: string, args: string[], lines = Number.POSITIVE_INFINITY): string {
  const shown = (output: string) =>
    output
      .trimEnd()
      .split("\n")
      .slice(0, lines)
      .map((line) => line.slice(0, 180))
      .join("\n");
  try {
    return shown(execFileSync(command, args, { encoding: "utf8", timeout: 20_000 }));
  } catch (error) {
    const partial = (error as { stdout?: unknown }).stdout;
    const why = `(${command} failed: ${error instanceof Error ? error.message.split("\n")[0] : String(error)})`;
    return typeof partial === "string" && partial.length > 0 ? `${shown(partial)}\n${why}` : why;
  }
}

const GLOBAL_SETUP = "global set-up";

const labelOf = (test: TestCase): string => `${test.module.relativeModuleId} > ${test.fullName}`;

function print(line: string): void {
  process.stdout.write(`[progress] ${line}\n`);
}
