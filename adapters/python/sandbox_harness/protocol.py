"""The facts the server and the harness share, read from protocol.json (the server reads it too)."""

import json
import os

with open(os.path.join(os.path.dirname(__file__), "protocol.json"), "rb") as _file:
    _facts = json.load(_file)

# The harness's report channel, and the fork server's channel to it.
RESULT_FD = _facts["resultFd"]
# A run's own channel to the server while the fork server sets it up (fork_server.py).
CONTROL_FD = _facts["controlFd"]
# A pre-started harness announces on its result channel that it is ready for a script.
READY_LINE = _facts["readyLine"].encode() + b"\n"
# A forked run says this on its control channel once it has read its request, before its script.
STARTED_LINE = _facts["startedLine"].encode() + b"\n"
# Exit status of a harness whose result channel the script closed.
RESULT_CHANNEL_LOST_EXIT = _facts["resultChannelLostExit"]
# Exit status of a forked run whose set-up failed (it said why on its control channel, if it could).
SETUP_FAILED_EXIT = _facts["setupFailedExit"]
# The name the script's code has in tracebacks (not a file on disk).
SCRIPT_FILENAME = _facts["scriptFilename"]
# The run's work dir inside a sandbox.
WORK_DIR = _facts["workDir"]
# A path longer than this (UTF-8) is not listed, so that the report's header stays bounded.
MAX_PATH_BYTES = _facts["maxPathBytes"]
# Deeper results break the recursive JSON parsers of many clients.
MAX_RESULT_DEPTH = _facts["maxResultDepth"]
# A cell's value that is not JSON comes back as its repr(), cut at this many characters.
MAX_RESULT_REPR_CHARS = _facts["maxResultReprChars"]
