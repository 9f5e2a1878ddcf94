#!/usr/bin/env python3
"""A scripted Snom phone booting against Signpost: every way a phone asks (legacy
`.php?mac=`, `{type}.htm` with the MAC only in the User-Agent, `{type}-{MAC}.htm`), every
kind of answer (device URL, profile with extra settings, tenant default, and the "no" cases
that must be byte-identical), last-seen learned from the User-Agent, and the per-source
rate limit. Runs against every backend (embedded; PostgreSQL + Redis when the test run
provides them).
"""

import os
import sys
import time

sys.dont_write_bytecode = True  # leave no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from signpost_e2e import Failure, Server, check, eq, for_each_backend, main, section, wait_for  # noqa: E402

XML_TYPE = "text/xml; charset=utf-8"
TEXT_TYPE = "text/plain; charset=utf-8"
EMPTY_XML = b'<?xml version="1.0" encoding="utf-8"?>\n<settings><phone-settings></phone-settings></settings>\n'
EMPTY_TEXT = b"<html>\n<pre>\n# signpost\n</pre>\n</html>\n"

# Real User-Agents (their MACs are the phones' own).
UA_D785 = "Mozilla/4.0 (compatible; snomD785-SIP 10.1.33.33 2010.12-00004-g9ba52f5 000413922D24 SXM:0 UXM:0)"
UA_710 = "Mozilla/4.0 (compatible; snom710-SIP 8.7.5.35 1.1.5-IFX-05.01.12 000413741767)"
UA_320_NO_MAC = "Mozilla/4.0 (compatible; snom320-SIP 8.4.18 1.1.3-s)"
UA_M900 = "Mozilla/4.0 (compatible; Snom M900 05.20.0001 000413b60680)"
UA_D785_DATED = (
    "Mozilla/4.0 (compatible; snomD785-SIP 10.1.169.16 2010.12-00001-gd311851f1 "
    "(Feb 25 2019 - 14:19:43) 00041396D9B4 SXM:0 UXM:0 UXMC:0)"
)
UA_D785_TEMPLATE = "Mozilla/4.0 (compatible; snomD785-SIP 10.1.33.33 2010.12-00004-g9ba52f5 {mac} SXM:0 UXM:0)"

REG = "000413922D24"  # device with its own URL (boots with UA_D785)
PROF = "000413741767"  # device on a profile with extra settings (UA_710)
DEF = "00041396D9B4"  # device with neither: the tenant default (UA_D785_DATED)
UNREG = "000413B60680"  # never registered (UA_M900)
NOURL = "000413250001"  # device of a tenant without default, no profile, no URL
REPOINT = "000413920001"
DELETED = "000413920002"
SUSP = "000413920003"  # in the tenant that gets suspended
LATE = "000413920004"  # asked for before it is registered (negative cache)
GONE = "000413920005"  # its tenant is deleted

REG_URL = "https://prov.acme.example/{mac}/cfg?a=1&b=2"
PROF_URL = "http://pbx.acme.example:8080/prov/{phone_type}/{mac}.xml"
DEFAULT_URL = "https://default.acme.example/snom?m={mac}&fw={firmware_version}"
REPOINT_URL1 = "https://one.acme.example/{mac}"
REPOINT_URL2 = "https://two.acme.example/{mac}?x=<y>&z=\"q\""  # must be rejected or escaped
REPOINT_URL2_OK = "https://two.acme.example/{mac}?x=1&z=2"
FROZEN_URL = "https://frozen.example/{mac}"
LATE_URL = "https://late.acme.example/{mac}"

EXTRA = [
    {"name": "update_policy", "value": "auto_update", "perm": "read-only"},
    {"name": "language", "value": "Deutsch", "perm": "read-write"},
    {"name": "user_realname", "idx": 1, "value": "Alice & Bob <Sales>", "perm": "remain"},
]
EXTRA_XML = (
    '<update_policy perm="R">auto_update</update_policy>'
    '<language perm="RW">Deutsch</language>'
    '<user_realname idx="1" perm="!">Alice &amp; Bob &lt;Sales&gt;</user_realname>'
)
EXTRA_TEXT = "update_policy&: auto_update\nlanguage$: Deutsch\nuser_realname1!: Alice & Bob <Sales>\n"


def xml_doc(url: str, extra: str = "") -> bytes:
    escaped = url.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<settings><phone-settings>'
        f'<setting_server perm="RW">{escaped}</setting_server>{extra}</phone-settings></settings>\n'
    ).encode()


def text_doc(url: str, extra: str = "") -> bytes:
    return f"<html>\n<pre>\n# signpost\nsetting_server$: {url}\n{extra}</pre>\n</html>\n".encode()


def ua_for(mac: str) -> str:
    return UA_D785_TEMPLATE.format(mac=mac)


def ways(mac: str, ua: str | None = None, phone_type: str = "snomD785"):
    """The three ways a phone asks: (label, path, User-Agent, format)."""
    ua = ua or ua_for(mac)
    return [
        ("php", f"/{phone_type}/{phone_type}.php?mac={mac}", None, "text"),
        ("htm+UA", f"/{phone_type}.htm", ua, "xml"),
        ("htm-MAC", f"/{phone_type}-{mac}.htm", None, "xml"),
    ]


class Phone:
    """Boots through one server and remembers every empty answer, to compare them."""

    def __init__(self, srv: Server):
        self.srv = srv
        self.no_answers = {"xml": set(), "text": set()}
        self.no_cases = 0

    def boot(self, label: str, path: str, ua: str | None, fmt: str, expected: bytes) -> None:
        """GET and HEAD one path; both must be 200, no-store, the format's type; GET's body
        must be `expected`, HEAD's empty."""
        status, headers, body = self.srv.phone_get(path, ua)
        content_type = XML_TYPE if fmt == "xml" else TEXT_TYPE
        ok = (
            status == 200
            and body == expected
            and headers.get("content-type") == content_type
            and headers.get("cache-control") == "no-store"
        )
        check(ok, f"{label}: GET {path}{' (UA)' if ua else ''}",
              f"status {status}, type {headers.get('content-type')!r}, cache {headers.get('cache-control')!r},"
              f"\n      expected body {expected!r}\n      actual body   {body!r}")
        h_status, h_headers, h_body = self.srv.phone_get(path, ua, method="HEAD")
        check(
            h_status == status and h_body == b""
            and h_headers.get("content-type") == content_type
            and h_headers.get("cache-control") == "no-store"
            and h_headers.get("content-length", str(len(body))) == str(len(body)),
            f"{label}: HEAD {path} → {h_status}, no body, same headers",
            f"status {h_status}, body {h_body[:100]!r}, headers {h_headers}",
        )
        if expected in (EMPTY_XML, EMPTY_TEXT):
            self.no_answers[fmt].add((body, headers.get("content-type"), headers.get("content-length")))
            self.no_cases += 1

    def redirected(self, name: str, mac: str, url: str, ua: str | None = None, phone_type: str = "snomD785",
                   extra_xml: str = "", extra_text: str = "") -> None:
        for label, path, agent, fmt in ways(mac, ua, phone_type):
            expected = xml_doc(url, extra_xml) if fmt == "xml" else text_doc(url, extra_text)
            self.boot(f"{name} [{label}]", path, agent, fmt, expected)

    def nothing(self, name: str, mac: str, ua: str | None = None, phone_type: str = "snomD785") -> None:
        for label, path, agent, fmt in ways(mac, ua, phone_type):
            self.boot(f"{name} [{label}]", path, agent, fmt, EMPTY_XML if fmt == "xml" else EMPTY_TEXT)


def boots(backend: str, env: dict) -> None:
    env = dict(env, SIGNPOST_PHONE_RATE_LIMIT="false", SIGNPOST_LAST_SEEN_INTERVAL_SECONDS="1")
    with Server(env, f"phone-{backend}") as srv:
        api = srv.admin()
        api.put("/v1/tenants/acme", {"display_name": "Acme", "status": "active", "default_setting_server": DEFAULT_URL})
        api.put("/v1/tenants/bare", {"display_name": "Bare", "status": "active", "default_setting_server": None})
        api.put("/v1/tenants/frozen", {"display_name": "Frozen", "status": "active"})
        api.put("/v1/tenants/acme/profiles/desk", {"setting_server": PROF_URL, "extra_settings": EXTRA})
        api.put(f"/v1/tenants/acme/devices/{REG}", {"profile": None, "setting_server": REG_URL, "label": "reception"})
        api.put(f"/v1/tenants/acme/devices/{PROF}", {"profile": "desk", "setting_server": None, "label": None})
        api.put(f"/v1/tenants/acme/devices/{DEF}", {"profile": None, "setting_server": None, "label": "default"})
        api.put(f"/v1/tenants/bare/devices/{NOURL}", {"profile": None, "setting_server": None, "label": None})
        api.put(f"/v1/tenants/acme/devices/{REPOINT}", {"profile": None, "setting_server": REPOINT_URL1, "label": None})
        api.put(f"/v1/tenants/acme/devices/{DELETED}", {"profile": None, "setting_server": REG_URL, "label": None})
        api.put(f"/v1/tenants/frozen/devices/{SUSP}", {"profile": None, "setting_server": FROZEN_URL, "label": None})
        phone = Phone(srv)

        section("redirected phones")
        phone.redirected("device URL", REG, REG_URL, UA_D785)
        phone.redirected("profile + extra settings", PROF, PROF_URL, UA_710, "snom710", EXTRA_XML, EXTRA_TEXT)
        phone.redirected("tenant default", DEF, DEFAULT_URL, UA_D785_DATED)
        # The DECT handset's UA spells its MAC in lower case.
        phone.nothing("unregistered (DECT UA)", UNREG, UA_M900, "snomM900")

        section("not redirected")
        phone.nothing("device without URL, tenant without default", NOURL)
        phone.nothing("never registered", "000413AABBCC")
        phone.nothing("non-Snom MAC", "001565000001")
        phone.boot("no MAC (snom320 UA)", "/snom320.htm", UA_320_NO_MAC, "xml", EMPTY_XML)
        phone.boot("no MAC, no UA", "/snomD785.htm", None, "xml", EMPTY_XML)
        phone.boot("no MAC, browser UA", "/snomD785.htm", "Mozilla/5.0 (X11; Linux x86_64)", "xml", EMPTY_XML)
        phone.boot("no mac parameter", "/snom320/snom320.php", UA_320_NO_MAC, "text", EMPTY_TEXT)
        phone.boot("malformed mac parameter", "/snomD785/snomD785.php?mac=nonsense", None, "text", EMPTY_TEXT)
        phone.boot("repeated mac parameter", "/snomD785/snomD785.php?mac=000413AABBCC&mac=", None, "text", EMPTY_TEXT)
        phone.boot("empty mac parameter", "/snomD785/snomD785.php?mac=", None, "text", EMPTY_TEXT)

        section("re-pointed via REST")
        phone.redirected("before", REPOINT, REPOINT_URL1)
        status, _ = api.call("PUT", f"/v1/tenants/acme/devices/{REPOINT}",
                             {"profile": None, "setting_server": REPOINT_URL2, "label": None}, expect=(200, 400, 422))
        if status == 200:
            phone.redirected("after (URL with <, >, \")", REPOINT, REPOINT_URL2)
        else:
            print(f"      (a URL with <, > and \" was refused by REST with {status})")
        api.put(f"/v1/tenants/acme/devices/{REPOINT}", {"profile": None, "setting_server": REPOINT_URL2_OK, "label": None})
        phone.redirected("after", REPOINT, REPOINT_URL2_OK)
        api.put(f"/v1/tenants/acme/devices/{REPOINT}", {"profile": "desk", "setting_server": None, "label": None})
        phone.redirected("moved onto the profile", REPOINT, PROF_URL, extra_xml=EXTRA_XML, extra_text=EXTRA_TEXT)
        api.put("/v1/tenants/acme/profiles/desk", {"setting_server": REPOINT_URL1, "extra_settings": []})
        phone.redirected("profile changed", REPOINT, REPOINT_URL1)
        api.put("/v1/tenants/acme/profiles/desk", {"setting_server": PROF_URL, "extra_settings": EXTRA})

        section("registered after a miss")
        phone.nothing("not yet registered", LATE)
        api.put(f"/v1/tenants/acme/devices/{LATE}", {"profile": None, "setting_server": LATE_URL, "label": None})
        phone.redirected("registered", LATE, LATE_URL)

        section("deleted")
        phone.redirected("before delete", DELETED, REG_URL)
        api.delete(f"/v1/tenants/acme/devices/{DELETED}")
        phone.nothing("after delete", DELETED)

        section("suspended tenant")
        phone.redirected("active tenant", SUSP, FROZEN_URL)
        api.put("/v1/tenants/frozen", {"display_name": "Frozen", "status": "suspended"})
        phone.nothing("suspended tenant", SUSP)
        api.put("/v1/tenants/frozen", {"display_name": "Frozen", "status": "active"})
        phone.redirected("reactivated tenant", SUSP, FROZEN_URL)

        section("tenant deleted")
        api.put("/v1/tenants/gone", {"display_name": "Gone", "status": "active"})
        api.put(f"/v1/tenants/gone/devices/{GONE}", {"profile": None, "setting_server": FROZEN_URL, "label": None})
        phone.redirected("before the tenant is deleted", GONE, FROZEN_URL)
        api.delete("/v1/tenants/gone?force=true")
        phone.nothing("tenant deleted with force", GONE)

        section("tenant default changed")
        api.put("/v1/tenants/acme", {"display_name": "Acme", "status": "active", "default_setting_server": LATE_URL})
        phone.redirected("new default", DEF, LATE_URL, UA_D785_DATED)
        api.put("/v1/tenants/acme", {"display_name": "Acme", "status": "active", "default_setting_server": None})
        phone.nothing("default removed", DEF, UA_D785_DATED)

        section("every \"no\" is the same document")
        for fmt in ("xml", "text"):
            answers = phone.no_answers[fmt]
            check(len(answers) == 1, f"{fmt}: every empty answer is byte-identical (incl. Content-Type/-Length)",
                  answers)
        print(f"      ({phone.no_cases} empty answers compared)")

        section("unknown paths")
        for path in ["/snom.D785.htm", "/snomD785-.htm", "/snomD785-0004.htm", "/snomD785/snom710.php?mac=" + REG, "/snomD785.xml"]:
            status, _, body = srv.phone_get(path, UA_D785)
            check(status == 404 and REG_URL.encode() not in body, f"GET {path} → 404", f"{status} {body[:200]!r}")

        section("last seen")
        # Sightings are kept once per MAC per flush interval (1 s): let the boots above be
        # written, then boot each phone once more with its own User-Agent.
        time.sleep(1.5)
        api.put("/v1/tenants/acme", {"display_name": "Acme", "status": "active", "default_setting_server": DEFAULT_URL})
        fresh = [(REG, "/snomD785.htm", UA_D785, "snomD785", "10.1.33.33"),
                 (PROF, f"/snom710-{PROF}.htm", UA_710, "snom710", "8.7.5.35"),
                 (DEF, f"/snomD785/snomD785.php?mac={DEF}", UA_D785_DATED, "snomD785", "10.1.169.16")]
        before = time.time()
        for mac, path, ua, _, _ in fresh:
            status, _, _ = srv.phone_get(path, ua)
            eq(status, 200, f"boot {mac} with its own User-Agent")
        for mac, _, ua, phone_type, firmware in fresh:
            def seen_with_this_agent(mac=mac, ua=ua):
                device = api.get(f"/v1/tenants/acme/devices/{mac}")
                return device if (device.get("last_seen") or {}).get("user_agent") == ua else None

            device = wait_for(f"last_seen of {mac} with its User-Agent", seen_with_this_agent)
            seen = device["last_seen"]
            eq(device["phone_type"], phone_type, f"{mac}: phone_type learned from the User-Agent")
            eq(seen["firmware_version"], firmware, f"{mac}: last_seen.firmware_version")
            eq(seen["user_agent"], ua, f"{mac}: last_seen.user_agent")
            eq(seen["source_address"], "127.0.0.1", f"{mac}: last_seen.source_address")
            check(bool(seen["at"]), f"{mac}: last_seen.at = {seen['at']}")
        listed = api.get_all("/v1/tenants/acme/devices?phone_type=snomD785")
        # (Other MACs booted above with a D785 User-Agent may have been learned too, depending
        # on which of their boots fell first in a flush interval.)
        check({REG, DEF} <= {d["mac"] for d in listed} and PROF not in {d["mac"] for d in listed}
              and all(d["phone_type"] == "snomD785" for d in listed),
              "REST filter phone_type=snomD785", [(d["mac"], d["phone_type"]) for d in listed])
        never = api.get_all("/v1/tenants/acme/devices?never_seen=true")
        check(REG not in {d["mac"] for d in never}, "REST never_seen=true leaves out booted phones")
        seen_since = api.get_all(f"/v1/tenants/acme/devices?seen_since={int((before - 5) * 1000)}")
        check({REG, PROF, DEF} <= {d["mac"] for d in seen_since}, "REST seen_since lists the booted phones")


def rate_limits(backend: str, env: dict) -> None:
    if "SIGNPOST_REDIS_PREFIX" in env:  # fresh buckets, same database
        env = dict(env, SIGNPOST_REDIS_PREFIX=env["SIGNPOST_REDIS_PREFIX"] + "rl:")
    env = dict(env, SIGNPOST_PHONE_MISS_BURST="5", SIGNPOST_PHONE_MISS_PER_MINUTE="1")
    env.pop("SIGNPOST_PHONE_RATE_LIMIT", None)
    with Server(env, f"ratelimit-{backend}") as srv:
        section("rate limit (miss burst 5, 1 per minute)")
        api = srv.admin()
        api.put("/v1/tenants/limited", {"display_name": "Limited", "status": "active"})
        mac = "000413920777"
        api.put(f"/v1/tenants/limited/devices/{mac}", {"profile": None, "setting_server": REG_URL, "label": None})
        for i in range(3):
            status, _, body = srv.phone_get(f"/snomD785-{mac}.htm")
            eq((status, body), (200, xml_doc(REG_URL)), f"registered MAC, hit {i + 1} (hits cost no misses)")
        for i in range(5):
            status, _, body = srv.phone_get(f"/snomD785-00041399{i:04X}.htm")
            eq((status, body), (200, EMPTY_XML), f"unknown MAC lookup {i + 1}/5 → empty document")
        status, headers, body = srv.phone_get("/snomD785-0004139900FF.htm")
        retry = headers.get("retry-after", "")
        check(status == 429 and retry.isdigit() and 1 <= int(retry) <= 60,
              f"6th unknown MAC → 429, Retry-After {retry}", f"{status} {headers} {body!r}")
        eq(headers.get("cache-control"), "no-store", "429 carries Cache-Control: no-store")
        status, headers, _ = srv.phone_get(f"/snomD785-{mac}.htm")
        check(status == 429 and headers.get("retry-after", "").isdigit(),
              "registered MAC from the same source → 429 too", f"{status} {headers}")
        status, _, _ = srv.phone_get(f"/snomD785/snomD785.php?mac={mac}")
        eq(status, 429, "… on the legacy path as well")
        status, _, _ = srv.phone_get("/snomD785.htm", ua_for(mac), method="HEAD")
        eq(status, 429, "… and for HEAD")
        eq(srv.request("GET", "/readyz")[0], 200, "the rest of the service still answers (/readyz)")
        eq(api.get("/v1/tenants/limited")["display_name"], "Limited", "… and /v1 is not limited")


def replicas(backend: str, env: dict) -> None:
    """Two replicas on the same PostgreSQL and Redis: a change made through one is what the
    other tells the next booting phone, although it had the old answer cached."""
    env = dict(env, SIGNPOST_PHONE_RATE_LIMIT="false")
    with Server(env, f"replica-a-{backend}") as a, Server(env, f"replica-b-{backend}") as b:
        section("two replicas (invalidation through Redis)")
        api = a.admin()
        api.put("/v1/tenants/multi", {"display_name": "Multi", "status": "active"})
        mac = "000413920999"
        url1, url2 = "https://r1.multi.example/{mac}", "https://r2.multi.example/{mac}?a=1&b=2"
        phone_b = Phone(b)

        def settle(mac: str, expected: bytes) -> None:
            """Replica B learns of A's write over the Redis channel, asynchronously: allow it a
            moment (it normally takes a few milliseconds), then check every way."""
            started = time.monotonic()
            wait_for(f"replica B to answer {expected!r}", lambda: b.phone_get(f"/snomD785-{mac}.htm")[2] == expected, 3)
            print(f"      (replica B converged after {(time.monotonic() - started) * 1000:.0f} ms)")
        phone_b.nothing("replica B, before registration", mac)
        api.put(f"/v1/tenants/multi/devices/{mac}", {"profile": None, "setting_server": url1, "label": None})
        settle(mac, xml_doc(url1))
        phone_b.redirected("replica B after registration on A", mac, url1)
        api.put(f"/v1/tenants/multi/devices/{mac}", {"profile": None, "setting_server": url2, "label": None})
        settle(mac, xml_doc(url2))
        phone_b.redirected("replica B after re-pointing on A", mac, url2)
        api.put("/v1/tenants/multi", {"display_name": "Multi", "status": "suspended"})
        settle(mac, EMPTY_XML)
        phone_b.nothing("replica B after suspending on A", mac)
        api.put("/v1/tenants/multi", {"display_name": "Multi", "status": "active"})
        settle(mac, xml_doc(url2))
        phone_b.redirected("replica B after reactivating on A", mac, url2)
        api.delete(f"/v1/tenants/multi/devices/{mac}")
        settle(mac, EMPTY_XML)
        phone_b.nothing("replica B after deleting on A", mac)


def scenario(backend: str, env: dict) -> None:
    boots(backend, env)
    if "SIGNPOST_REDIS_URL" in env:
        replicas(backend, env)
    rate_limits(backend, env)


if __name__ == "__main__":
    main(lambda: for_each_backend(scenario))
