"""Runs one untrusted script and reports its result (main()'s, or a notebook cell's value, as the
request's entry mode says: entry.py) on a channel of its own.

Protocol (shared by every sandbox backend; the facts both sides share are in protocol.json):
  stdin      one JSON request: {"script": str, "entry": "main" | "main-or-cell" | "cell",
             "limits": {...}, "memoryMb": int, "maxResultBytes": int,
             "artifactLimits": {"maxFiles", "maxBytes", "maxFigures"},
             "args": {...} (optional), "files": [{"path", "content", "encoding"}] (optional)}
  fd 1, 2    the script's own output, untouched (the server captures it at the fd level)
  result fd  one report: a JSON header line, then a body of raw bytes whose parts the header
             measures: the result JSON text ("resultBytes", success only; "resultKind": "repr"
             when it is a cell value's repr() as a JSON string), then the content of each file
             that has "contentBytes", then each figure's PNG ("contentBytes")
             (with --preload, first the ready line once the imports are done)

A sandbox sees this package on a read-only mount and runs serve.main() (a jail per run, or
the subprocess backend) or fork_server.main() (the fork server, which runs serve.serve() in
each child). With --preload MODULES (comma-separated) the harness imports those modules
before it reads stdin, so a pre-started sandbox only has to compile and run the script.

Everything one run does is run.run(request), which returns the report's header and the parts
of its body, and depends on nothing of how the process started. The run's work dir is the
current directory.
"""
