#!/usr/bin/env python3
"""The Snom-compatible XML-RPC API (`/xmlrpc/`) driven the way Snom's own tooling drives it:
Python's xmlrpc.client, plus raw-bytes checks for clients that parse responses by regex.
Runs against every backend (embedded; PostgreSQL + Redis when the test run provides them).
"""

import os
import re
import sys
import time
import xmlrpc.client

sys.dont_write_bytecode = True  # leave no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from signpost_e2e import (  # noqa: E402
    Failure,
    Server,
    basic_auth,
    check,
    eq,
    for_each_backend,
    main,
    section,
)

OK = [True, "Ok"]
OWNED = [False, "Error:owned_by_other_user"]
MALFORMED_URL = [False, "Error:malformed_url"]
MALFORMED_MAC = [False, "Error:malformed_mac"]
NO_SUCH_MAC = [False, "Error:no_such_mac"]

# The exact bytes of `[True, "Ok"]`, and the regex a Go client applies to them.
OK_BODY = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b"<methodResponse><params><param><value><array><data>"
    b"<value><boolean>1</boolean></value><value><string>Ok</string></value>"
    b"</data></array></value></param></params></methodResponse>"
)
GO_CLIENT_RE = re.compile(rb"<boolean>(.*)</boolean></value><value><string>(.*)</string>")
FAULT_RE = re.compile(
    rb'\A<\?xml version="1\.0" encoding="UTF-8"\?>\n'
    rb"<methodResponse><fault><value><struct>"
    rb"<member><name>faultCode</name><value><int>(-?\d+)</int></value></member>"
    rb"<member><name>faultString</name><value><string>([^<]*)</string></value></member>"
    rb"</struct></value></fault></methodResponse>\Z"
)

URL1 = "https://pbx.acme.example/prov/{mac}.xml"
URL2 = "http://pbx2.acme.example:8080/snom?mac={mac}&model={phone_type}"
BULK_URL = "https://bulk.acme.example/{mac}"

D785_UA = "Mozilla/4.0 (compatible; snomD785-SIP 10.1.33.33 2010.12-00004-g9ba52f5 {mac} SXM:0 UXM:0)"

EMPTY_TEXT = b"<html>\n<pre>\n# signpost\n</pre>\n</html>\n"


def method_call(name: str, *params) -> bytes:
    return xmlrpc.client.dumps(params, methodname=name, allow_none=True).encode()


def proxy(srv: Server, key, path: str = "/xmlrpc/") -> xmlrpc.client.ServerProxy:
    return xmlrpc.client.ServerProxy(
        f"http://{key[0]}:{key[1]}@127.0.0.1:{srv.port}{path}", allow_none=True
    )


def expect_fault(call, code: int, what: str) -> None:
    try:
        result = call()
    except xmlrpc.client.Fault as fault:
        eq(fault.faultCode, code, f"{what}: Fault {code} ({fault.faultString})")
        return
    raise Failure(f"{what}: expected Fault {code}, got {result!r}")


def expect_401(call, what: str) -> None:
    try:
        result = call()
    except xmlrpc.client.ProtocolError as err:
        eq(err.errcode, 401, f"{what}: ProtocolError 401")
        return
    raise Failure(f"{what}: expected ProtocolError 401, got {result!r}")


def phone_text(srv: Server, mac: str) -> bytes:
    status, headers, body = srv.phone_get(f"/snomD785/snomD785.php?mac={mac}")
    eq(status, 200, f"phone GET .php?mac={mac} status")
    return body


def redirect_text(url: str) -> bytes:
    return f"<html>\n<pre>\n# signpost\nsetting_server$: {url}\n</pre>\n</html>\n".encode()


def redirect_xml(url: str) -> bytes:
    escaped = url.replace("&", "&amp;")
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<settings><phone-settings>'
        f'<setting_server perm="RW">{escaped}</setting_server></phone-settings></settings>\n'
    ).encode()


def scenario(backend: str, env: dict) -> None:
    env = dict(env, SIGNPOST_PHONE_RATE_LIMIT="false", SIGNPOST_LAST_SEEN_INTERVAL_SECONDS="1")
    with Server(env, f"xmlrpc-{backend}") as srv:
        admin = srv.admin()
        admin.put("/v1/tenants/acme", {"display_name": "Acme Telecom", "status": "active"})
        admin.put("/v1/tenants/other", {"display_name": "Other Corp", "status": "active"})
        acme_key = srv.keys_create("tenant-admin", "acme")
        other_key = srv.keys_create("tenant-admin", "other")
        reader_key = srv.keys_create("tenant-reader", "acme")
        acme = proxy(srv, acme_key)
        acme_noslash = proxy(srv, acme_key, "/xmlrpc")
        other = proxy(srv, other_key)

        section("network.echo and both paths")
        eq(acme.network.echo("hello"), "hello", "network.echo on /xmlrpc/")
        eq(acme_noslash.network.echo("hello"), "hello", "network.echo on /xmlrpc")
        value = ["a & <b>", 42, True, {"k": "v"}, ["nested"], None]
        eq(acme.network.echo(value), value, "network.echo round-trips string/int/bool/struct/array/nil")
        eq(acme_noslash.redirect.checkPhone("000413920001"), NO_SUCH_MAC, "redirect.* on /xmlrpc too")

        section("register / check / get / deregister lifecycle")
        mac = "000413922D24"
        eq(acme.redirect.checkPhone(mac), NO_SUCH_MAC, "checkPhone before register → no_such_mac")
        eq(acme.redirect.getPhoneRedirection(mac), NO_SUCH_MAC, "getPhoneRedirection before register → no_such_mac")
        eq(acme.redirect.deregisterPhone(mac), NO_SUCH_MAC, "deregisterPhone before register → no_such_mac")
        eq(phone_text(srv, mac), EMPTY_TEXT, "phone boot before register → empty document")
        eq(acme.redirect.registerPhone(mac, URL1), OK, "registerPhone → [True, 'Ok']")
        eq(acme.redirect.checkPhone(mac), OK, "checkPhone → [True, 'Ok']")
        eq(acme.redirect.getPhoneRedirection(mac), [True, "Acme Telecom", URL1], "getPhoneRedirection → company and URL")
        eq(phone_text(srv, mac), redirect_text(URL1), "phone boot (.php) sees the URL")
        eq(acme.redirect.checkPhone("00:04:13:92:2d:24"), OK, "checkPhone accepts the colon form")
        eq(acme.redirect.registerPhone(mac, URL1), OK, "registerPhone again, same URL → Ok")

        section("re-register with a new URL")
        eq(acme.redirect.registerPhone(mac, URL2), OK, "registerPhone with a new URL → Ok")
        eq(acme.redirect.getPhoneRedirection(mac), [True, "Acme Telecom", URL2], "getPhoneRedirection shows the new URL")
        eq(phone_text(srv, mac), redirect_text(URL2), "phone boot (.php) sees the new URL at once")
        status, _, body = srv.phone_get(f"/snomD785-{mac}.htm")
        eq((status, body), (200, redirect_xml(URL2)), "phone boot (.htm) sees the new URL, XML-escaped")
        device = admin.get(f"/v1/tenants/acme/devices/{mac}")
        eq((device["setting_server"], device["profile"]), (URL2, None), "REST shows the XML-RPC device")

        section("another tenant's MAC")
        eq(other.redirect.registerPhone(mac, "https://evil.example/"), OWNED, "other tenant registerPhone → owned_by_other_user")
        eq(other.redirect.checkPhone(mac), OWNED, "other tenant checkPhone → owned_by_other_user")
        eq(other.redirect.getPhoneRedirection(mac), OWNED, "other tenant getPhoneRedirection → owned_by_other_user")
        eq(other.redirect.deregisterPhone(mac), OWNED, "other tenant deregisterPhone → owned_by_other_user")
        eq(other.redirect.registerPhoneList(["000413920111", mac], "https://evil.example/"), OWNED,
           "other tenant registerPhoneList containing it → owned_by_other_user")
        eq(other.redirect.checkPhone("000413920111"), NO_SUCH_MAC, "… and nothing of that list was registered")
        eq(other.redirect.deregisterPhoneList([mac]), OWNED, "other tenant deregisterPhoneList → owned_by_other_user")
        eq(acme.redirect.getPhoneRedirection(mac), [True, "Acme Telecom", URL2], "the owner's redirection is unchanged")
        eq(phone_text(srv, mac), redirect_text(URL2), "the phone is still sent to the owner's URL")

        section("malformed MACs and URLs")
        for bad in ["nonsense", "", "00041392", "000413922D2G", "000413922D24FF", "00:04:13:92:2D"]:
            eq(acme.redirect.registerPhone(bad, URL1), MALFORMED_MAC, f"registerPhone({bad!r}) → malformed_mac")
        eq(acme.redirect.checkPhone("zz"), MALFORMED_MAC, "checkPhone('zz') → malformed_mac")
        eq(acme.redirect.getPhoneRedirection("zz"), MALFORMED_MAC, "getPhoneRedirection('zz') → malformed_mac")
        eq(acme.redirect.deregisterPhone("zz"), MALFORMED_MAC, "deregisterPhone('zz') → malformed_mac")
        for bad in ["not a url", "", "ftp://files.example/x", "https://", "https://host/{serial}", "http:///path"]:
            eq(acme.redirect.registerPhone("000413920222", bad), MALFORMED_URL, f"registerPhone(url={bad!r}) → malformed_url")
        eq(acme.redirect.checkPhone("000413920222"), NO_SUCH_MAC, "… and nothing was registered")
        eq(acme.redirect.registerPhoneList(["000413920333", "bogus"], URL1), MALFORMED_MAC,
           "registerPhoneList with one malformed MAC → malformed_mac")
        eq(acme.redirect.checkPhone("000413920333"), NO_SUCH_MAC, "… and none of the list was registered")
        eq(acme.redirect.registerPhoneList(["000413920333"], "nope"), MALFORMED_URL, "registerPhoneList bad URL → malformed_url")

        section("read-only key")
        reader = proxy(srv, reader_key)
        eq(reader.redirect.checkPhone(mac), OK, "tenant-reader checkPhone → Ok")
        reply = reader.redirect.registerPhone("000413920444", URL1)
        eq(reply[0], False, f"tenant-reader registerPhone is refused ({reply[1]})")
        eq(acme.redirect.checkPhone("000413920444"), NO_SUCH_MAC, "… and nothing was registered")

        section("listPhones")
        d785_a, d785_b, s710 = "000413920010", "000413960020", "000413740030"
        foreign = "001565AABB01"  # not a Snom block: its type is only known once it boots
        for m, url in [(d785_a, URL1), (d785_b, URL2), (s710, URL1), (foreign, URL1)]:
            eq(acme.redirect.registerPhone(m, url), OK, f"registerPhone({m})")
        d785_all = sorted([mac, d785_a, d785_b])
        eq(sorted(acme.redirect.listPhones("snomD785")), d785_all, "listPhones('snomD785') (one param)")
        eq(sorted(acme.redirect.listPhones("snomD785", None)), d785_all, "listPhones('snomD785', None) (<nil/>)")
        eq(sorted(acme.redirect.listPhones("snomD785", "")), d785_all, "listPhones('snomD785', '') = no filter")
        eq(sorted(acme.redirect.listPhones("snomD785", URL1)), [d785_a], "listPhones('snomD785', URL1)")
        eq(sorted(acme.redirect.listPhones("snomD785", URL2)), sorted([mac, d785_b]), "listPhones('snomD785', URL2)")
        eq(acme.redirect.listPhones("snom710"), [s710], "listPhones('snom710') by MAC block")
        eq(acme.redirect.listPhones("snom300"), [], "listPhones('snom300') → []")
        eq(other.redirect.listPhones("snomD785"), [], "another tenant sees none of them")
        # A booting phone teaches its type: the foreign MAC boots as a D785.
        status, _, _ = srv.phone_get("/snomD785.htm", D785_UA.format(mac=foreign))
        eq(status, 200, "the foreign-block MAC boots with a snomD785 User-Agent")
        deadline = time.monotonic() + 8
        while foreign not in acme.redirect.listPhones("snomD785") and time.monotonic() < deadline:
            time.sleep(0.25)
        eq(sorted(acme.redirect.listPhones("snomD785")), sorted(d785_all + [foreign]),
           "listPhones('snomD785') includes a MAC whose type was learned at boot")

        section("devices made over REST: profile and tenant default")
        prof_url, default_url = "https://profile.acme.example/{mac}", "https://default.acme.example/{mac}"
        admin.put("/v1/tenants/acme/profiles/desk", {"setting_server": prof_url, "extra_settings": []})
        admin.put("/v1/tenants/acme", {"display_name": "Acme Telecom", "status": "active",
                                       "default_setting_server": default_url})
        on_profile, on_default = "000413740041", "000413740042"
        admin.put(f"/v1/tenants/acme/devices/{on_profile}", {"profile": "desk", "setting_server": None, "label": "desk 1"})
        admin.put(f"/v1/tenants/acme/devices/{on_default}", {"profile": None, "setting_server": None, "label": None})
        eq(acme.redirect.checkPhone(on_profile), OK, "checkPhone of a REST device → Ok")
        eq(acme.redirect.getPhoneRedirection(on_profile), [True, "Acme Telecom", prof_url], "getPhoneRedirection → the profile's URL")
        eq(acme.redirect.getPhoneRedirection(on_default), [True, "Acme Telecom", default_url], "getPhoneRedirection → the tenant default")
        eq(sorted(acme.redirect.listPhones("snom710")), sorted([s710, on_profile, on_default]), "listPhones('snom710')")
        eq(acme.redirect.listPhones("snom710", prof_url), [on_profile], "listPhones filters by the profile's URL")
        eq(acme.redirect.listPhones("snom710", default_url), [on_default], "listPhones filters by the tenant default")
        eq(acme.redirect.registerPhone(on_profile, URL2), OK, "registerPhone of a device on a profile → Ok")
        d = admin.get(f"/v1/tenants/acme/devices/{on_profile}")
        eq((d["profile"], d["label"], d["setting_server"]), ("desk", "desk 1", URL2), "… keeps its profile and label, gets the URL")
        eq(acme.redirect.getPhoneRedirection(on_profile), [True, "Acme Telecom", URL2], "… and its own URL wins")
        admin.put("/v1/tenants/acme", {"display_name": "Acme Telecom", "status": "active", "default_setting_server": None})
        eq(acme.redirect.getPhoneRedirection(on_default), [True, "Acme Telecom", ""], "no URL at all → ''")
        eq(acme.redirect.listPhones("snom710", default_url), [], "listPhones(old default) → []")
        eq(acme.redirect.deregisterPhoneList([on_profile, on_default]), OK, "deregisterPhoneList of REST devices → Ok")
        admin.get(f"/v1/tenants/acme/devices/{on_profile}", expect=404)
        print("  ok  … and REST answers 404 for them")

        section("registerPhoneList / deregisterPhoneList with 1,000 MACs")
        bulk = [f"00041325{i:04X}" for i in range(1000)]  # 0x25: a snom300 block
        started = time.monotonic()
        eq(acme.redirect.registerPhoneList(bulk, BULK_URL), OK, "registerPhoneList(1,000 MACs) → Ok")
        print(f"      ({time.monotonic() - started:.2f}s)")
        eq(sorted(acme.redirect.listPhones("snom300")), bulk, "listPhones('snom300') returns the 1,000")
        eq(sorted(acme.redirect.listPhones("snom300", BULK_URL)), bulk, "listPhones('snom300', url) returns the 1,000")
        eq(acme.redirect.listPhones("snom300", URL1), [], "listPhones('snom300', other url) → []")
        devices = {d["mac"]: d for d in admin.get_all("/v1/tenants/acme/devices")}
        check(all(m in devices for m in bulk), "REST lists all 1,000 as devices",
              f"{sum(m not in devices for m in bulk)} missing")
        check(all(devices[m]["setting_server"] == BULK_URL for m in bulk), "… each with the XML-RPC URL")
        for m in (bulk[0], bulk[517], bulk[-1]):
            d = admin.get(f"/v1/tenants/acme/devices/{m}")
            eq((d["mac"], d["setting_server"], d["profile"], d["label"]), (m, BULK_URL, None, None), f"GET device {m}")
        eq(admin.get(f"/v1/tenants/acme/devices/{bulk[3]}/redirect")["setting_server"], BULK_URL, "REST redirect view")
        status, _, body = srv.phone_get(f"/snom300-{bulk[42]}.htm")
        eq(body, redirect_xml(BULK_URL), "a bulk-registered phone boots to the URL")
        created = admin.get_all("/v1/tenants/acme/events?action=device.create")
        targets = {e["target"] for e in created}
        check(all(f"device/{m}" in targets for m in bulk), "an audit event device.create for each of the 1,000",
              f"{sum(f'device/{m}' not in targets for m in bulk)} missing")
        sample = next(e for e in created if e["target"] == f"device/{bulk[0]}")
        check(sample["actor"] == acme_key[0], "… made by the XML-RPC key", sample)
        check((sample.get("after") or {}).get("setting_server") == BULK_URL, "… recording the URL", sample)

        eq(acme.redirect.deregisterPhoneList(bulk[:500] + ["000413259FFF"]), OK,
           "deregisterPhoneList(500 + an unknown MAC) → Ok (unknown skipped)")
        eq(sorted(acme.redirect.listPhones("snom300")), bulk[500:], "listPhones('snom300') → the other 500")
        eq(acme.redirect.deregisterPhoneList(bulk[500:]), OK, "deregisterPhoneList(the other 500) → Ok")
        eq(acme.redirect.listPhones("snom300"), [], "listPhones('snom300') → []")
        eq(acme.redirect.checkPhone(bulk[0]), NO_SUCH_MAC, "checkPhone(deregistered) → no_such_mac")
        eq(phone_text(srv, bulk[42]), EMPTY_TEXT, "a deregistered phone gets the empty document")
        deleted = admin.get_all("/v1/tenants/acme/events?action=device.delete")
        dtargets = {e["target"] for e in deleted}
        check(all(f"device/{m}" in dtargets for m in bulk), "an audit event device.delete for each of the 1,000")
        too_many = [f"0004132{i:05X}" for i in range(10_001)]
        expect_fault(lambda: acme.redirect.registerPhoneList(too_many, BULK_URL), -32602,
                     "registerPhoneList(10,001 MACs)")

        section("deregister")
        eq(acme.redirect.deregisterPhone(mac), OK, "deregisterPhone → Ok")
        eq(acme.redirect.checkPhone(mac), NO_SUCH_MAC, "checkPhone after deregister → no_such_mac")
        eq(acme.redirect.getPhoneRedirection(mac), NO_SUCH_MAC, "getPhoneRedirection after deregister → no_such_mac")
        eq(phone_text(srv, mac), EMPTY_TEXT, "phone boot after deregister → empty document")
        eq(other.redirect.registerPhone(mac, "https://other.example/"), OK, "now another tenant may register it")
        eq(other.redirect.getPhoneRedirection(mac), [True, "Other Corp", "https://other.example/"], "… and owns it")

        section("faults")
        expect_fault(lambda: acme.redirect.noSuchMethod(), -32601, "unknown method")
        expect_fault(lambda: acme.system.listMethods(), -32601, "system.listMethods (not offered)")
        expect_fault(lambda: acme.redirect.registerPhone("000413920001"), -32602, "registerPhone with 1 param")
        expect_fault(lambda: acme.redirect.checkPhone(), -32602, "checkPhone with 0 params")
        expect_fault(lambda: acme.redirect.checkPhone("a", "b"), -32602, "checkPhone with 2 params")
        expect_fault(lambda: acme.redirect.listPhones(), -32602, "listPhones with 0 params")
        expect_fault(lambda: acme.redirect.listPhones("snomD785", None, None), -32602, "listPhones with 3 params")
        expect_fault(lambda: acme.redirect.checkPhone(42), -32602, "checkPhone with an int MAC")
        expect_fault(lambda: acme.redirect.registerPhoneList("000413920001", URL1), -32602,
                     "registerPhoneList with a string instead of an array")

        section("authentication")
        expect_401(lambda: proxy(srv, (acme_key[0], acme_key[1] + "x")).network.echo("x"), "wrong secret")
        expect_401(lambda: proxy(srv, ("spk_nosuchkey", acme_key[1])).network.echo("x"), "unknown key id")
        expect_401(lambda: xmlrpc.client.ServerProxy(f"{srv.base_url}/xmlrpc/").network.echo("x"), "no credentials")
        expect_401(lambda: proxy(srv, srv.keys_create("platform-admin")).network.echo("x"), "platform-admin key")
        status, headers, _ = srv.request("POST", "/xmlrpc/", method_call("network.echo", "x"),
                                         {"Content-Type": "text/xml", "Authorization": "Basic !!!"})
        eq(status, 401, "garbage Basic header → 401")
        check(headers.get("www-authenticate", "").lower().startswith("basic"), "401 carries WWW-Authenticate: Basic",
              headers.get("www-authenticate"))

        section("raw bytes")
        auth = {"Content-Type": "text/xml", "Authorization": basic_auth(acme_key)}
        status, headers, body = srv.request("POST", "/xmlrpc/", method_call("redirect.registerPhone", "000413920555", URL1), auth)
        eq(status, 200, "raw registerPhone status 200")
        eq(body, OK_BODY, "raw [True, 'Ok'] body, byte for byte (no trailing newline)")
        eq(headers.get("content-type"), "text/xml; charset=utf-8", "Content-Type text/xml")
        m = GO_CLIENT_RE.search(body)
        check(m is not None and m.groups() == (b"1", b"Ok"), "the Go client's regex reads (1, Ok)", m and m.groups())
        status, _, body = srv.request("POST", "/xmlrpc", method_call("redirect.registerPhone", "000413920555", "x"), auth)
        m = GO_CLIENT_RE.search(body)
        check(m is not None and m.groups() == (b"0", b"Error:malformed_url"), "… and reads (0, Error:malformed_url)",
              body)
        status, headers, body = srv.request("POST", "/xmlrpc/", method_call("no.such"), auth)
        m = FAULT_RE.match(body)
        check(status == 200 and m is not None and m.group(1) == b"-32601", "raw fault body shape (faultCode, faultString)",
              body)
        eq(headers.get("content-type"), "text/xml; charset=utf-8", "fault Content-Type text/xml")
        status, _, body = srv.request("POST", "/xmlrpc/", b"<methodCall><methodName>x", auth)
        m = FAULT_RE.match(body)
        check(status == 200 and m is not None and m.group(1) == b"-32700", "truncated XML → fault -32700", body)
        status, _, body = srv.request("POST", "/xmlrpc/", b"not xml at all", auth)
        m = FAULT_RE.match(body)
        check(m is not None and m.group(1) == b"-32700", "non-XML body → fault -32700", body)
        # A spaced-out, indented call (as some clients send) is fine.
        pretty = (b'<?xml version="1.0"?>\n<methodCall>\n  <methodName>network.echo</methodName>\n  <params>\n'
                  b"    <param>\n      <value>plain</value>\n    </param>\n  </params>\n</methodCall>\n")
        status, _, body = srv.request("POST", "/xmlrpc/", pretty, auth)
        eq(xmlrpc.client.loads(body)[0][0], "plain", "indented call with an untyped <value> → echoed string")

        section("DOCTYPE / entities")
        laughs = (b'<?xml version="1.0"?>\n<!DOCTYPE lolz [\n<!ENTITY lol "lol">\n'
                  + b"".join(b'<!ENTITY lol%d "%s">\n' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
                             for i in range(1, 10))
                  + b"]>\n<methodCall><methodName>network.echo</methodName><params><param><value>"
                    b"<string>&lol9;</string></value></param></params></methodCall>")
        xxe = (b'<?xml version="1.0"?>\n<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
               b"<methodCall><methodName>network.echo</methodName><params><param><value>"
               b"<string>&xxe;</string></value></param></params></methodCall>")
        for label, payload in [("billion laughs", laughs), ("external entity", xxe)]:
            started = time.monotonic()
            status, _, body = srv.request("POST", "/xmlrpc/", payload, auth, timeout=10)
            elapsed = time.monotonic() - started
            m = FAULT_RE.match(body)
            check(status == 200 and m is not None and m.group(1) == b"-32700" and b"root:" not in body
                  and elapsed < 5, f"{label} → fault -32700 in {elapsed:.2f}s", body[:300])
        eq(acme.network.echo("still alive"), "still alive", "the server still answers")


if __name__ == "__main__":
    main(lambda: for_each_backend(scenario))
