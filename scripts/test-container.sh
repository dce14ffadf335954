#!/usr/bin/env bash
# End-to-end test of the production image (`npm run test:container`): builds the Dockerfile
# with podman, runs the container the way docs/deployment.md says, and sends real requests to it:
# the /execute contract, error codes, and hostile scripts (network, filesystem, secrets)
# that the nsjail backend must stop *inside the container*.
#
# Needs root (rootful podman). scripts/container-base-image.sh installs podman and builds
# the base image locally when no registry is reachable.
#
# Environment:
#   IMAGE              tag to build (default python-exec-service:test)
#   HOST_PORT          loopback port the container's 8080 is published on (default 18080)
#   CONTAINER_FLAGS    privileges for nsjail (default --privileged; see docs/deployment.md);
#                      set it empty to try podman's defaults
#   SKIP_BUILD=1       test an image that is already built (podman as it is set up: no base image step)
#   BUILD_ONLY=1       build the image and stop
#   NETWORK=host       run the container in the host's network (it listens on HOST_PORT=8080 then)
#                      instead of publishing its port: for a machine without podman's netfilter
#   SCRIPT_TIMEOUT_MS  the container's EXECUTION_TIMEOUT_MS (default 10000)
#   READY_TIMEOUT_S    how long the service may take to answer /health (default 120)
#   EXPECT_LIMITS      what must enforce the memory and process limits: cgroup (default) or
#                      rlimit (the fallback where the container may not write cgroups: /health
#                      and the log must say so, and RLIMIT_AS refuses a large reservation)
#   EXPECT_CGROUP      the cgroup version /health must name (v1 or v2); any when unset
#   HEALTH_TIMEOUT_S   run the image's HEALTHCHECK command with `podman exec` and this timeout
#                      instead of its own 5 s (where Node alone takes longer to start)
#   NO_CACHE=1         build without podman's layer cache
#   KEEP_IMAGE=0       remove the test image afterwards (default: keep it, rebuilds are cached)
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

IMAGE=${IMAGE:-python-exec-service:test}
NETWORK=${NETWORK:-}
if [ "$NETWORK" = host ]; then HOST_PORT=8080; else HOST_PORT=${HOST_PORT:-18080}; fi
SCRIPT_TIMEOUT_MS=${SCRIPT_TIMEOUT_MS:-10000}
READY_TIMEOUT_S=${READY_TIMEOUT_S:-120}
EXPECT_LIMITS=${EXPECT_LIMITS:-cgroup}
CONTAINER_FLAGS=${CONTAINER_FLAGS---privileged}   # set but empty: podman's defaults
NAME="python-exec-service-test-$$"
BASE_URL="http://127.0.0.1:$HOST_PORT"
# A value that must never reach a script (a script sees a short allowlist of variables).
SECRET="canary-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"

passed=0
failed=0
WORK=$(mktemp -d)
started=0

log() { echo "test-container: $*" >&2; }
summary() { echo "$passed passed, $failed failed"; }
cleanup() {
  if [ "$started" = 1 ]; then
    timeout 60 podman rm -f -t 5 "$NAME" >/dev/null 2>&1 || true
  fi
  if [ "${KEEP_IMAGE:-1}" = 0 ]; then timeout 60 podman rmi -f "$IMAGE" >/dev/null 2>&1 || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
abort() { # a step before the checks failed: count it, show why, stop
  log "FAIL: $*"
  failed=$((failed + 1))
  summary
  exit 1
}

# ---- base image, podman settings ----------------------------------------------------------
if [ "${SKIP_BUILD:-0}" != 1 ]; then
  bash scripts/container-base-image.sh || abort "scripts/container-base-image.sh"
  CONTAINERS_CONF=$(bash scripts/container-base-image.sh --conf-path)
  export CONTAINERS_CONF
fi
for tool in curl node; do command -v "$tool" >/dev/null || abort "$tool is needed"; done

# ---- build ----------------------------------------------------------------------------------
if [ "${SKIP_BUILD:-0}" != 1 ]; then
  build_args=(--network=host --format docker --layers -t "$IMAGE")
  [ "${NO_CACHE:-0}" = 1 ] && build_args+=(--no-cache)
  # A host whose HTTPS goes through an intercepting proxy trusts an extra CA; npm and pip in
  # the build need it too. It is handed to the build as a bind-mounted HOME (npm's ~/.npmrc,
  # pip's ~/.config/pip/pip.conf), never written into the image or the Dockerfile.
  host_ca=${NODE_EXTRA_CA_CERTS:-${SSL_CERT_FILE:-}}
  if [ -n "$host_ca" ] && [ -r "$host_ca" ]; then
    build_home="$(dirname "$CONTAINERS_CONF")/build-home"
    mkdir -p "$build_home/.config/pip"
    cp "$host_ca" "$build_home/host-ca.crt"
    printf 'cafile=/root/host-ca.crt\n' > "$build_home/.npmrc"
    printf '[global]\ncert = /root/host-ca.crt\n' > "$build_home/.config/pip/pip.conf"
    chmod 700 "$build_home"
    build_args+=(-v "$build_home:/root:rw")
    log "build uses the host's CA bundle ($host_ca) for npm and pip"
  fi
  log "podman build -t $IMAGE ."
  build_start=$(date +%s)
  if ! timeout 1800 podman build "${build_args[@]}" . > "$WORK/build.log" 2>&1; then
    tail -40 "$WORK/build.log" >&2
    abort "podman build"
  fi
  log "built in $(( $(date +%s) - build_start ))s; $(podman image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' "$IMAGE" | head -1)"
fi
if [ "${BUILD_ONLY:-0}" = 1 ]; then exit 0; fi

# ---- run ------------------------------------------------------------------------------------
# shellcheck disable=SC2086  # CONTAINER_FLAGS is a list of flags
if [ "$NETWORK" = host ]; then network=(--network host); else network=(-p "127.0.0.1:$HOST_PORT:8080"); fi
timeout 120 podman run -d --name "$NAME" $CONTAINER_FLAGS "${network[@]}" \
  -e "PES_TEST_SECRET=$SECRET" -e "AWS_SECRET_ACCESS_KEY=$SECRET" \
  -e "EXECUTION_TIMEOUT_MS=$SCRIPT_TIMEOUT_MS" \
  "$IMAGE" > /dev/null 2> "$WORK/run.err" || { cat "$WORK/run.err" >&2; abort "podman run"; }
# Without systemd podman cannot schedule the image's HEALTHCHECK (it says so on stderr);
# the check itself is run by hand below.
started=1

ready=0
for _ in $(seq 1 "$READY_TIMEOUT_S"); do
  if curl -fsS -m 2 "$BASE_URL/health" > /dev/null 2>&1; then ready=1; break; fi
  state=$(podman inspect -f '{{.State.Status}}' "$NAME" 2>/dev/null || echo gone)
  [ "$state" = running ] || break
  sleep 1
done
if [ "$ready" != 1 ]; then
  podman logs "$NAME" 2>&1 | tail -40 >&2
  abort "the service did not answer /health within $READY_TIMEOUT_S s (state: ${state:-?})"
fi
log "container $NAME is up on $BASE_URL"

# ---- helpers --------------------------------------------------------------------------------
STATUS=""
BODY=""
request() { # METHOD PATH [JSON-BODY]: sets STATUS and BODY
  local args=(-sS -m $(( SCRIPT_TIMEOUT_MS / 1000 + 60 )) -o "$WORK/body" -w '%{http_code}' -X "$1")
  if [ $# -ge 3 ]; then
    printf '%s' "$3" > "$WORK/request"
    args+=(-H 'Content-Type: application/json' --data-binary "@$WORK/request")
  fi
  STATUS=$(curl "${args[@]}" "$BASE_URL$2" 2> "$WORK/curl.err") || STATUS="curl-failed($(cat "$WORK/curl.err"))"
  BODY=$(cat "$WORK/body" 2>/dev/null || true)
}
execute() { # PYTHON-SCRIPT [EXTRA-JSON-FIELDS]
  local payload extra=${2:-}
  [ -n "$extra" ] || extra='{}'
  payload=$(SCRIPT="$1" EXTRA="$extra" node -e \
    'process.stdout.write(JSON.stringify({ script: process.env.SCRIPT, ...JSON.parse(process.env.EXTRA) }))')
  request POST /execute "$payload"
}
check() { # NAME EXPECTED-STATUS JS-PREDICATE (over b = the parsed body)
  local name=$1 want=$2 predicate=$3
  if [ "$STATUS" = "$want" ] &&
     BODY="$BODY" SECRET="$SECRET" node -e "
       const b = JSON.parse(process.env.BODY);
       process.exit((${predicate}) ? 0 : 1);" 2>/dev/null; then
    passed=$((passed + 1))
    echo "ok   - $name"
  else
    failed=$((failed + 1))
    echo "FAIL - $name"
    echo "       want HTTP $want and: $predicate"
    echo "       got  HTTP $STATUS: $(printf '%s' "$BODY" | head -c 800)"
  fi
}

# ---- the contract ------------------------------------------------------------------------------
request GET /health
check "health: ok, backend nsjail" 200 'b.status === "ok" && b.backend === "nsjail"'
if [ "$EXPECT_LIMITS" = rlimit ]; then
  check "health: no usable cgroups, memory and processes limited by rlimits" 200 \
    'b.cgroup === "none" && b.limits.memory.startsWith("rlimit") && b.limits.processes.startsWith("rlimit")'
else
  check "health: memory and processes limited by a cgroup${EXPECT_CGROUP:+ $EXPECT_CGROUP}" 200 \
    "b.cgroup !== 'none' && (!'${EXPECT_CGROUP:-}' || b.cgroup === '${EXPECT_CGROUP:-}') && b.limits.memory.startsWith('cgroup') && b.limits.processes.startsWith('cgroup')"
fi

execute $'def main():\n    return {"sum": 1 + 2}'
check "success: main() result" 200 \
  'JSON.stringify(b.result) === JSON.stringify({ sum: 3 }) && b.stdout === ""'

execute $'import numpy as np\nimport pandas as pd\n\ndef main():\n    print("Calculating...")\n    s = pd.Series([1, 3, 5, np.nan, 6, 8])\n    print(f"Series length: {len(s)}")\n    # Convert numpy types for JSON\n    return {"total": float(s.sum()), "count": int(s.count()) }'
check "pandas + numpy example" 200 \
  'b.result.total === 23 && b.result.count === 5 && b.stdout === "Calculating...\nSeries length: 6\n"'

execute $'print("This script has no main")\nx = 1 + 1'
check "missing main: 400 MAIN_NOT_FOUND with stdout" 400 \
  'b.code === "MAIN_NOT_FOUND" && b.stdout === "This script has no main\n"'

execute $'def main()\n    return 1'
check "syntax error: 400 SYNTAX_ERROR" 400 'b.code === "SYNTAX_ERROR"'

execute $'import time\n\ndef main():\n    time.sleep(30)\n    return 1' '{"timeoutMs": 1000}'
check "timeout: 408 TIMEOUT" 408 'b.code === "TIMEOUT"'

execute $'def main():\n    b = bytearray(400 * 1024 * 1024)\n    b[::4096] = b"x" * len(b[::4096])\n    return len(b)' '{"memoryMb": 64}'
check "memory: 400 MEMORY_LIMIT_EXCEEDED (limited by $EXPECT_LIMITS inside the container)" 400 \
  'b.code === "MEMORY_LIMIT_EXCEEDED"'

# Which limit it is: reserving (not touching) 1 GiB of address space is fine under a 128 MB
# cgroup limit and fails under the 128 MB RLIMIT_AS nsjail falls back to when the container
# cannot write cgroups.
execute $'import mmap\n\ndef main():\n    try:\n        m = mmap.mmap(-1, 1 << 30)\n        m.close()\n        return {"reserved": True}\n    except (OSError, MemoryError) as e:\n        return {"reserved": False, "error": str(e)}' '{"memoryMb": 128}'
if [ "$EXPECT_LIMITS" = rlimit ]; then
  check "memory: enforced by RLIMIT_AS (1 GiB untouched mmap refused)" 200 'b.result.reserved === false'
else
  check "memory: enforced by a cgroup, not RLIMIT_AS (1 GiB untouched mmap allowed)" 200 'b.result.reserved === true'
fi

# ---- the playground and the MCP endpoint ------------------------------------------------------
# The playground bundle was built into the image (no CDN): the page and its script are served.
request GET /
if [ "$STATUS" = 200 ] && grep -q 'id="editor"' "$WORK/body" && grep -q '/playground/playground.js' "$WORK/body"; then
  passed=$((passed + 1)); echo "ok   - playground: GET / is the page"
else
  failed=$((failed + 1)); echo "FAIL - playground: GET / is the page (HTTP $STATUS: $(head -c 300 "$WORK/body"))"
fi
request GET /playground/playground.js
if [ "$STATUS" = 200 ] && [ "$(wc -c < "$WORK/body")" -gt 100000 ] && grep -q 'cm-editor' "$WORK/body"; then
  passed=$((passed + 1)); echo "ok   - playground: the CodeMirror bundle is served"
else
  failed=$((failed + 1)); echo "FAIL - playground: the CodeMirror bundle is served (HTTP $STATUS, $(wc -c < "$WORK/body") bytes)"
fi

request POST /mcp '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"run_python","arguments":{"script":"def main():\n    return {\"sum\": 1 + 2}"}}}'
check "mcp: run_python in the jail" 200 \
  'b.id === 1 && !b.result.isError && JSON.parse(b.result.content[0].text).result.sum === 3'

# ---- hostile scripts -------------------------------------------------------------------------
# Outside network: a UDP connect() only looks up a route and sends no packet, so this
# proves the jail has no route out without sending traffic anywhere.
execute $'import socket\n\ndef main():\n    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n    try:\n        s.connect(("1.1.1.1", 53))\n        return {"connected": True}\n    except OSError as e:\n        return {"connected": False, "error": str(e)}'
check "network: no route to 1.1.1.1:53" 200 'b.result.connected === false'

# The service itself, on the container's loopback: the jail has its own empty network
# namespace (not even lo), so this must fail too.
execute $'import socket\n\ndef main():\n    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)\n    s.settimeout(3)\n    try:\n        s.connect(("127.0.0.1", 8080))\n        return {"connected": True}\n    except OSError as e:\n        return {"connected": False, "error": str(e)}'
check "network: cannot reach the service on 127.0.0.1:8080" 200 'b.result.connected === false'

execute $'def main():\n    try:\n        with open("/etc/shadow") as f:\n            return {"read": True, "head": f.read(40)}\n    except OSError as e:\n        return {"read": False, "error": str(e)}'
check "filesystem: /etc/shadow is not readable" 200 'b.result.read === false'

execute $'def main():\n    try:\n        with open("/etc/x", "w") as f:\n            f.write("pwned")\n        return {"written": True}\n    except OSError as e:\n        return {"written": False, "error": str(e)}'
check "filesystem: /etc/x is not writable" 200 'b.result.written === false'

execute $'import os\n\ndef main():\n    seen = {}\n    for p in ["/app/dist", "/app/dist/src/main.js", "/app/package.json", "/app/nsjail.cfg"]:\n        try:\n            if os.path.isdir(p):\n                seen[p] = os.listdir(p)\n            else:\n                with open(p) as f:\n                    seen[p] = f.read(40)\n        except OSError as e:\n            pass\n    return {"seen": seen}'
check "filesystem: the app's files (/app/dist, ...) are not visible" 200 \
  'Object.keys(b.result.seen).length === 0'

execute $'import os\n\ndef main():\n    return {"env": dict(os.environ)}'
check "environment: the server's variables do not reach the script" 200 \
  '!JSON.stringify(b).includes(process.env.SECRET) && !("PES_TEST_SECRET" in b.result.env) && !("AWS_SECRET_ACCESS_KEY" in b.result.env)'

# The server's log says the limits fall back to rlimits (checked last: the log is written
# asynchronously, so the start-up lines are sure to be out once requests were logged after them).
if [ "$EXPECT_LIMITS" = rlimit ]; then
  # Read whole first: with pipefail, grep -q leaving at its first match would fail the pipe
  # (SIGPIPE) whenever podman is still writing the rest.
  server_log=$(podman logs "$NAME" 2>&1)
  if grep -q 'no usable cgroups' <<<"$server_log"; then
    passed=$((passed + 1)); echo "ok   - log: says the limits fall back to rlimits"
  else
    failed=$((failed + 1)); echo "FAIL - log: says the limits fall back to rlimits"
  fi
fi

# The image's HEALTHCHECK command itself (node + fetch; the slim image has no curl).
health_cmd=()
if [ -n "${HEALTH_TIMEOUT_S:-}" ]; then
  mapfile -d '' health_cmd < <(podman image inspect -f '{{json .Config.Healthcheck.Test}}' "$IMAGE" |
    node -e 'let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
      const [kind, ...argv] = JSON.parse(s); if (kind !== "CMD") process.exit(1); process.stdout.write(argv.join("\0")); });')
  healthcheck() { [ "${#health_cmd[@]}" -gt 0 ] && timeout "$HEALTH_TIMEOUT_S" podman exec "$NAME" "${health_cmd[@]}"; }
else
  healthcheck() { timeout 30 podman healthcheck run "$NAME"; }
fi
if healthcheck > "$WORK/hc" 2>&1; then
  passed=$((passed + 1)); echo "ok   - image HEALTHCHECK passes"
else
  failed=$((failed + 1)); echo "FAIL - image HEALTHCHECK passes: $(head -c 300 "$WORK/hc")"
fi

if [ "$failed" -gt 0 ]; then
  echo "--- container log (last 30 lines) ---"
  podman logs "$NAME" 2>&1 | tail -30
fi
summary
[ "$failed" = 0 ]
