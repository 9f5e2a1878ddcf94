#!/usr/bin/env python3
"""The load generator, briefly, against a real `signpost serve` on every backend.

Not a benchmark: it asserts nothing about speed. It checks that `signpost-loadgen` and the
server agree on every scenario, so that the figures in BENCHMARKS.md stay reproducible:

- `seed` registers a tenant, a hosted profile, the shared templates, 300 devices and their
  own settings files, and a second `seed` changes nothing;
- `redirect` (2 s, keep-alive, 5% unknown MACs, all three path forms) gets only right
  answers: every registered MAC a setting server, every unknown one the empty document;
- `boot-storm` boots every phone through redirect → `{type}.htm` → `{type}-{MAC}.htm` →
  the firmware file named in `firmware_status`, each from its own address, without an error;
- `register` posts 3,000 more devices in batches and they are all there afterwards;
- every JSON report has the fields the plots and the comparison script read, and `plot`
  draws two of them into one SVG.

The loadgen binary sits next to SIGNPOST_TEST_BIN (tests/run.sh builds every binary).
"""

import json
import os
import subprocess
import tempfile

from signpost_e2e import Rest, Server, binary, check, eq, for_each_backend, main, section

DEVICES = 300
REGISTERED = 3000


def loadgen() -> str:
    path = os.path.join(os.path.dirname(binary()), "signpost-loadgen")
    check(os.access(path, os.X_OK), f"{path} is built", "cargo build --workspace --bins --tests")
    return path


def run(args: list[str], env: dict, what: str) -> str:
    done = subprocess.run(
        [loadgen(), *args], env=env, capture_output=True, text=True, timeout=300
    )
    if done.returncode != 0:
        print(done.stdout, done.stderr)
    eq(done.returncode, 0, what)
    return done.stdout + done.stderr


def report(path: str) -> dict:
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    for field in ("scenario", "label", "ok", "errors", "errors_by_kind", "throughput_per_s",
                  "latency_ms", "histogram", "timeline", "server"):
        check(field in data, f"{os.path.basename(path)} has `{field}`")
    for field in ("p50", "p90", "p99", "p999", "max"):
        check(field in data["latency_ms"], f"latency has {field}")
    return data


# Eight keep-alive connections send far more than the default 200 requests per second per
# address, and unknown MACs on purpose: limits as the benchmarks set them (still enforced,
# so their cost is part of the path).
BENCH_LIMITS = {
    "SIGNPOST_PHONE_RATE_BURST": "1000000",
    "SIGNPOST_PHONE_RATE_PER_SECOND": "1000000",
    "SIGNPOST_PHONE_MISS_BURST": "1000000",
    "SIGNPOST_PHONE_MISS_PER_MINUTE": "1000000",
}


def smoke(backend: str, env: dict) -> None:
    out = tempfile.mkdtemp(prefix="signpost-loadgen-")
    with Server({**env, **BENCH_LIMITS}, f"loadgen-{backend}") as srv:
        key = json.loads(srv.run_command("keys", "create", "--role", "platform-admin", "--json").stdout)
        gen_env = {
            "PATH": os.environ.get("PATH", ""),
            "LOADGEN_KEY_ID": key["id"],
            "LOADGEN_KEY_SECRET": key["secret"],
        }
        target = ["--target", srv.base_url]
        watch = ["--watch-pid", str(srv.pid)]

        section(f"{backend}: seed")
        seed = ["seed", *target, "--devices", str(DEVICES), "--mac-files", str(DEVICES)]
        run(seed, gen_env, "seed: tenant, profile, templates, devices and phone files")
        second = run(seed, gen_env, "seed a second time (idempotent)")
        check("registered" in second, "seed reports the registration", second)

        section(f"{backend}: redirect")
        path = os.path.join(out, "redirect.json")
        run(["redirect", *target, *watch, "--devices", str(DEVICES), "--connections", "8",
             "--duration", "2", "--warmup", "0.5", "--unknown", "0.05", "--paths", "php,htm,agent",
             "--json", path, "--fail-on-error"], gen_env, "redirect: 2 s without a wrong answer")
        redirect = report(path)
        eq(redirect["errors"], 0, "redirect errors")
        check(redirect["ok"] > 100, "redirect answered requests", redirect["ok"])
        check(redirect["server"]["cpu_seconds"] > 0, "the server's CPU was watched", redirect["server"])
        check(len(redirect["timeline"]) >= 2, "a timeline of 2 seconds", redirect["timeline"])
        check("wake_late_ms" in redirect["timeline"][0], "the machine probe's figure per second",
              redirect["timeline"][0])
        check(redirect["machine"]["worst_wake_ms"] >= 0, "the machine probe watched the run",
              redirect.get("machine"))
        check("server_cpu_pct" in redirect["timeline"][0], "the server's CPU per second",
              redirect["timeline"][0])
        best, worst_second = redirect["machine"]["fixed_work_us"]
        check(0 < best <= worst_second, "the probe timed its fixed work", redirect["machine"])
        best, worst_second = redirect["machine"]["memory_ns"]
        check(0 < best <= worst_second, "the probe walked through memory", redirect["machine"])

        section(f"{backend}: boot-storm")
        path = os.path.join(out, "boot.json")
        run(["boot-storm", *target, *watch, "--devices", str(DEVICES), "--concurrency", "32",
             "--json", path, "--fail-on-error"], gen_env, "boot-storm: every phone boots")
        boot = report(path)
        eq((boot["ok"], boot["errors"]), (DEVICES, 0), "boots completed, errors")
        for step in ("redirect", "general", "phone", "firmware"):
            check(f"p99 {step}" in boot["settings"], f"per-step p99 of {step}", boot["settings"])

        section(f"{backend}: register")
        path = os.path.join(out, "register.json")
        run(["register", *target, *watch, "--devices", str(REGISTERED), "--first-mac", "000420000000",
             "--batch", "500", "--concurrency", "3", "--json", path, "--fail-on-error"], gen_env,
            "register: 3,000 devices in batches of 500")
        registered = report(path)
        eq((registered["ok"], registered["errors"]), (REGISTERED // 500, 0), "batches ok, errors")
        check(registered["units_per_s"] > 0, "devices per second reported")
        api = Rest(srv.port, key["id"], key["secret"])
        devices = api.get_all("/v1/tenants/bench/devices")
        eq(len(devices), DEVICES + REGISTERED, "devices in the tenant after seed and register")

        section(f"{backend}: machine")
        idle = run(["machine", "--duration", "2"], gen_env, "machine: the probe alone for 2 s")
        check("second   2:" in idle and "worst wake-up" in idle and "ns a load" in idle,
              "a line per second and a summary, with the memory walk", idle)

        section(f"{backend}: plot")
        svg = os.path.join(out, "two.svg")
        run(["plot", "--out", svg, "--title", "smoke", os.path.join(out, "redirect.json"),
             os.path.join(out, "boot.json")], gen_env, "plot two reports")
        with open(svg, encoding="utf-8") as f:
            drawing = f.read()
        check(drawing.startswith("<svg") and drawing.rstrip().endswith("</svg>"), "an SVG document")


if __name__ == "__main__":
    main(lambda: for_each_backend(smoke))
