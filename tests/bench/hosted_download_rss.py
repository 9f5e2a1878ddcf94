#!/usr/bin/env python3
"""Benchmark: the server's memory while many phones download one large hosted firmware image.

Not a test (tests/run.sh does not run it) and it passes no judgement on speed: it prints
figures. It fails (exit 1) only when something is wrong: a download whose sha256 differs, a
request that fails, a server that does not start.

What it does:
1. starts `signpost serve` on its embedded defaults (SQLite, files in the data directory,
   in-process cache) in a temp directory, or with `--s3` keeps the files in a fresh bucket
   on the S3 server named by SIGNPOST_TEST_S3_ENDPOINT / _ACCESS_KEY / _SECRET_KEY / _REGION
   (as tests/run.sh exports them; the bucket is deleted afterwards);
2. uploads a --size-mib (default 100) MiB pseudo-random image through PUT
   /v1/tenants/bench/files/..., streamed from a generator (the client never holds it);
3. registers --phones (default 20) MACs on a hosted profile and boots each once through the
   redirect (`/snomD785-{MAC}.htm`), which hands every phone its own
   `{base}/p/bench/{token}/` URL;
4. lets all phones download the image at once (one thread each, released together by a
   barrier, reading 64 KiB at a time and hashing as they go; --throttle-mibps caps each
   phone's rate so the downloads overlap for longer), --rounds times (default 2: a second
   round shows whether memory keeps growing), while a sampler reads the server's
   VmRSS from /proc/PID/status every 100 ms; VmHWM (peak RSS) is reset through
   /proc/PID/clear_refs before each phase where the kernel allows it, so it also catches
   spikes between samples;
5. prints baseline RSS, peak RSS during the upload and during each round of downloads, RSS
   after, total bytes, wall time, aggregate throughput, the server's CPU time, and checks
   every download's sha256.

The downloading client is Python on the same machine: with few CPUs it, not the server, may
set the throughput (compare the server's CPU figure with the wall time).

Binary: --bin PATH, default target/release/signpost when it exists, else target/debug/signpost.
Release gives the representative figures (`cargo build --release -p signpost-server`, about
10 minutes on a 2-CPU machine); a debug build streams the same way, but its CPU figures
(throughput) are much lower and its RSS baseline differs somewhat.

    tests/bench/hosted_download_rss.py                       # release if built, else debug
    tests/bench/hosted_download_rss.py --bin target/debug/signpost --phones 20 --size-mib 100
    tests/bench/hosted_download_rss.py --throttle-mibps 20  # each phone at most 20 MiB/s
    SIGNPOST_TEST_S3_ENDPOINT=... tests/bench/hosted_download_rss.py --s3
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import http.client
import os
import random
import re
import statistics
import sys
import threading
import time
import urllib.parse

sys.dont_write_bytecode = True  # leave no __pycache__ in the source tree
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))

CHUNK = 64 * 1024
MiB = 1024 * 1024
IMAGE = "firmware/snomD785-10.1.54.13-SIP-r.bin"
UA = "Mozilla/4.0 (compatible; snomD785-SIP 10.1.33.33 2010.12-00004-g9ba52f5 {mac} SXM:0 UXM:0)"


def default_bin() -> str:
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target")
    release = os.path.join(target, "release", "signpost")
    return release if os.access(release, os.X_OK) else os.path.join(target, "debug", "signpost")


def image_chunks(size: int, seed: int, digest):
    """`size` pseudo-random bytes in CHUNK pieces, hashed into `digest` as they are made."""
    rng = random.Random(seed)
    left = size
    while left > 0:
        n = min(CHUNK, left)
        chunk = rng.randbytes(n)
        digest.update(chunk)
        left -= n
        yield chunk


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of `pid`, in KiB."""
    out = {}
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                out[name] = int(value.split()[0])
    return out


def cpu_seconds(pid: int) -> float:
    """User + system CPU time `pid` has used so far."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def reset_hwm(pid: int) -> bool:
    """Resets VmHWM to the current RSS (Linux: `echo 5 > /proc/PID/clear_refs`)."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w", encoding="ascii") as f:
            f.write("5")
        return True
    except OSError:
        return False


class Sampler:
    """Samples VmRSS every `interval` s on a thread; `phase(name)` starts a new bucket."""

    def __init__(self, pid: int, interval: float = 0.1):
        self.pid, self.interval = pid, interval
        self.samples: dict[str, list[tuple[float, int]]] = {}
        self.current = "idle"
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.lock = threading.Lock()

    def _run(self) -> None:
        while not self.stop_event.is_set():
            try:
                rss = proc_status(self.pid)["VmRSS"]
            except (OSError, KeyError):
                return
            with self.lock:
                self.samples.setdefault(self.current, []).append((time.monotonic(), rss))
            self.stop_event.wait(self.interval)

    def start(self) -> "Sampler":
        self.thread.start()
        return self

    def phase(self, name: str) -> None:
        with self.lock:
            self.current = name
            self.samples.setdefault(name, [])
        self.sample_now()

    def sample_now(self) -> int:
        rss = proc_status(self.pid)["VmRSS"]
        with self.lock:
            self.samples.setdefault(self.current, []).append((time.monotonic(), rss))
        return rss

    def peak(self, name: str) -> int:
        with self.lock:
            return max((rss for _, rss in self.samples.get(name, [])), default=0)

    def count(self, name: str) -> int:
        with self.lock:
            return len(self.samples.get(name, []))

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join(timeout=2)


def mib(kib: int) -> str:
    return f"{kib / 1024:8.1f} MiB"


class Download:
    def __init__(self, mac: str, url: str):
        self.mac, self.url = mac, url
        self.started = self.first_byte = self.finished = 0.0
        self.bytes = 0
        self.sha256 = ""
        self.status = 0
        self.error = ""


def download(job: Download, barrier: threading.Barrier, throttle_bps: float) -> None:
    parts = urllib.parse.urlsplit(job.url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
    digest = hashlib.sha256()
    try:
        barrier.wait()
        job.started = time.monotonic()
        conn.request("GET", parts.path, headers={"User-Agent": UA.format(mac=job.mac)})
        response = conn.getresponse()
        job.status = response.status
        while True:
            chunk = response.read(CHUNK)
            if not chunk:
                break
            if not job.first_byte:
                job.first_byte = time.monotonic()
            digest.update(chunk)
            job.bytes += len(chunk)
            if throttle_bps:
                ahead = job.bytes / throttle_bps - (time.monotonic() - job.started)
                if ahead > 0:
                    time.sleep(ahead)
        job.finished = time.monotonic()
        job.sha256 = digest.hexdigest()
    except Exception as err:  # noqa: BLE001 - reported per phone
        job.error = f"{type(err).__name__}: {err}"
        job.finished = time.monotonic()
    finally:
        conn.close()


def run(args) -> int:
    os.environ["SIGNPOST_TEST_BIN"] = os.path.abspath(args.bin)
    from signpost_e2e import S3, Server, fresh_bucket_name  # noqa: E402 - needs SIGNPOST_TEST_BIN

    size = args.size_mib * MiB
    env = {"RUST_LOG": "warn", "SIGNPOST_PHONE_RATE_LIMIT": "false"}
    store, bucket = None, None
    if args.s3:
        store = S3.from_test_env()
        bucket = fresh_bucket_name()
        store.create_bucket(bucket)
        env.update(store.server_env(bucket))
    print(f"binary   {args.bin}" + ("" if "/release/" in args.bin else "   (debug build: not representative)"))
    print(f"files    {'S3 bucket ' + bucket + ' at ' + store.endpoint if store else 'local directory (embedded defaults)'}")
    print(f"phones   {args.phones}, image {args.size_mib} MiB, read {CHUNK // 1024} KiB at a time"
          + (f", each throttled to {args.throttle_mibps} MiB/s" if args.throttle_mibps else ", unthrottled"))
    try:
        with Server(env, "bench") as srv:
            pid = srv.pid
            sampler = Sampler(pid).start()
            api = srv.admin()
            api.put("/v1/tenants/bench", {"display_name": "Bench", "status": "active"})
            api.put("/v1/tenants/bench/profiles/hosted", {"setting_server": "hosted"})
            macs = [f"000413{0xA00000 + i:06X}" for i in range(args.phones)]
            for mac in macs:
                api.put(f"/v1/tenants/bench/devices/{mac}", {"profile": "hosted"})

            time.sleep(0.5)
            sampler.phase("before upload")
            base_rss = proc_status(pid)["VmRSS"]
            hwm_reset = reset_hwm(pid)

            sampler.phase("upload")
            expected = hashlib.sha256()
            t0 = time.monotonic()
            status, view = api.put_file("bench", IMAGE, image_chunks(size, args.seed, expected),
                                        content_type="application/octet-stream", length=size)
            upload_s = time.monotonic() - t0
            upload_hwm = proc_status(pid)["VmHWM"]
            expected = expected.hexdigest()
            if status != 201 or view["sha256"] != expected or view["size"] != size:
                print(f"FAIL: upload answered {status} {view}", file=sys.stderr)
                return 1

            sampler.phase("redirect")
            jobs = []
            for mac in macs:
                st, _, body = srv.phone_get(f"/snomD785-{mac}.htm")
                found = re.search(rb"<setting_server[^>]*>([^<]+)</setting_server>", body)
                if st != 200 or not found:
                    print(f"FAIL: redirect of {mac} answered {st} {body[:200]!r}", file=sys.stderr)
                    return 1
                jobs.append(Download(mac, found.group(1).decode() + IMAGE))
            if len({j.url for j in jobs}) != len(jobs):
                print("FAIL: phones were not given distinct URLs", file=sys.stderr)
                return 1

            rounds = []
            for n in range(1, args.rounds + 1):
                time.sleep(1.0)
                sampler.phase(f"before round {n}")
                before_rss = sampler.sample_now()
                reset_hwm(pid)
                for job in jobs:
                    job.__init__(job.mac, job.url)
                barrier = threading.Barrier(len(jobs) + 1)
                throttle = args.throttle_mibps * MiB
                threads = [threading.Thread(target=download, args=(j, barrier, throttle)) for j in jobs]
                for t in threads:
                    t.start()
                sampler.phase(f"round {n}")
                cpu0 = cpu_seconds(pid)
                barrier.wait()
                t0 = time.monotonic()
                for t in threads:
                    t.join()
                wall = time.monotonic() - t0
                cpu = cpu_seconds(pid) - cpu0
                hwm = proc_status(pid)["VmHWM"]
                rounds.append((n, before_rss, sampler.peak(f"round {n}"), hwm, sampler.count(f"round {n}"), wall, cpu,
                               [(j.mac, j.status, j.bytes, j.sha256, j.error, j.started - t0, j.finished - t0)
                                for j in jobs]))

            sampler.phase("after downloads")
            time.sleep(2.0)
            after_rss = sampler.sample_now()
            sampler.stop()

            # ---------------------------------------------------------------- report
            print()
            print(f"upload   {size} bytes in {upload_s:.2f} s ({size / MiB / upload_s:.0f} MiB/s), sha256 {expected[:16]}…")
            print()
            print("server memory (VmRSS of pid %d; peak = highest 100 ms sample, HWM = kernel high-water mark"
                  " since the phase began)" % pid)
            print(f"  {'baseline, before the upload':<40}{mib(base_rss)}")
            print(f"  {'peak during the upload':<40}{mib(sampler.peak('upload'))}   "
                  f"HWM {mib(upload_hwm).strip()}" + ("" if hwm_reset else " (HWM not resettable: since start)"))
            failed = 0
            for n, before_rss, peak, hwm, samples, wall, cpu, results in rounds:
                total = sum(r[2] for r in results)
                durations = sorted(r[6] - r[5] for r in results)
                last_start, first_end = max(r[5] for r in results), min(r[6] for r in results)
                bad = [r for r in results if r[4] or r[1] != 200 or r[3] != expected or r[2] != size]
                failed += len(bad)
                print(f"  {f'round {n}: idle, before the downloads':<40}{mib(before_rss)}")
                print(f"  {f'round {n}: peak during {len(results)} downloads':<40}{mib(peak)}   HWM {mib(hwm).strip()}"
                      f"   ({samples} samples)   peak - idle {mib(max(peak, hwm) - before_rss).strip()}")
                print(f"           {total} bytes ({total / MiB:.0f} MiB) in {wall:.2f} s = {total / MiB / wall:.0f} MiB/s;"
                      f" per phone min {durations[0]:.2f} / median {statistics.median(durations):.2f} /"
                      f" max {durations[-1]:.2f} s")
                print(f"           all {len(results)} in flight from {last_start:.2f} s to {first_end:.2f} s;"
                      f" server CPU {cpu:.2f} s ({100 * cpu / wall:.0f}% of one core);"
                      f" sha256 {len(results) - len(bad)}/{len(results)} match")
                for mac, status, got, digest, error, *_ in bad:
                    print(f"  FAIL {mac}: status {status}, {got} bytes, sha256 {digest[:16]} {error}", file=sys.stderr)
            print(f"  {'after the downloads (+2 s)':<40}{mib(after_rss)}")
            print(f"load average at the end: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
            return 1 if failed else 0
    finally:
        if store is not None and bucket is not None:
            with contextlib.suppress(Exception):
                store.delete_bucket(bucket)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", default=default_bin(), help="signpost binary (default: %(default)s)")
    parser.add_argument("--phones", type=int, default=20)
    parser.add_argument("--size-mib", type=int, default=100)
    parser.add_argument("--throttle-mibps", type=float, default=0.0,
                        help="cap each phone's download rate (MiB/s); 0 = as fast as possible")
    parser.add_argument("--rounds", type=int, default=2,
                        help="download rounds (a second one shows whether memory keeps growing)")
    parser.add_argument("--s3", action="store_true", help="files in a fresh bucket on SIGNPOST_TEST_S3_ENDPOINT")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if not (os.path.isfile(args.bin) and os.access(args.bin, os.X_OK)):
        parser.error(f"{args.bin} is not an executable (build it: cargo build --release -p signpost-server)")
    if args.s3 and not os.environ.get("SIGNPOST_TEST_S3_ENDPOINT"):
        parser.error("--s3 needs SIGNPOST_TEST_S3_ENDPOINT, _ACCESS_KEY, _SECRET_KEY (and _REGION)")
    started = time.monotonic()
    code = run(args)
    print(f"\n{os.path.basename(sys.argv[0])}: {'done' if code == 0 else 'FAILED'} in {time.monotonic() - started:.1f} s")
    sys.exit(code)


if __name__ == "__main__":
    main()
