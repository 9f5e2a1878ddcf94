#!/usr/bin/env python3
"""Benchmark: Signpost next to nginx serving the same answers as static files.

Not a test (tests/run.sh does not run it) and it passes no judgement on speed: it prints
figures. It exits 1 only when something is broken: a program that does not start or exits
with an error, a wrong answer, a failed request, a database it cannot create.

nginx is the yardstick: the fastest thing that could answer a phone is a web server handing
out pre-written files. `signpost-loadgen seed --nginx-root` writes those files (the very
documents Signpost would render, pointing at nginx), so both servers answer the same
requests with the same bytes, and the same generator measures both.

Per backend (`--backend embedded|postgres|both`; embedded = SQLite and the in-process
cache, postgres = PostgreSQL and Redis, in a fresh database and Redis key prefix that are
dropped afterwards):

1. starts `signpost serve` (target/release/signpost) with the phone rate limits still on
   (their cost is part of the figure) but raised to 1,000,000 so that the generator's few
   busy source addresses are never refused, and makes a platform-admin key;
2. `signpost-loadgen seed` registers --devices devices, uploads their hosted files and
   writes nginx's copy; then starts a private nginx on that tree and checks that both
   servers send a registered MAC somewhere and an unknown MAC nowhere;
3. `redirect`, closed loop (as fast as answers come) against nginx, then Signpost; then
   open loop at 80% (--open-loop-share) of Signpost's closed-loop throughput against both,
   for p99 at 80% of peak (a run that cannot keep to that schedule is marked †: it then
   measures a growing backlog);
4. `boot-storm`: --phones phones each do a whole boot (redirect, the two settings files,
   the firmware file) on new connections, against both; no errors are expected;
5. `register` (Signpost only): --register-devices devices through the batch API into a
   second tenant (batches of 5000, 4 in flight), in a MAC range apart from the seeded one;
6. with --memory-devices: a fresh Signpost (and a fresh database) with that many devices,
   a closed-loop redirect run for --duration, and its VmRSS/VmHWM sampled every 250 ms.

Every run's JSON report is kept under --out (default target/bench/<UTC time>), with SVG
plots of each nginx/Signpost pair (`signpost-loadgen plot`), `summary.json` and
`summary.md` (a Markdown table for BENCHMARKS.md, with the machine and the command line).

What to keep in mind when reading the figures:

- everything shares one machine: nginx (`worker_processes auto`), Signpost (a lane per
  core) and the generator (--loadgen-threads) compete for the same CPUs, so closed-loop
  throughput says as much about CPU share as about the servers. The table shows each
  side's CPU use (average, in % of one core, over warm-up and measurement).
- the generator runs at niceness -10 (--loadgen-nice), ahead of both servers. It times a
  request that went out late from when it was due, so as not to hide a slow server; but at
  the same priority as the server it was itself often late for want of a CPU, and that
  delay counted in the servers' latency, in bursts of 10-50 ms in one second out of three.
- both log one line per request, buffered: nginx its access log (the default `combined`
  format, `buffer=64k flush=1s`), Signpost its `request` line at the default `info` level
  (Signpost writes its log from memory every 100 ms or 64 KiB).
- `seed` uploads a per-phone settings file for each phone that boots (by default every
  registered device); the seeding time in the summary includes those uploads.
- nginx runs with its own defaults (no open_file_cache), `sendfile on` as Debian ships it,
  and keep-alive raised (`keepalive_requests 1000000`) so connections are not recycled.
- PostgreSQL on loopback is reached without TLS (`sslmode=disable`; --postgres-tls keeps
  it): nothing leaves the machine, and encrypting it cost a few percent of the boot storm.
- nginx only matches the compact upper-case MACs the generator sends; it cannot read the
  MAC from the User-Agent (`/{type}.htm` always gets the empty document there), and it
  knows nothing of tenants, profiles, templates or the rate limits Signpost applies.

nginx is installed with apt-get when missing (root only; the package is kept from starting
its system service). PostgreSQL and Redis come from --postgres-url / --redis-url (defaults:
SIGNPOST_TEST_POSTGRES_URL / SIGNPOST_TEST_REDIS_URL, else the usual local ports).

    tests/bench/side_by_side.py                          # both backends, 100,000 devices
    tests/bench/side_by_side.py --backend postgres --memory-devices 1000000
    tests/bench/side_by_side.py --devices 2000 --phones 2000 --duration 3 --warmup 1 \\
        --register-devices 20000                         # a quick smoke run
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import http.client
import ipaddress
import json
import math
import os
import platform
import resource
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

sys.dont_write_bytecode = True  # leave no __pycache__ in the source tree
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TARGET = os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target")
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))

from signpost_e2e import (  # noqa: E402 - needs the path
    Redis, Server, _psql, drop_database_and_keys, free_port, unique,
)

PHONE_TYPE = "snomD785"  # the generator's default model
FIRST_MAC = 0x000413100000  # the seeded fleet: FIRST_MAC .. FIRST_MAC + devices - 1
REGISTER_FIRST_MAC = 0x000420000000  # `register` goes here, far from the seeded range
TENANT = "bench"
REGISTER_TENANT = "bench-register"
# Rate limits stay on (their bookkeeping is part of the cost) but never refuse the
# generator, whose connections each send far more than a phone would.
RAISED_LIMITS = {
    "SIGNPOST_PHONE_RATE_LIMIT": "true",
    "SIGNPOST_PHONE_RATE_PER_SECOND": "1000000",
    "SIGNPOST_PHONE_RATE_BURST": "1000000",
    "SIGNPOST_PHONE_MISS_BURST": "1000000",
    "SIGNPOST_PHONE_MISS_PER_MINUTE": "1000000",
}
BACKEND_NAMES = {
    "embedded": "embedded (SQLite, in-process cache)",
    "postgres": "postgres (PostgreSQL + Redis)",
}


class Broken(Exception):
    """Something that makes the rest of a backend's run meaningless."""


def mac_hex(n: int) -> str:
    return f"{n:012X}"


def say(text: str = "") -> None:
    print(text, flush=True)


def heading(text: str) -> None:
    say()
    say(f"== {text}")


# --------------------------------------------------------------------------------------------
# Processes: CPU time and memory from /proc


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of `pid`, in KiB (empty once it is gone)."""
    out = {}
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                name, _, value = line.partition(":")
                if name in ("VmRSS", "VmHWM"):
                    out[name] = int(value.split()[0])
    except OSError:
        pass
    return out


def process_tree(pid: int) -> list[int]:
    """`pid` and its direct children (nginx's master and its workers)."""
    children = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            children.append(int(entry))
    return [pid, *children]


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time the processes have used so far."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def children_cpu_seconds() -> float:
    """CPU time of the children this process has waited for (the generator runs)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class MemorySampler:
    """Samples a process's VmRSS and VmHWM every `interval` s on a thread, by phase."""

    def __init__(self, pid: int, interval: float = 0.25):
        self.pid, self.interval = pid, interval
        self.phase = "start"
        self.peaks: dict[str, int] = {}
        self.samples = 0
        self.hwm = 0
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stopping.is_set():
            self.sample()
            self.stopping.wait(self.interval)

    def sample(self) -> int:
        status = proc_status(self.pid)
        rss = status.get("VmRSS", 0)
        with self.lock:
            self.samples += 1
            self.peaks[self.phase] = max(self.peaks.get(self.phase, 0), rss)
            self.hwm = max(self.hwm, status.get("VmHWM", 0))
        return rss

    def start(self) -> "MemorySampler":
        self.thread.start()
        return self

    def enter(self, phase: str) -> int:
        """Starts a new phase; answers the RSS at its start."""
        with self.lock:
            self.phase = phase
        return self.sample()

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=2)


# --------------------------------------------------------------------------------------------
# nginx


def nginx_binary() -> str | None:
    for candidate in (shutil.which("nginx"), "/usr/sbin/nginx"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def ensure_nginx() -> str:
    """The nginx binary; installs the package with apt-get when it is missing (as root),
    with a policy-rc.d in place so that the package does not start its system service."""
    found = nginx_binary()
    if found:
        return found
    if os.geteuid() != 0:
        raise SystemExit("nginx is not installed: install it (apt-get install nginx) or run this "
                         "script as root, which installs it")
    if shutil.which("apt-get") is None:
        raise SystemExit("nginx is not installed and apt-get is not available to install it")
    policy = "/usr/sbin/policy-rc.d"
    created = False
    if not os.path.exists(policy):
        with open(policy, "w", encoding="ascii") as f:
            f.write("#!/bin/sh\nexit 101\n")
        os.chmod(policy, 0o755)
        created = True
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    install = ["apt-get", "install", "-y", "--no-install-recommends", "nginx"]
    try:
        say("nginx is missing: apt-get install -y --no-install-recommends nginx")
        done = subprocess.run(install, env=env, capture_output=True, text=True)
        if done.returncode != 0:  # stale package lists: refresh once and retry
            say("   apt-get install failed; apt-get update and retry")
            subprocess.run(["apt-get", "update"], env=env, capture_output=True, text=True)
            done = subprocess.run(install, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            sys.stderr.write(done.stdout[-3000:] + done.stderr[-3000:])
            raise SystemExit("apt-get install nginx failed")
    finally:
        if created:
            os.remove(policy)
    found = nginx_binary()
    if not found:
        raise SystemExit("nginx not found after installing the package")
    return found


def nginx_conf(prefix: str, root: str, port: int) -> str:
    """A private nginx serving the tree `seed --nginx-root` wrote, like Signpost's phone
    endpoints would: the legacy redirect, the per-MAC settings file, hosted files."""
    user = "user root;\n" if os.geteuid() == 0 else ""  # the tree is root's; so are workers
    # Descriptors: as many as the hard limit allows (nginx cannot raise it), at most 65536.
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    nofile = 65536 if hard == resource.RLIM_INFINITY else min(65536, hard)
    return f"""# Written by tests/bench/side_by_side.py
{user}worker_processes auto;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
worker_rlimit_nofile {nofile};
events {{
    worker_connections {nofile // 2};
}}
http {{
    types {{
        text/plain txt;
        text/xml   xml htm;
    }}
    default_type application/octet-stream;
    charset utf-8;
    charset_types text/plain text/xml;
    access_log {prefix}/access.log combined buffer=64k flush=1s;
    sendfile on;
    keepalive_requests 1000000;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;

    server {{
        listen 127.0.0.1:{port};
        root {root};
        add_header Cache-Control no-store;

        # The legacy redirect: /snomD785/snomD785.php?mac=MAC (text answer).
        location ~ "^/(snom\\w+)/\\1\\.php$" {{
            default_type text/plain;
            try_files /redirect/$arg_mac.txt /empty.txt =500;
        }}
        # The settings file that names the MAC: /snomD785-MAC.htm (XML answer).
        location ~ "^/snom\\w+-(?<mac>[0-9A-F]{{12}})\\.htm$" {{
            try_files /redirect/$mac.xml /empty.xml =500;
        }}
        # The MAC only in the User-Agent: nginx cannot read it, so always the empty document.
        location ~ "^/snom\\w+\\.htm$" {{
            try_files /empty.xml =500;
        }}
        # The setting server the redirect answers point at.
        location /files/ {{
        }}
        location / {{
            return 404;
        }}
    }}
}}
"""


class Nginx:
    """A private nginx in the foreground (`daemon off;`) with its files in a temp dir."""

    def __init__(self, binary: str, root: str, port: int, keep_dir: str):
        self.binary, self.root, self.port, self.keep_dir = binary, root, port, keep_dir
        self.prefix = tempfile.mkdtemp(prefix="signpost-bench-nginx-")
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "Nginx":
        conf = os.path.join(self.prefix, "nginx.conf")
        with open(conf, "w", encoding="utf-8") as f:
            f.write(nginx_conf(self.prefix, os.path.abspath(self.root), self.port))
        shutil.copy(conf, os.path.join(self.keep_dir, "nginx.conf"))
        for sub in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            os.makedirs(os.path.join(self.prefix, sub), exist_ok=True)
        log = open(os.path.join(self.prefix, "stderr.log"), "wb")
        self.proc = subprocess.Popen(
            [self.binary, "-p", self.prefix, "-e", os.path.join(self.prefix, "error.log"),
             "-c", conf, "-g", "daemon off;"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
        log.close()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            with contextlib.suppress(OSError):
                with socket_connection(self.port):
                    workers = len(process_tree(self.proc.pid)) - 1
                    say(f"   started nginx on port {self.port} ({workers} workers)")
                    return self
            time.sleep(0.05)
        self.stop(keep_logs=True)
        raise Broken(f"nginx did not start; see {self.keep_dir}/nginx-error.log and "
                     f"{self.keep_dir}/nginx-stderr.log")

    def stop(self, keep_logs: bool) -> None:
        """Stops nginx (SIGTERM: fast shutdown); moves its logs to `keep_dir` or drops them."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        for name in ("access.log", "error.log", "stderr.log"):
            path = os.path.join(self.prefix, name)
            if keep_logs and os.path.exists(path):
                shutil.move(path, os.path.join(self.keep_dir, f"nginx-{name}"))
        shutil.rmtree(self.prefix, ignore_errors=True)


@contextlib.contextmanager
def socket_connection(port: int):
    sock = socket.create_connection(("127.0.0.1", port), timeout=1)
    try:
        yield sock
    finally:
        sock.close()


# --------------------------------------------------------------------------------------------
# Backends and servers


def drop_bench_state(name: str, args) -> None:
    """Drops a run's database and deletes its Redis keys."""
    drop_database_and_keys(args.postgres_url, name, args.redis_url, f"{name}:", timeout=120)


def sweep_dead_runs(args) -> None:
    """Drops what earlier runs on this machine left when something killed them outright
    (SIGKILL, a lost session): their `finally` never ran. A run's database is named after its
    process id, so one whose process is gone is safe to drop; a live one is left alone."""
    done = _psql(
        args.postgres_url,
        r"SELECT datname FROM pg_database WHERE datname LIKE 'signpost\_bench\_%'",
    )
    if done.returncode != 0:
        return  # check_real_backends has already said what is wrong with PostgreSQL
    for name in done.stdout.split():
        pid = name.split("_")[2]
        if not pid.isdigit() or int(pid) == os.getpid() or _alive(int(pid)):
            continue
        say(f"dropping {name}, left by run {pid}, which is gone")
        drop_bench_state(name, args)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


@contextlib.contextmanager
def backend_env(kind: str, args):
    """The SIGNPOST_* variables that select the backend: none for embedded; for postgres a
    fresh database and Redis key prefix, dropped and deleted when the block ends."""
    if kind == "embedded":
        yield {}
        return
    name = unique("signpost_bench")
    done = _psql(args.postgres_url, f"CREATE DATABASE {name}")
    if done.returncode != 0:
        raise Broken(f"cannot create database {name}: {done.stderr.strip()}")
    parts = urllib.parse.urlsplit(args.postgres_url)
    prefix = f"{name}:"
    try:
        yield {
            "SIGNPOST_DATABASE_URL": server_database_url(parts._replace(path="/" + name), args),
            "SIGNPOST_REDIS_URL": args.redis_url,
            "SIGNPOST_REDIS_PREFIX": prefix,
        }
    finally:
        drop_bench_state(name, args)


def is_loopback(host: str | None) -> bool:
    if host == "localhost":
        return True
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def server_database_url(parts: urllib.parse.SplitResult, args) -> str:
    """The server's database URL. On loopback TLS is turned off (`sslmode=disable`) unless
    the URL sets an sslmode or --postgres-tls is given: encrypting a connection that never
    leaves the machine protects nothing, and it cost PostgreSQL and Signpost about 16 and
    15 µs of CPU per boot in the storm (PostgreSQL's default `prefer` takes TLS whenever the
    server offers it, as Debian's does)."""
    query = urllib.parse.parse_qs(parts.query)
    if is_loopback(parts.hostname) and "sslmode" not in query and not args.postgres_tls:
        extra = "sslmode=disable"
        parts = parts._replace(query=f"{parts.query}&{extra}" if parts.query else extra)
    return urllib.parse.urlunsplit(parts)


def check_real_backends(args) -> None:
    """Fails early and clearly when PostgreSQL or Redis cannot be used."""
    if shutil.which("psql") is None:
        raise SystemExit("the postgres backend needs the psql client (apt-get install postgresql-client)")
    try:
        done = _psql(args.postgres_url, "SELECT 1")
    except subprocess.TimeoutExpired:
        raise SystemExit(f"PostgreSQL at {args.postgres_url} did not answer within 30 s") from None
    if done.returncode != 0:
        raise SystemExit(f"PostgreSQL at {args.postgres_url} is unreachable: {done.stderr.strip()}")
    try:
        redis = Redis(args.redis_url)
        try:
            pong = redis.command("PING")
        finally:
            redis.close()
    except (OSError, RuntimeError, ValueError) as err:
        raise SystemExit(f"Redis at {args.redis_url} is unreachable: {err}") from None
    if pong != "PONG":
        raise SystemExit(f"Redis at {args.redis_url} answered PING with {pong!r}")


def server_env(backend: dict, args) -> dict:
    """Everything `signpost serve` gets: the backend, raised limits, per-request logging."""
    env = {"RUST_LOG": "info", **RAISED_LIMITS, **backend}
    if args.cache_max_devices:
        env["SIGNPOST_CACHE_MAX_DEVICES"] = str(args.cache_max_devices)
    if args.worker_threads:
        env["SIGNPOST_WORKER_THREADS"] = str(args.worker_threads)
    return env


def start_signpost(env: dict, name: str, log_path: str):
    """A `Server` (the e2e helper; started by `with`), logging into `log_path`."""
    server = Server(env, name)
    server.log_path = log_path  # keep the log with the results rather than in its temp dir
    return server


def get(port: int, path: str, user_agent: str = "") -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers={"User-Agent": user_agent} if user_agent else {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def check_answers(name: str, port: int, devices: int, hosted_prefix: str | None) -> list[str]:
    """Asks `name` for a registered and an unknown MAC in both path forms (and, for nginx,
    for the setting server's files); answers what was wrong."""
    known, unknown = mac_hex(FIRST_MAC), mac_hex(FIRST_MAC + devices)
    t = PHONE_TYPE
    cases = [
        (f"/{t}/{t}.php?mac={known}", True),
        (f"/{t}/{t}.php?mac={unknown}", False),
        (f"/{t}-{known}.htm", True),
        (f"/{t}-{unknown}.htm", False),
    ]
    if hosted_prefix is not None:
        cases += [(f"{hosted_prefix}{t}.htm", None), (f"{hosted_prefix}{t}-{known}.htm", None),
                  (f"{hosted_prefix}firmware/{t}-fw.xml", None)]
    problems = []
    for path, redirects in cases:
        try:
            status, body = get(port, path)
        except OSError as err:
            problems.append(f"{name} GET {path}: {err}")
            continue
        if redirects is None:  # a setting-server file: any XML document
            if status != 200 or not body.startswith(b"<?xml"):
                problems.append(f"{name} GET {path} answered {status} {body[:200]!r}")
        elif status != 200 or (b"setting_server" in body) != redirects:
            problems.append(f"{name} GET {path} answered {status} {body[:200]!r} "
                            f"(wanted a {'redirect' if redirects else 'empty document'})")
    if not problems:
        say(f"   {name} answers a registered MAC with a redirect and an unknown one with the "
            "empty document")
    return problems


# --------------------------------------------------------------------------------------------
# The load generator


class Loadgen:
    """Runs `signpost-loadgen` with its output shown; keeps its JSON reports."""

    def __init__(self, binary: str, threads: int, nice: int):
        self.binary, self.threads = binary, threads
        self.nice = nice if can_raise_priority(nice) else 0

    def _priority(self) -> None:
        """Runs in the child before exec: the generator's own niceness (see --loadgen-nice)."""
        if self.nice:
            os.setpriority(os.PRIO_PROCESS, 0, self.nice)

    def command(self, subcommand: str, options: list[str]) -> list[str]:
        return [self.binary, "--threads", str(self.threads), subcommand, *options]

    def run(self, subcommand: str, options: list[str]) -> float:
        """Runs one command; answers its wall time. A non-zero exit is `Broken`."""
        argv = self.command(subcommand, options)
        shown = [("****" if prev == "--key-secret" else arg) for prev, arg in zip([""] + argv, argv)]
        say(f"$ {shlex.join([os.path.basename(shown[0]), *shown[1:]])}")
        started = time.monotonic()
        done = subprocess.run(argv, stdin=subprocess.DEVNULL, preexec_fn=self._priority)
        if done.returncode != 0:
            raise Broken(f"signpost-loadgen {subcommand} exited {done.returncode}")
        return time.monotonic() - started

    def measure(self, subcommand: str, options: list[str], json_path: str,
                server: subprocess.Popen) -> dict:
        """Runs a measuring command with `--json`; answers its report, with the CPU used by
        the server (the process and its children: nginx's workers) and by the generator
        while it ran. A server that died meanwhile is `Broken`."""
        settle_writes()
        pids = process_tree(server.pid)
        server_cpu, own_cpu = cpu_seconds(pids), children_cpu_seconds()
        wall = self.run(subcommand, [*options, "--json", json_path])
        if server.poll() is not None:
            raise Broken(f"the server under test exited ({server.returncode}) during this run")
        # nginx workers may have been replaced meanwhile; the old ones are gone anyway.
        server_cpu = cpu_seconds(pids) - server_cpu
        own_cpu = children_cpu_seconds() - own_cpu
        with open(json_path, encoding="utf-8") as f:
            report = json.load(f)
        report["_cpu"] = {
            "wall_s": round(wall, 3),
            "server_pct": round(100 * server_cpu / wall, 1),
            "loadgen_pct": round(100 * own_cpu / wall, 1),
        }
        say(f"   CPU while it ran: server {report['_cpu']['server_pct']:.0f}%, "
            f"generator {report['_cpu']['loadgen_pct']:.0f}% of one core")
        return report

    def plot(self, out: str, title: str, reports: list[str]) -> str | None:
        """Draws reports into one SVG; answers a problem, if any."""
        reports = [r for r in reports if os.path.exists(r)]
        if not reports:
            return None
        try:
            self.run("plot", ["--out", out, "--title", title, *reports])
        except Broken as err:
            return str(err)
        return None


def can_raise_priority(nice: int) -> bool:
    """Whether a child may run at `nice` (below 0 takes root or CAP_SYS_NICE); says so when
    it may not."""
    if nice >= 0:
        return True
    probe = subprocess.run(["true"], preexec_fn=lambda: os.setpriority(os.PRIO_PROCESS, 0, nice),
                           check=False, capture_output=True)
    if probe.returncode != 0:
        say(f"   cannot run the generator at niceness {nice} (not root): it runs at the default, "
            "and its own delays count in the servers' latencies")
        return False
    return True


def settle_writes() -> None:
    """Writes out what earlier steps left in the page cache (the seeded files, both servers'
    logs of the run before) before a measured run starts. The kernel writes dirty pages back
    once they are 30 s old: without this a run paid, in CPU and disk, for its predecessor's
    200-odd MiB of log, whichever server that was."""
    started = time.monotonic()
    os.sync()
    took = time.monotonic() - started
    if took > 1:
        say(f"   (writing out earlier steps' files took {took:.1f} s before this run)")


def brief(report: dict | None) -> dict | None:
    """The figures of a loadgen report that the summary shows."""
    if report is None:
        return None
    return {
        "throughput_per_s": report["throughput_per_s"],
        "units_per_s": report["units_per_s"],
        "unit": report["unit"],
        "operation": report["operation"],
        "ok": report["ok"],
        "errors": report["errors"],
        "errors_by_kind": report["errors_by_kind"],
        "latency_ms": report["latency_ms"],
        "cpu": report.get("_cpu"),
        "behind_s": report.get("_behind_s"),
        "machine": report.get("machine"),
    }


def error_problems(label: str, report: dict) -> list[str]:
    """Failed operations of a run, as problems (printed by kind)."""
    if report["errors"] == 0 and report["ok"] > 0:
        return []
    kinds = ", ".join(f"{k}: {v}" for k, v in report["errors_by_kind"].items()) or "no successes"
    return [f"{label}: {report['errors']} of {report['errors'] + report['ok']} "
            f"{report['operation']}s failed ({kinds})"]


# --------------------------------------------------------------------------------------------
# One backend


class BackendRun:
    """Everything measured on one backend, and what went wrong."""

    def __init__(self, kind: str, args, loadgen: Loadgen, nginx_bin: str):
        self.kind, self.args, self.lg, self.nginx_bin = kind, args, loadgen, nginx_bin
        self.out = os.path.join(args.out, kind)
        os.makedirs(self.out, exist_ok=True)
        self.result: dict = {"backend": kind, "description": BACKEND_NAMES[kind],
                             "scenarios": [], "register": None, "memory": None}
        self.problems: list[str] = []

    def path(self, name: str) -> str:
        return os.path.join(self.out, name)

    def report_path(self, slug: str, label: str) -> str:
        """Where a run's JSON goes: `redirect-80-nginx-at-80.json` for `nginx@80%`."""
        return self.path(f"{slug}-{label.replace('@', '-at-').replace('%', '')}.json")

    def pair(self, scenario: str, command: str, options: list[str], targets, slug: str) -> dict:
        """Runs one scenario against nginx, then Signpost (`targets`: (label, URL, the
        server's process) each); records the pair and plots it together."""
        reports = {}
        for label, url, proc in targets:
            report = self.lg.measure(command, ["--target", url, "--label", label, *options],
                                     self.report_path(slug, label), proc)
            if "--rate" in options:
                self.check_schedule(label, report)
            self.problems += error_problems(f"{self.kind} {scenario} {label}", report)
            reports[label] = report
        svg = os.path.join(self.args.out, f"{self.kind}-{slug}.svg")
        problem = self.lg.plot(svg, f"{scenario} · {self.kind}",
                               [self.report_path(slug, label) for label, _, _ in targets])
        if problem:
            self.problems.append(problem)
        (nginx_label, _, _), (signpost_label, _, _) = targets
        self.result["scenarios"].append({
            "scenario": scenario,
            "nginx": brief(reports[nginx_label]),
            "signpost": brief(reports[signpost_label]),
            "plot": os.path.relpath(svg, self.args.out),
        })
        return reports

    def check_schedule(self, label: str, report: dict) -> None:
        """An open-loop run sends every request it was due to send, late if need be, and
        counts latency from when it was due: one that finished well after warm-up +
        duration fell behind, and its latency figures measure the backlog that built up
        (the rate was more than that server, or the generator, sustains on this machine)."""
        late = report["_cpu"]["wall_s"] - self.args.warmup - self.args.duration
        if late > 0.25:
            report["_behind_s"] = round(late, 2)
            say(f"   NOTE: {label} fell behind the schedule (finished {late:.1f} s late): its "
                "latencies measure a growing backlog, not steady service")

    def run(self) -> None:
        """Steps 1-5 on one server and one nginx, then step 6 on a fresh server."""
        args = self.args
        heading(f"backend {BACKEND_NAMES[self.kind]}")
        with backend_env(self.kind, args) as backend:
            server = start_signpost(server_env(backend, args), f"signpost-{self.kind}",
                                    self.path("signpost.log"))
            with server:
                with open(self.path("signpost-config.toml"), "w", encoding="utf-8") as f:
                    f.write(server.run_command("config").stdout)
                key = server.keys_create("platform-admin")
                api = ["--key-id", key[0], "--key-secret", key[1]]
                nginx_port = free_port()
                nginx_root = self.path("nginx-root")
                shutil.rmtree(nginx_root, ignore_errors=True)
                seconds = self.lg.run("seed", [
                    "--target", server.base_url, *api, "--tenant", TENANT,
                    "--devices", str(args.devices), "--first-mac", mac_hex(FIRST_MAC),
                    "--mac-files", str(args.phones), "--nginx-root", nginx_root,
                    "--nginx-url", f"http://127.0.0.1:{nginx_port}"])
                say(f"   seeding {args.devices} devices (registration, hosted files, nginx tree) "
                    f"took {seconds:.1f} s")
                self.result["seed_s"] = round(seconds, 1)
                nginx = Nginx(self.nginx_bin, nginx_root, nginx_port, self.out)
                try:
                    nginx.start()
                    problems = check_answers("nginx", nginx.port, args.devices, "/files/")
                    problems += check_answers("signpost", server.port, args.devices, None)
                    if problems:
                        self.problems += problems
                        raise Broken("wrong answers before measuring:\n  " + "\n  ".join(problems))
                    self.measure_phone_path(server, nginx)
                finally:
                    keep = args.keep or bool(self.problems)
                    nginx.stop(keep_logs=keep)
                    if not keep:  # 3 files per device: regenerated by every run anyway
                        shutil.rmtree(nginx_root, ignore_errors=True)
                if not args.skip_register:
                    self.measure_register(server, api)
            if not args.keep and not self.problems:
                with contextlib.suppress(OSError):
                    os.remove(self.path("signpost.log"))
        if args.memory_devices:
            self.measure_memory()

    def measure_phone_path(self, server, nginx: Nginx) -> None:
        """Steps 3 and 4: redirect closed loop, redirect at --open-loop-share (80%) of
        Signpost's peak, boot storm."""
        args = self.args
        fleet = ["--devices", str(args.devices), "--first-mac", mac_hex(FIRST_MAC)]
        redirect = [*fleet, "--connections", str(args.connections),
                    "--duration", str(args.duration), "--warmup", str(args.warmup)]
        targets = [("nginx", nginx.url, nginx.proc), ("signpost", server.base_url, server.proc)]
        heading(f"{self.kind}: redirect, closed loop ({args.connections} keep-alive connections)")
        # Every registered MAC once first: the figure is for a warm cache.
        reports = self.pair("redirect, closed loop", "redirect", [*redirect, "--warm-all"],
                            targets, "redirect")
        peak = reports["signpost"]["throughput_per_s"]
        if peak > 0:
            rate = round(args.open_loop_share * peak, 1)
            share = f"{100 * args.open_loop_share:.0f}%"
            heading(f"{self.kind}: redirect, open loop at {rate:,.0f}/s ({share} of Signpost's peak)")
            self.pair(f"redirect, open loop at {rate:,.0f}/s = {share} of Signpost's peak",
                      "redirect", [*redirect, "--rate", str(rate)],
                      [(f"nginx@{share}", nginx.url, nginx.proc),
                       (f"signpost@{share}", server.base_url, server.proc)],
                      f"redirect-{share[:-1]}")
            self.result["open_loop_rate"] = rate
        else:
            self.problems.append(f"{self.kind}: no closed-loop throughput; open loop skipped")
        if not args.skip_boot_storm:
            heading(f"{self.kind}: boot storm ({args.phones} phones, {args.storm_concurrency} at once)")
            self.pair("boot storm", "boot-storm",
                      [*fleet, "--phones", str(args.phones),
                       "--concurrency", str(args.storm_concurrency)], targets, "boot-storm")

    def measure_register(self, server, api: list[str]) -> None:
        """Step 5: bulk registration into a second tenant."""
        args = self.args
        heading(f"{self.kind}: register {args.register_devices} devices through the batch API")
        self.lg.run("seed", ["--target", server.base_url, *api, "--tenant", REGISTER_TENANT,
                             "--devices", "0"])
        json_path = self.path("register.json")
        report = self.lg.measure("register", [
            "--target", server.base_url, "--label", "signpost", *api,
            "--tenant", REGISTER_TENANT, "--devices", str(args.register_devices),
            "--first-mac", mac_hex(REGISTER_FIRST_MAC), "--batch", "5000", "--concurrency", "4",
        ], json_path, server.proc)
        self.problems += error_problems(f"{self.kind} register", report)
        say(f"   {report['units_per_s']:,.0f} devices/s")
        svg = os.path.join(args.out, f"{self.kind}-register.svg")
        problem = self.lg.plot(svg, f"register, batch API · {self.kind}", [json_path])
        if problem:
            self.problems.append(problem)
        self.result["register"] = {**brief(report), "devices": args.register_devices,
                                   "plot": os.path.relpath(svg, args.out)}

    def measure_memory(self) -> None:
        """Step 6: a fresh server with --memory-devices devices, RSS sampled under load."""
        args = self.args
        devices = args.memory_devices
        heading(f"{self.kind}: memory with {devices} devices (a fresh server and database)")
        with backend_env(self.kind, args) as backend:
            server = start_signpost(server_env(backend, args), f"signpost-{self.kind}-memory",
                                    self.path("memory-signpost.log"))
            with server:
                sampler = MemorySampler(server.pid).start()
                try:
                    key = server.keys_create("platform-admin")
                    started_rss = sampler.enter("seed")
                    seconds = self.lg.run("seed", [
                        "--target", server.base_url, "--key-id", key[0], "--key-secret", key[1],
                        "--tenant", TENANT, "--devices", str(devices),
                        "--first-mac", mac_hex(FIRST_MAC)])
                    say(f"   seeding {devices} devices took {seconds:.1f} s")
                    seeded_rss = sampler.enter("redirect")
                    json_path = self.path("memory-redirect.json")
                    report = self.lg.measure("redirect", [
                        "--target", server.base_url, "--label", f"signpost {devices} devices",
                        "--devices", str(devices), "--first-mac", mac_hex(FIRST_MAC),
                        "--connections", str(args.connections), "--duration", str(args.duration),
                        "--warmup", str(args.warmup)], json_path, server.proc)
                    end_rss = sampler.enter("after")
                finally:
                    sampler.stop()
            failed = error_problems(f"{self.kind} memory redirect", report)
            self.problems += failed
            if not args.keep and not failed:
                with contextlib.suppress(OSError):
                    os.remove(self.path("memory-signpost.log"))
        svg = os.path.join(args.out, f"{self.kind}-memory-redirect.svg")
        problem = self.lg.plot(svg, f"redirect, {devices:,} devices · {self.kind}", [json_path])
        if problem:
            self.problems.append(problem)
        requests = report["ok"] * (args.duration + args.warmup) / max(args.duration, 1e-9)
        touched = devices * (1 - math.exp(-0.95 * requests / devices))
        memory = {
            "devices": devices,
            "seed_s": round(seconds, 1),
            "rss_start_kib": started_rss,
            "rss_after_seed_kib": seeded_rss,
            "rss_peak_seed_kib": sampler.peaks.get("seed", 0),
            "rss_peak_redirect_kib": sampler.peaks.get("redirect", 0),
            "rss_end_kib": end_rss,
            "hwm_kib": sampler.hwm,
            "samples": sampler.samples,
            "cache_max_devices": args.cache_max_devices or 150_000,
            "macs_touched_estimate": int(touched),
            "redirect": brief(report),
            "plot": os.path.relpath(svg, args.out),
        }
        self.result["memory"] = memory
        say(f"   server RSS: {mib(started_rss)} at start, {mib(seeded_rss)} after seeding, peak "
            f"{mib(memory['rss_peak_redirect_kib'])} under load (VmHWM since start {mib(sampler.hwm)}), "
            f"{mib(end_rss)} at the end; {sampler.samples} samples every 250 ms")
        say(f"   the load touched about {touched:,.0f} of the {devices:,} MACs "
            f"(cache holds at most {memory['cache_max_devices']:,} devices)")


def mib(kib: int) -> str:
    return f"{kib / 1024:.1f} MiB"


# --------------------------------------------------------------------------------------------
# Summary


def machine(args, nginx_bin: str) -> dict:
    """What the figures were measured on."""
    cpu = ""
    with contextlib.suppress(OSError):
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f
                        if line.startswith("model name")), "")
    mem_kib = 0
    with contextlib.suppress(OSError, ValueError):
        with open("/proc/meminfo", encoding="ascii") as f:
            mem_kib = int(f.readline().split()[1])

    def version(argv: list[str]) -> str:
        done = subprocess.run(argv, capture_output=True, text=True)
        return ((done.stdout or done.stderr).strip() if done.returncode == 0
                else f"(exit {done.returncode})")

    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "kernel": platform.release(),
        "signpost": version([args.bin, "--version"]),
        "loadgen": version([args.loadgen, "--version"]),
        "nginx": subprocess.run([nginx_bin, "-v"], capture_output=True, text=True).stderr.strip()
        .removeprefix("nginx version: "),
        "date_utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


def fmt_rate(side: dict | None) -> str:
    if not side:
        return "–"
    return f"{side['throughput_per_s']:,.0f}"


def fmt_p99(side: dict | None) -> str:
    """p99 in ms; marked † when the open-loop run fell behind its schedule."""
    if not side:
        return "–"
    return f"{side['latency_ms']['p99']:.3f}" + (" †" if side.get("behind_s") else "")


def ratio(a: float | None, b: float | None) -> str:
    """b / a, as `0.62×`."""
    if not a or b is None:
        return "–"
    return f"{b / a:.2f}×"


def table_rows(result: dict) -> list[list[str]]:
    """One row per scenario: scenario, nginx /s, signpost /s, ratio, nginx p99, signpost
    p99, ratio, CPU of each side."""
    rows = []
    for s in result["scenarios"]:
        n, p = s["nginx"], s["signpost"]
        cpu = "–" if not (n and p and n["cpu"] and p["cpu"]) else \
            f"{n['cpu']['server_pct']:.0f}% / {p['cpu']['server_pct']:.0f}%"
        rows.append([
            s["scenario"] + (f" [{n['operation']}s/s]" if n else ""),
            fmt_rate(n), fmt_rate(p),
            ratio(n and n["throughput_per_s"], p and p["throughput_per_s"]),
            fmt_p99(n), fmt_p99(p),
            ratio(n and n["latency_ms"]["p99"], p and p["latency_ms"]["p99"]),
            cpu,
        ])
    reg = result.get("register")
    if reg:
        rows.append([f"register, batch API, {reg['devices']:,} devices [devices/s]", "–",
                     f"{reg['units_per_s']:,.0f}", "–", "–",
                     f"{reg['latency_ms']['p99']:.3f} per batch", "–",
                     f"– / {reg['cpu']['server_pct']:.0f}%" if reg["cpu"] else "–"])
    return rows


HEADER = ["scenario", "nginx /s", "signpost /s", "ratio", "nginx p99 ms", "signpost p99 ms",
          "ratio", "CPU nginx / signpost"]


def text_table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [HEADER, *rows]) for i in range(len(HEADER))]
    lines = []
    for n, row in enumerate([HEADER, *rows]):
        cells = [row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:], widths[1:])]
        lines.append("  " + "  ".join(cells))
        if n == 0:
            lines.append("  " + "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def memory_line(memory: dict | None) -> str | None:
    if not memory:
        return None
    r = memory["redirect"]
    return (f"memory, {memory['devices']:,} devices: peak RSS {mib(memory['rss_peak_redirect_kib'])} "
            f"under closed-loop redirect load ({r['throughput_per_s']:,.0f} requests/s, p99 "
            f"{r['latency_ms']['p99']:.3f} ms), VmHWM {mib(memory['hwm_kib'])}, "
            f"{mib(memory['rss_after_seed_kib'])} after seeding, {mib(memory['rss_start_kib'])} "
            f"at start; cache limit {memory['cache_max_devices']:,} devices, about "
            f"{memory['macs_touched_estimate']:,} MACs touched")


# CPU time the hypervisor may take over one run before the summary mentions it: a second
# of the machine's 2 × 25 s of warm-up and measurement, about 2%.
STEAL_WORTH_NOTING_MS = 1000


def stall_lines(result: dict) -> list[str]:
    """Per scenario in which the machine got in the way of either side: the seconds in
    which the generator's machine probe woke more than 10 ms late (nothing on the machine
    ran, whatever server answered), and the CPU time the hypervisor stole from this VM."""
    lines = []
    for s in result["scenarios"]:
        sides = {label: s[label]["machine"] for label in ("nginx", "signpost")
                 if s[label] and s[label].get("machine")}
        if not any(m["stalled_seconds"] or (m.get("steal_ms") or 0) >= STEAL_WORTH_NOTING_MS
                   for m in sides.values()):
            continue
        seen = "; ".join(
            f"{label} run {m['stalled_seconds']} s (worst {m['worst_wake_ms']:.1f} ms)"
            + (f", {m['steal_ms']:,} ms stolen" if m.get("steal_ms") is not None else "")
            for label, m in sides.items())
        lines.append(f"machine in {s['scenario']} (seconds in which the generator's probe "
                     f"woke more than 10 ms late; CPU time the hypervisor took): {seen}")
    return lines


def settings_line(args) -> str:
    return (f"{args.devices:,} devices, {args.connections} keep-alive connections, "
            f"{args.duration:g} s measured after {args.warmup:g} s warm-up, 5% unknown MACs, "
            f"php and htm paths in turn; boot storm {args.phones:,} phones, "
            f"{args.storm_concurrency} at once; generator threads {args.loadgen_threads}, "
            f"niceness {args.loadgen_nice}; "
            f"Signpost workers (worker_threads) {args.worker_threads or 'one per CPU'}; "
            "Signpost phone rate limits on, raised to 1,000,000")


def write_summary(args, info: dict, results: list[dict], problems: list[str]) -> None:
    """Prints the tables; writes summary.json and summary.md under --out."""
    with open(os.path.join(args.out, "summary.json"), "w", encoding="utf-8") as f:
        json.dump({"machine": info, "command": args.command_line, "settings": settings_line(args),
                   "backends": results, "problems": problems}, f, indent=2)
    heading("summary")
    say(f"machine   {info['nproc']} × {info['cpu']}, {info['memory_gib']} GiB, Linux {info['kernel']}")
    say(f"servers   {info['signpost']}; {info['nginx']} (static files, access log on; "
        "Signpost logs a line per request too)")
    say(f"settings  {settings_line(args)}")
    md = [
        "### Signpost next to nginx serving the same answers as static files",
        "",
        f"- machine: {info['nproc']} × {info['cpu']}, {info['memory_gib']} GiB, Linux "
        f"{info['kernel']}, {info['date_utc']}",
        f"- {info['signpost']}, {info['loadgen']}, {info['nginx']} "
        "(`worker_processes auto`, access log on; Signpost logs one line per request too)",
        f"- {settings_line(args)}",
        f"- command: `{args.command_line}`",
        "- ratios are signpost/nginx; CPU is each server's average over warm-up and "
        "measurement, in % of one core (the generator shares the machine)",
    ]
    for result in results:
        rows = table_rows(result)
        say()
        say(f"{result['description']}" + (f"  (seeding took {result['seed_s']} s)"
                                          if "seed_s" in result else ""))
        say(text_table(rows))
        md += ["", f"#### {result['description']}", "",
               "| " + " | ".join(HEADER) + " |",
               "|" + "|".join(["---"] + ["---:"] * (len(HEADER) - 1)) + "|"]
        md += ["| " + " | ".join(row) + " |" for row in rows]
        for line in stall_lines(result):
            say("  " + line)
            md += ["", line]
        line = memory_line(result.get("memory"))
        if line:
            say("  " + line)
            md += ["", line]
    behind = [f"{s[side]['behind_s']:.1f} s for {r['backend']} {side}" for r in results
              for s in r["scenarios"] for side in ("nginx", "signpost")
              if s[side] and s[side].get("behind_s")]
    if behind:
        note = ("† the open-loop run fell behind its schedule (it finished late by "
                + ", ".join(behind) + "): the rate was more than that server, or the generator, "
                "sustained on this machine, and its latencies measure the backlog that built up")
        say()
        say(note)
        md += ["", note]
    if problems:
        md += ["", "Problems:", ""] + [f"- {p}" for p in problems]
    with open(os.path.join(args.out, "summary.md"), "w", encoding="utf-8") as f:
        f.write("\n".join(md) + "\n")
    say()
    say(f"reports, plots and summary.md/summary.json in {args.out}")


# --------------------------------------------------------------------------------------------
# Main


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=["embedded", "postgres", "both"], default="both")
    parser.add_argument("--devices", type=int, default=100_000, help="seeded devices (default %(default)s)")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds measured per redirect run")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds of load before measuring")
    parser.add_argument("--connections", type=int, default=64, help="keep-alive connections of `redirect`")
    parser.add_argument("--phones", type=int, default=None, help="phones in the boot storm, of the --devices registered (default: all of them)")
    parser.add_argument("--storm-concurrency", type=int, default=128, help="phones booting at once")
    parser.add_argument("--skip-boot-storm", action="store_true")
    parser.add_argument("--skip-register", action="store_true")
    parser.add_argument("--register-devices", type=int, default=100_000,
                        help="devices registered through the batch API (default %(default)s)")
    parser.add_argument("--memory-devices", type=int, default=0,
                        help="devices of the memory run (default 0: no memory run)")
    parser.add_argument("--cache-max-devices", type=int, default=0,
                        help="SIGNPOST_CACHE_MAX_DEVICES (default 0: the server's default, 150000)")
    parser.add_argument("--worker-threads", type=int, default=0,
                        help="SIGNPOST_WORKER_THREADS (default 0: the server's default, one per CPU)")
    parser.add_argument("--loadgen-threads", type=int, default=1, help="worker threads of the generator")
    parser.add_argument("--loadgen-nice", type=int, default=-10,
                        help="niceness of the generator (default -10, ahead of both servers; 0: "
                             "the same as theirs); below 0 needs root")
    parser.add_argument("--open-loop-share", type=float, default=0.8,
                        help="open-loop rate as a share of Signpost's closed-loop throughput "
                             "(default %(default)s)")
    parser.add_argument("--out", default=None, help="results directory (default target/bench/<UTC time>)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the servers' request logs and nginx's file tree in --out "
                             "(always kept when something failed)")
    parser.add_argument("--bin", default=os.path.join(TARGET, "release", "signpost"),
                        help="signpost binary (default %(default)s)")
    parser.add_argument("--loadgen", default=os.path.join(TARGET, "release", "signpost-loadgen"),
                        help="signpost-loadgen binary (default %(default)s)")
    parser.add_argument("--postgres-url", default=os.environ.get("SIGNPOST_TEST_POSTGRES_URL")
                        or "postgres://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--postgres-tls", action="store_true",
                        help="keep TLS on a loopback PostgreSQL (by default the server's URL gets sslmode=disable there)")
    parser.add_argument("--redis-url", default=os.environ.get("SIGNPOST_TEST_REDIS_URL")
                        or "redis://127.0.0.1:6379")
    args = parser.parse_args()
    for path, build in ((args.bin, "-p signpost-server"), (args.loadgen, "-p signpost-loadgen")):
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            parser.error(f"{path} is not an executable (build it: cargo build --release {build})")
    if args.phones is None:
        # Every registered phone boots; each needs its own uploaded file.
        args.phones = args.devices
    if args.devices < 1 or args.connections < 1 or args.duration <= 0:
        parser.error("--devices, --connections and --duration must be positive")
    if not 0 < args.open_loop_share <= 2:
        parser.error("--open-loop-share must be above 0 (and at most 2)")
    if not 0 <= args.worker_threads <= 1024:
        parser.error("--worker-threads must be between 1 and 1024 (0: the server's default)")
    if args.cache_max_devices and args.cache_max_devices < 1000:
        parser.error("--cache-max-devices must be at least 1000")
    if args.out is None:
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        args.out = os.path.join(TARGET, "bench", stamp)
    args.out = os.path.abspath(args.out)
    args.command_line = shlex.join(["python3", *sys.argv])
    return args


def main() -> None:
    args = parse_args()
    # The e2e helpers start the binary SIGNPOST_TEST_BIN names.
    os.environ["SIGNPOST_TEST_BIN"] = os.path.abspath(args.bin)
    # Unwind on SIGTERM too, so that the `finally` blocks stop nginx and Signpost and drop
    # the database (Ctrl-C unwinds as KeyboardInterrupt).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    kinds = ["embedded", "postgres"] if args.backend == "both" else [args.backend]
    if "postgres" in kinds:
        check_real_backends(args)
        sweep_dead_runs(args)
    nginx_bin = ensure_nginx()
    os.makedirs(args.out, exist_ok=True)
    info = machine(args, nginx_bin)
    loadgen = Loadgen(os.path.abspath(args.loadgen), args.loadgen_threads, args.loadgen_nice)
    args.loadgen_nice = loadgen.nice  # what it really runs at, for the summary
    say(f"results in {args.out}")
    started = time.monotonic()
    results, problems = [], []
    interrupted = False
    try:
        for kind in kinds:
            run = BackendRun(kind, args, loadgen, nginx_bin)
            results.append(run.result)  # filled in as it goes: partial results are shown too
            try:
                run.run()
            except Broken as err:
                run.problems.append(f"{kind}: {err}")
            except AssertionError as err:  # the e2e helpers' Failure: a server that misbehaved
                run.problems.append(f"{kind}: {err}")
            finally:
                problems += [p for p in run.problems if p not in problems]
    except KeyboardInterrupt:
        interrupted = True
        problems.append("interrupted")
    finally:
        if results:
            write_summary(args, info, results, problems)
    for problem in problems:
        print(f"PROBLEM: {problem}", file=sys.stderr)
    name = os.path.basename(sys.argv[0])
    failed = bool(problems)
    say(f"{name}: {'FAILED' if failed else 'done'} in {time.monotonic() - started:.1f} s")
    sys.exit(130 if interrupted else 1 if failed else 0)


if __name__ == "__main__":
    main()
