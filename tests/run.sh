#!/usr/bin/env bash
# Signpost's one test command (CI runs it through .ci/run).
#
#   tests/run.sh                      # fmt + clippy + every test, real backends, then tests/e2e
#   tests/run.sh -p signpost-store    # extra arguments go to `cargo test` (tests/e2e is skipped)
#   SIGNPOST_TEST_SKIP_LINT=1 tests/run.sh ...       # skip fmt and clippy
#   SIGNPOST_TEST_PRIVATE_SERVICES=1 tests/run.sh    # never reuse a running PostgreSQL/Redis
#
# Backends:
#   PostgreSQL  reuses a server on 127.0.0.1:5432 (user postgres, no password) when one answers;
#               otherwise installs the `postgresql` package if needed (root only) and runs a
#               private, throwaway cluster on a free port.
#   Redis       reuses 127.0.0.1:6379 when it answers PING, otherwise a private redis-server on a
#               free port. `redis-server` must be on PATH either way (some tests start their own
#               to simulate outages), so the package is installed when the binary is missing.
#   S3          always a private s3s-fs (installed with `cargo install` when missing) on a free
#               port, with a random access key and secret.
# Everything this script starts is stopped, and its temp directory removed, on exit (success,
# failure, Ctrl-C or TERM). Shared servers that were only reused are never touched, and the script
# itself creates and drops no databases: the tests make their own.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

S3S_FS_VERSION=0.14.1
SHARED_PG_PORT=5432
SHARED_REDIS_PORT=6379

# Each step says when it started (minutes:seconds into the run), so a slow CI run shows where its
# time went.
log() { printf '==> [%d:%02d] %s\n' $((SECONDS / 60)) $((SECONDS % 60)) "$*"; }
die() {
    printf 'tests/run.sh: error: %s\n' "$*" >&2
    exit 1
}

# ---------------------------------------------------------------------------------------------
# Cleanup. Only what this run started is recorded here, so only that is stopped.
WORK=""           # temp directory holding every private instance's data, sockets and logs
PG_BIN=""         # directory of initdb/pg_ctl for the private cluster
PG_DATA=""        # set once a private cluster may be running
REDIS_PIDFILE=""  # set once a private redis-server may be running
S3_PID=""         # pid of our s3s-fs
CHILD=""          # process group of the cargo/e2e command running now (see `run`)
POLICY_RC_CREATED=0

# Run a PostgreSQL server program as the `postgres` OS user when we are root (the server refuses
# to run as root), from a directory that user can enter.
as_pg() {
    if [[ $EUID -eq 0 ]]; then
        (cd "$WORK" && runuser -u postgres -- "$@")
    else
        (cd "$WORK" && "$@")
    fi
}

cleanup() {
    local rc=$?
    set +e
    trap - EXIT INT TERM
    if [[ -n $CHILD ]]; then
        kill -TERM -- "-$CHILD" 2>/dev/null
        wait "$CHILD" 2>/dev/null
    fi
    if [[ -n $S3_PID ]]; then
        kill "$S3_PID" 2>/dev/null
        wait "$S3_PID" 2>/dev/null
    fi
    if [[ -n $REDIS_PIDFILE && -s $REDIS_PIDFILE ]]; then
        local pid i
        pid="$(<"$REDIS_PIDFILE")"
        kill "$pid" 2>/dev/null
        for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null
    fi
    if [[ -n $PG_DATA && -f $PG_DATA/postmaster.pid ]]; then
        as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m immediate -w -t 30 stop >/dev/null 2>&1
    fi
    if ((POLICY_RC_CREATED)); then rm -f /usr/sbin/policy-rc.d; fi
    if [[ -n $WORK ]]; then rm -rf "$WORK"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Run a long command (cargo, e2e scripts) in a session and process group of its own, and wait for
# it. Bash defers traps while a foreground command runs, but `wait` returns at once on a signal,
# so INT/TERM stop the run right away and cleanup ends that whole group (cargo, rustc, the test
# binary). `setsid` rather than `set -m`: without a controlling terminal the command can never be
# stopped by SIGTTOU/SIGTTIN. (A background child is never a group leader, so setsid does not
# fork and $! is the new group's id.)
run() {
    setsid "$@" &
    CHILD=$!
    local rc=0
    wait "$CHILD" || rc=$?
    CHILD=""
    return "$rc"
}

# ---------------------------------------------------------------------------------------------
# Helpers.

# True when something accepts TCP connections on 127.0.0.1:$1.
port_open() { timeout 2 bash -c ": >/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

# A port nothing listens on yet (the caller retries if it is taken before it binds).
free_port() {
    local port
    while :; do
        port=$((20000 + RANDOM % 30000))
        port_open "$port" || break
    done
    echo "$port"
}

rand_hex() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }

APT_UPDATED=0
apt_install() {
    [[ $EUID -eq 0 ]] || die "package(s) $* missing; install them (apt-get install $*) or run as root"
    command -v apt-get >/dev/null || die "package(s) $* missing and apt-get is not available"
    local apt_log="$WORK/apt.log"
    if ((!APT_UPDATED)); then
        log "apt-get update"
        apt-get update >>"$apt_log" 2>&1 || {
            show_log "$apt_log"
            die "apt-get update failed"
        }
        APT_UPDATED=1
    fi
    # Keep the packages' maintainer scripts from starting system-wide services (they could clash
    # with a server already on the default port, and this script runs its own instances).
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        POLICY_RC_CREATED=1
    fi
    log "apt-get install $*"
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" >>"$apt_log" 2>&1 || {
        show_log "$apt_log"
        die "apt-get install $* failed"
    }
    if ((POLICY_RC_CREATED)); then
        rm -f /usr/sbin/policy-rc.d
        POLICY_RC_CREATED=0
    fi
}

show_log() {
    [[ -f $1 ]] || return 0
    echo "---- last lines of $1 ----" >&2
    tail -n 30 "$1" >&2
}

# ---------------------------------------------------------------------------------------------
# Toolchain: fail early and clearly.
CARGO_BIN="${CARGO_HOME:-${HOME:-/root}/.cargo}/bin"
if [[ -d $CARGO_BIN ]]; then PATH="$CARGO_BIN:$PATH"; fi
command -v cargo >/dev/null ||
    die "cargo not found (looked on PATH and in $CARGO_BIN); install the Rust toolchain with rustup"
if [[ ${SIGNPOST_TEST_SKIP_LINT:-0} != 1 ]]; then
    cargo fmt --version >/dev/null 2>&1 || die "rustfmt missing: rustup component add rustfmt"
    cargo clippy --version >/dev/null 2>&1 || die "clippy missing: rustup component add clippy"
fi

FORCE_PRIVATE="${SIGNPOST_TEST_PRIVATE_SERVICES:-0}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/signpost-test.XXXXXX")"
chmod 711 "$WORK" # the postgres OS user must be able to reach $WORK/pg

# ---------------------------------------------------------------------------------------------
# PostgreSQL.
pg_answers() {
    if command -v pg_isready >/dev/null && pg_isready -q -h 127.0.0.1 -p "$1" -t 3 2>/dev/null; then
        return 0
    fi
    command -v pg_isready >/dev/null && return 1
    port_open "$1"
}

# The shared server is only worth reusing if the URL the tests get actually logs in.
pg_login_ok() {
    command -v psql >/dev/null || return 0 # cannot check; trust the port
    psql -X -q -w -At -d "$1" -c 'select 1' >/dev/null 2>&1
}

find_pg_bin() {
    local initdb
    initdb="$(printf '%s\n' /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n 1)"
    if [[ -x $initdb ]]; then
        dirname "$initdb"
    elif command -v initdb >/dev/null; then
        dirname "$(command -v initdb)"
    fi
}

start_private_pg() {
    PG_BIN="$(find_pg_bin)"
    if [[ -z $PG_BIN ]]; then
        apt_install postgresql
        PG_BIN="$(find_pg_bin)"
        [[ -n $PG_BIN ]] || die "initdb not found after installing postgresql"
    fi
    local dir="$WORK/pg"
    mkdir -p "$dir"
    if [[ $EUID -eq 0 ]]; then
        getent passwd postgres >/dev/null || die "running as root but there is no 'postgres' user to run PostgreSQL"
        chown postgres: "$dir"
    fi
    as_pg "$PG_BIN/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --no-locale --no-sync \
        >"$WORK/pg-initdb.log" 2>&1 || {
        show_log "$WORK/pg-initdb.log"
        die "initdb failed"
    }
    PG_DATA="$dir/data"
    local attempt port
    for attempt in 1 2 3 4 5; do
        port="$(free_port)"
        # Durability is pointless for a throwaway cluster; fsync=off etc. make the tests faster.
        if as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$dir/server.log" -w -t 60 \
            -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
            start >/dev/null; then
            PG_PORT="$port"
            return 0
        fi
        log "private PostgreSQL did not start on port $port (attempt $attempt)"
        as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m immediate -w stop >/dev/null 2>&1 || true
    done
    show_log "$dir/server.log"
    die "could not start a private PostgreSQL"
}

PG_MODE=""
if [[ $FORCE_PRIVATE != 1 ]] && pg_answers "$SHARED_PG_PORT"; then
    if pg_login_ok "postgres://postgres@127.0.0.1:$SHARED_PG_PORT/postgres"; then
        PG_MODE=reused
        PG_PORT=$SHARED_PG_PORT
    else
        log "PostgreSQL on port $SHARED_PG_PORT does not let user postgres in without a password; starting a private one"
    fi
fi
if [[ -z $PG_MODE ]]; then
    start_private_pg
    PG_MODE=private
fi
export SIGNPOST_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres"

# ---------------------------------------------------------------------------------------------
# Redis.
redis_answers() {
    if command -v redis-cli >/dev/null; then
        [[ "$(timeout 5 redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null)" == PONG ]]
    else
        # Plain PING over bash's /dev/tcp: a Redis that needs AUTH answers -NOAUTH, not +PONG.
        # shellcheck disable=SC2016 # $1 and $reply belong to the inner bash
        timeout 5 bash -c 'exec 3<>/dev/tcp/127.0.0.1/$1 && printf "PING\r\n" >&3 && read -r reply <&3 && [[ $reply == +PONG* ]]' _ "$1" 2>/dev/null
    fi
}

if ! command -v redis-server >/dev/null; then
    apt_install redis-server
    command -v redis-server >/dev/null || die "redis-server not found after installing redis-server"
fi

start_private_redis() {
    local dir="$WORK/redis" attempt port i pid
    mkdir -p "$dir"
    for attempt in 1 2 3 4 5; do
        port="$(free_port)"
        REDIS_PIDFILE="$dir/redis.pid"
        rm -f "$REDIS_PIDFILE"
        redis-server --bind 127.0.0.1 --port "$port" --save "" --appendonly no \
            --daemonize yes --pidfile "$REDIS_PIDFILE" --logfile "$dir/redis.log" --dir "$dir" ||
            true
        for ((i = 0; i < 100; i++)); do
            if redis_answers "$port"; then
                REDIS_PORT="$port"
                return 0
            fi
            sleep 0.1
        done
        log "private redis-server did not start on port $port (attempt $attempt)"
        if [[ -s $REDIS_PIDFILE ]]; then
            pid="$(<"$REDIS_PIDFILE")"
            kill "$pid" 2>/dev/null || true
        fi
    done
    show_log "$dir/redis.log"
    die "could not start a private redis-server"
}

REDIS_MODE=""
if [[ $FORCE_PRIVATE != 1 ]] && redis_answers "$SHARED_REDIS_PORT"; then
    REDIS_MODE=reused
    REDIS_PORT=$SHARED_REDIS_PORT
else
    start_private_redis
    REDIS_MODE=private
fi
export SIGNPOST_TEST_REDIS_URL="redis://127.0.0.1:$REDIS_PORT"

# ---------------------------------------------------------------------------------------------
# S3: s3s-fs, always private.
S3S_FS="$(command -v s3s-fs || true)"
if [[ -z $S3S_FS ]]; then
    log "s3s-fs not found: cargo install --locked s3s-fs@$S3S_FS_VERSION --features binary (a few minutes)"
    run cargo install --locked "s3s-fs@$S3S_FS_VERSION" --features binary
    S3S_FS="$(command -v s3s-fs || true)"
    [[ -n $S3S_FS ]] || S3S_FS="$CARGO_BIN/s3s-fs"
    [[ -x $S3S_FS ]] || die "s3s-fs not found after cargo install"
fi

S3_ACCESS_KEY="signpost$(rand_hex 8)"
S3_SECRET_KEY="$(rand_hex 24)"
start_s3() {
    local dir="$WORK/s3" attempt port i
    mkdir -p "$dir/data"
    for attempt in 1 2 3 4 5; do
        port="$(free_port)"
        "$S3S_FS" --host 127.0.0.1 --port "$port" --access-key "$S3_ACCESS_KEY" \
            --secret-key "$S3_SECRET_KEY" "$dir/data" >"$dir/s3s-fs.log" 2>&1 &
        S3_PID=$!
        for ((i = 0; i < 100; i++)); do
            kill -0 "$S3_PID" 2>/dev/null || break # exited, e.g. port taken meanwhile
            if port_open "$port"; then
                S3_PORT="$port"
                return 0
            fi
            sleep 0.1
        done
        log "s3s-fs did not start on port $port (attempt $attempt)"
        kill "$S3_PID" 2>/dev/null || true
        wait "$S3_PID" 2>/dev/null || true
        S3_PID=""
    done
    show_log "$dir/s3s-fs.log"
    die "could not start s3s-fs"
}
start_s3

# ---------------------------------------------------------------------------------------------
# Tools the build and the end-to-end scripts need: protoc (the Terraform provider's gRPC code is
# generated at build time), Python 3 with venv (tests/e2e; Terraform comes from PyPI into a venv)
# and psql (the e2e scripts make their own databases).
# protoc also needs Google's well-known types (google/protobuf/empty.proto), which Debian
# packs in libprotobuf-dev: only recommended, so not installed with --no-install-recommends.
if ! command -v protoc >/dev/null || [[ ! -f /usr/include/google/protobuf/empty.proto ]]; then
    apt_install protobuf-compiler libprotobuf-dev
fi
if ! command -v python3 >/dev/null || ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
    apt_install python3 python3-venv
fi
if ! command -v psql >/dev/null; then
    apt_install postgresql-client
fi

export SIGNPOST_TEST_REQUIRE_BACKENDS=1
export SIGNPOST_TEST_S3_ENDPOINT="http://127.0.0.1:$S3_PORT"
export SIGNPOST_TEST_S3_ACCESS_KEY="$S3_ACCESS_KEY"
export SIGNPOST_TEST_S3_SECRET_KEY="$S3_SECRET_KEY"
export SIGNPOST_TEST_S3_REGION=us-east-1

# ---------------------------------------------------------------------------------------------
# Header (never the S3 secret).
describe() { if [[ $1 == reused ]]; then echo "reused shared server"; else echo "started private instance"; fi; }
echo "---------------------------------------------------------------------------"
echo "Signpost tests  (temp dir $WORK)"
echo "  PostgreSQL  127.0.0.1:$PG_PORT  $(describe "$PG_MODE")${PG_BIN:+ ($("$PG_BIN/postgres" --version))}"
echo "  Redis       127.0.0.1:$REDIS_PORT  $(describe "$REDIS_MODE"); redis-server binary: $(command -v redis-server)"
echo "  S3          $SIGNPOST_TEST_S3_ENDPOINT  started private $("$S3S_FS" --version) (random keys)"
echo "  Toolchain   $(cargo --version)"
echo "  Lint        $([[ ${SIGNPOST_TEST_SKIP_LINT:-0} == 1 ]] && echo "skipped (SIGNPOST_TEST_SKIP_LINT=1)" || echo "cargo fmt --check, cargo clippy -D warnings")"
echo "  cargo test  ${*:-(whole workspace)}"
echo "---------------------------------------------------------------------------"

# ---------------------------------------------------------------------------------------------
# Checks and tests.
if [[ ${SIGNPOST_TEST_SKIP_LINT:-0} != 1 ]]; then
    log "cargo fmt --all -- --check"
    run cargo fmt --all -- --check
    log "cargo clippy --workspace --all-targets --locked -- -D warnings"
    run cargo clippy --workspace --all-targets --locked -- -D warnings
fi

# `--workspace` would override a `-p` given on the command line, so it is only added when the
# arguments do not pick packages themselves. No `--all-targets`: it would drop the doc tests.
test_scope=(--workspace)
for arg in "$@"; do
    case $arg in
    --) break ;;
    -p | -p?* | --package | --package=* | --workspace | --all) test_scope=() ;;
    esac
done
log "cargo test ${test_scope[*]:+${test_scope[*]} }--locked${*:+ $*}"
run cargo test "${test_scope[@]}" --locked "$@"

# End-to-end scripts: every executable tests/e2e/*.sh or *.py, against the built binary. They are
# part of a full run only; arguments to this script narrow the run to some cargo tests.
e2e=()
if [[ -d tests/e2e ]]; then
    for f in tests/e2e/*; do
        case $f in
        *.sh | *.py) if [[ -f $f && -x $f ]]; then e2e+=("$f"); fi ;;
        esac
    done
fi
if ((${#e2e[@]})); then
    if (($#)); then
        log "tests/e2e skipped (cargo test arguments given)"
    else
        # Every binary at once (signpost, terraform-provider-signpost): one feature resolution,
        # so the scripts that build again find nothing to do. `--tests` makes it the resolution
        # `cargo test` just built with: dev-dependencies turn on features of shared crates
        # (tokio's test-util, poem's test), and without them tokio and everything above it
        # would be compiled a second time (4.5 minutes of a cold run). Those features only add
        # test helpers; the binary serves the same.
        log "cargo build --locked --workspace --bins --tests"
        run cargo build --locked --workspace --bins --tests
        target_dir="${CARGO_TARGET_DIR:-target}"
        [[ $target_dir == /* ]] || target_dir="$ROOT/$target_dir"
        export SIGNPOST_TEST_BIN="$target_dir/debug/signpost"
        failed=()
        for f in "${e2e[@]}"; do
            log "e2e: $f"
            run "$f" || failed+=("$f")
        done
        ((${#failed[@]} == 0)) || die "e2e failed: ${failed[*]}"
    fi
fi

log "all checks passed in ${SECONDS}s"
