#!/usr/bin/env bash
# Instructions per phone request (or per phone boot), counted by valgrind's callgrind:
# repeatable whatever else the machine is doing (unlike seconds), so a change to the hot
# path can be compared before/after on a shared, noisy machine.
#
#   tests/bench/phone_path_callgrind.sh [SIGNPOST_BINARY] [OUT_DIR] [redirect|storm]
#
# Defaults: target/release/signpost, target/bench/callgrind, redirect. Needs valgrind and a
# built target/release/signpost-loadgen. Not a test: it prints figures.
#
# What it does: seeds 10,000 devices on embedded defaults (a hosted profile, so each answer
# carries a per-device token), restarts the server under callgrind, warms it up, zeroes the
# counters, measures, and divides.
# - redirect: warms the caches with 20 s of `redirect` over 1,000 devices (5% unknown MACs,
#   both path forms; the first blob sweep comes 10 minutes after the start), then measures
#   10 s more of the same keep-alive requests.
# - storm: seeds a per-phone file for every device too, boots 1,000 phones to warm what
#   every boot shares (the general file, the firmware, the pools), then measures a storm of
#   3,000 other phones: each boot is four requests on new connections, and finds its own
#   device and file cold, as after a power cut.
# Under valgrind the CPU has no SHA extensions, so the token's HMAC-SHA256 counts in its
# portable form: dearer than on real hardware.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BIN="$(realpath "${1:-$ROOT/target/release/signpost}")"
OUT="${2:-$ROOT/target/bench/callgrind}"
SCENARIO="${3:-redirect}"
[[ $SCENARIO == redirect || $SCENARIO == storm ]] || { echo "scenario: redirect or storm, not $SCENARIO" >&2; exit 2; }
LOADGEN="$ROOT/target/release/signpost-loadgen"
command -v valgrind >/dev/null || { echo "valgrind is not installed (apt-get install -y valgrind)" >&2; exit 1; }
[[ -x $LOADGEN ]] || { echo "build the generator first: cargo build --release -p signpost-loadgen" >&2; exit 1; }

mkdir -p "$OUT"
WORK="$(mktemp -d)"
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
SERVER=""
cleanup() {
    if [[ -n $SERVER ]]; then kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

export SIGNPOST_DATA_DIR="$WORK/data" SIGNPOST_LISTEN="127.0.0.1:$PORT"
# Limits still on (their cost is part of the path) but never reached by the generator.
export SIGNPOST_PHONE_RATE_BURST=1000000 SIGNPOST_PHONE_RATE_PER_SECOND=1000000
export SIGNPOST_PHONE_MISS_BURST=1000000 SIGNPOST_PHONE_MISS_PER_MINUTE=1000000
TARGET="http://127.0.0.1:$PORT"

wait_ready() {
    for _ in $(seq 1 240); do
        curl -sf "$TARGET/readyz" >/dev/null && return 0
        sleep 0.5
    done
    echo "the server did not become ready" >&2
    exit 1
}

"$BIN" serve >"$WORK/seed.log" 2>&1 &
SERVER=$!
wait_ready
KEY="$("$BIN" keys create --role platform-admin --json)"
LOADGEN_KEY_ID="$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["id"])' "$KEY")"
LOADGEN_KEY_SECRET="$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["secret"])' "$KEY")"
export LOADGEN_KEY_ID LOADGEN_KEY_SECRET
SEED_FILES=0
[[ $SCENARIO == storm ]] && SEED_FILES=10000
"$LOADGEN" seed --target "$TARGET" --devices 10000 --mac-files "$SEED_FILES"
kill "$SERVER"; wait "$SERVER" 2>/dev/null || true

NAME="$(basename "$BIN")-$SCENARIO"
valgrind --tool=callgrind --callgrind-out-file="$OUT/$NAME.%p.out" "$BIN" serve >"$WORK/callgrind.log" 2>&1 &
SERVER=$!
wait_ready
if [[ $SCENARIO == redirect ]]; then
    "$LOADGEN" redirect --target "$TARGET" --devices 1000 --connections 8 --duration 20 --warmup 0 >/dev/null
    callgrind_control -z "$SERVER" >/dev/null
    "$LOADGEN" redirect --target "$TARGET" --devices 1000 --connections 8 --duration 10 --warmup 0 \
        --json "$OUT/$NAME.json" --fail-on-error | grep -E "operations|throughput"
else
    "$LOADGEN" boot-storm --target "$TARGET" --devices 1000 --concurrency 32 >/dev/null
    callgrind_control -z "$SERVER" >/dev/null
    # The next 3,000 MACs of the seeded range (it starts at 000413100000).
    "$LOADGEN" boot-storm --target "$TARGET" --first-mac 0004131003E8 --devices 3000 --concurrency 32 \
        --json "$OUT/$NAME.json" --fail-on-error | grep -E "operations|throughput"
fi
callgrind_control -d "$SERVER" >/dev/null
sleep 1
kill "$SERVER"; wait "$SERVER" 2>/dev/null || true
SERVER=""

PROFILE="$(ls -t "$OUT/$NAME".*.out.1 | head -1)"
TOTAL="$(callgrind_annotate --threshold=100 "$PROFILE" | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')"
REQUESTS="$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["ok"] + d["errors"])' "$OUT/$NAME.json")"
UNIT=request
[[ $SCENARIO == storm ]] && UNIT=boot
echo "$NAME: $TOTAL instructions / $REQUESTS ${UNIT}s = $((TOTAL / REQUESTS)) per $UNIT"
echo "profile: $PROFILE (callgrind_annotate --inclusive=yes $PROFILE | less)"
