/**
 * What the server and the harness must agree on, read from the file the harness reads too
 * (sandbox_harness/protocol.json), so that each fact is written once.
 */
import facts from "./sandbox_harness/protocol.json" with { type: "json" };

/** The descriptor the harness writes its report on (and the fork server its replies). */
export const RESULT_FD: number = facts.resultFd;
/** What a pre-started harness (and a fork server) writes on its result channel once it is ready, without its newline. */
export const READY_TEXT: string = facts.readyLine;
export const READY_LINE: Uint8Array = new TextEncoder().encode(`${READY_TEXT}\n`);
/** What a forked run says on its control channel once it has read its request, without its newline. */
export const STARTED_TEXT: string = facts.startedLine;
/** Exit status of a harness that could not write its report: the script closed the channel. */
export const RESULT_CHANNEL_LOST_EXIT: number = facts.resultChannelLostExit;
/** Exit status of a forked run whose set-up failed before its script. */
export const SETUP_FAILED_EXIT: number = facts.setupFailedExit;
/** The name the script's code has in tracebacks and syntax errors. */
export const SCRIPT_FILENAME: string = facts.scriptFilename;
/** The run's work dir inside a sandbox: its cwd, HOME and TMPDIR. */
export const JAIL_WORK_DIR: string = facts.workDir;
/** The longest path (UTF-8 bytes) the harness lists among a run's files. */
export const MAX_PATH_BYTES: number = facts.maxPathBytes;
/** Nesting the harness allows in a result. */
export const MAX_RESULT_DEPTH: number = facts.maxResultDepth;
/** A cell's value that is not JSON comes back as its repr(), cut at this many characters. */
export const MAX_RESULT_REPR_CHARS: number = facts.maxResultReprChars;
