#!/usr/bin/env python3
"""Hosted setting and firmware files, end to end: a scripted Snom D785 is redirected to
Signpost's own per-device URL (`{base}/p/{tenant}/{token}/`), then fetches what a real phone
fetches there, in order: `snomD785.htm`, `snomD785-{MAC}.htm`, the firmware XML named by its
`firmware_status` setting, and the firmware image it lists (whole, in two ranges, and
revalidated with 304). A second phone gets its own URL and none of the first phone's
MAC-specific file, whichever way it asks; every refusal (bad token, another tenant's token,
another MAC's file, missing file, rotated token) is the same bare 404; rotating the tokens
kills the old URLs and the next redirect hands out working new ones; replacing the image
through the API is what the next download gets. Also: `max_file_bytes` and
`file_quota_bytes` (declared sizes refused before the body is sent, chunked bodies cut off),
and one stored blob per file at the end (replaced, refused and deleted bodies are gone).

Runs on every backend: embedded (SQLite, files in the data directory, in-process cache) and,
when the test run provides them, PostgreSQL + Redis + S3 (a fresh bucket on the s3s-fs of
tests/run.sh). With SIGNPOST_TEST_REQUIRE_BACKENDS=1 a missing backend is a failure. On
that backend two replicas also share one database, Redis and bucket: what one replica
cached (a file, a template, "no such file") gives way to a change made through the other.

Absolute URLs and per-device tokens. A phone needs absolute URLs in `firmware_status` and in
the firmware XML, and the only absolute URL that works for a hosted phone contains its
device token, which is per MAC, and which the admin learns only from the redirect. Templates
fill in `{mac}`, `{phone_type}` and `{firmware_version}`, not the phone's own hosted base, so
no file can be written once for every phone. This script therefore does what an admin must
do today: it boots the phone (learning its URL from the redirect) and then uploads the files
that hold URLs. `firmware_status` goes into the MAC-specific `snomD785-{MAC}.htm` rather than
into the shared `snomD785.htm`: in the shared file it would hand the first phone's token to
every phone of the tenant. The shared `snomD785.htm` is a template instead, to check the
placeholders. The firmware XML is shared (one per model is how Snom lays it out), so it
necessarily holds the token URL of the phone it was written for, and after a token rotation
the URL-bearing files must be uploaded again (both shown below).
"""

import hashlib
import os
import re
import sys
import time
import urllib.parse
import xml.etree.ElementTree as ET

sys.dont_write_bytecode = True  # leave no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import http.client  # noqa: E402
import json  # noqa: E402
import socket  # noqa: E402

from signpost_e2e import S3, Failure, Server, check, eq, for_each_backend, main, section, wait_for  # noqa: E402

UA = "Mozilla/4.0 (compatible; snomD785-SIP 10.1.33.33 2010.12-00004-g9ba52f5 {mac} SXM:0 UXM:0)"
MAC_A = "000413922D24"  # the phone that boots all the way
MAC_B = "000413922D25"  # its neighbour on the same profile
MAC_C = "000413922D26"  # a phone of another hosted tenant (tenant default, no profile)
MAC_D = "000413922D27"  # the phone of the two-replica check
UA_A, UA_B, UA_C, UA_D = (UA.format(mac=m) for m in (MAC_A, MAC_B, MAC_C, MAC_D))

IMAGE = "firmware/snomD785-10.1.54.13-SIP-r.bin"
FIRMWARE_XML = "firmware/snomD785-fw.xml"
IMAGE_BYTES = 5 * 1024 * 1024 + 12345  # ~5 MiB, odd so the ranges do not split evenly

SHARED_TEMPLATE = (
    '<?xml version="1.0" encoding="utf-8"?>\n<settings><phone-settings>'
    '<phone_name perm="RW">{phone_type}-{mac}</phone_name>'
    '<utc_offset perm="RW">3600</utc_offset>'
    '<firmware_interval perm="RW">1440</firmware_interval>'
    '<!-- seen with firmware {firmware_version}; {unknown} and {MAC} stay as they are -->'
    "</phone-settings></settings>\n"
)

TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{30}")

MiB = 1024 * 1024
MAX_FILE_BYTES = 8 * MiB  # SIGNPOST_MAX_FILE_BYTES for this script's servers
QUOTA_BYTES = 12 * MiB  # SIGNPOST_FILE_QUOTA_BYTES


def rendered_template(mac: str) -> bytes:
    return (
        SHARED_TEMPLATE.replace("{phone_type}", "snomD785")
        .replace("{mac}", mac)
        .replace("{firmware_version}", "10.1.33.33")
        .encode()
    )


def mac_settings(base: str, name: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<settings><phone-settings>'
        f'<user_realname idx="1" perm="RW">{name}</user_realname>'
        f'<firmware_status perm="RW">{base}{FIRMWARE_XML}</firmware_status>'
        "</phone-settings></settings>\n"
    ).encode()


def firmware_xml(base: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<firmware-settings>'
        f'<firmware perm="">{base}{IMAGE}</firmware>'
        "</firmware-settings>\n"
    ).encode()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# Headers that differ between any two responses by nature.
VOLATILE = {"date", "x-request-id"}


class Answer:
    """One response, with its headers in the order sent."""

    def __init__(self, status: int, reason: str, headers: list, body: bytes):
        self.status, self.reason, self.header_list, self.body = status, reason, headers, body
        self.headers = {k.lower(): v for k, v in headers}

    def shape(self) -> tuple:
        """Everything the client sees but the volatile headers."""
        fixed = tuple((k.lower(), v) for k, v in self.header_list if k.lower() not in VOLATILE)
        return self.status, self.reason, fixed, self.body

    def __repr__(self) -> str:
        return f"<{self.status} {self.reason} {self.headers} {self.body[:120]!r}>"


class SnomPhone:
    """A phone with one MAC and its real User-Agent, talking to one server."""

    def __init__(self, srv: Server, mac: str, ua: str):
        self.srv, self.mac, self.ua = srv, mac, ua

    def get(self, url_or_path: str, headers: dict | None = None, method: str = "GET") -> Answer:
        """GET an absolute URL (it must point at this server) or a path."""
        parts = urllib.parse.urlsplit(url_or_path)
        if parts.scheme:
            if parts.scheme != "http" or parts.netloc != f"127.0.0.1:{self.srv.port}":
                raise Failure(f"URL {url_or_path!r} does not point at the server on port {self.srv.port}")
            target = parts.path + (f"?{parts.query}" if parts.query else "")
        else:
            target = url_or_path
        all_headers = {"User-Agent": self.ua}
        all_headers.update(headers or {})
        all_headers = {k: v for k, v in all_headers.items() if v is not None}  # None: not sent
        conn = http.client.HTTPConnection("127.0.0.1", self.srv.port, timeout=30)
        try:
            conn.request(method, target, headers=all_headers)
            response = conn.getresponse()
            body = response.read()
            return Answer(response.status, response.reason, response.getheaders(), body)
        finally:
            conn.close()

    def redirect(self) -> str:
        """Asks for its setting server every way a Snom asks; all must agree. Answers it."""
        urls = {}
        for label, path, ua in (
            ("htm+UA", "/snomD785.htm", self.ua),
            ("htm-MAC", f"/snomD785-{self.mac}.htm", None),
            ("php", f"/snomD785/snomD785.php?mac={self.mac}", None),
        ):
            answer = self.get(path, {"User-Agent": ua})  # the MAC is in the path: no UA
            url = None
            if answer.status == 200 and label == "php":
                found = re.search(rb"^setting_server\$: (\S+)$", answer.body, re.M)
                url = found and found.group(1).decode()
            elif answer.status == 200:
                url = ET.fromstring(answer.body).findtext("./phone-settings/setting_server")
            check(bool(url), f"{self.mac} redirect [{label}] GET {path} → 200 with a setting server", answer)
            urls[label] = url
        eq(len(set(urls.values())), 1, f"{self.mac}: .htm+UA, .htm-MAC and .php give the same URL")
        url = urls["htm+UA"]
        match = re.fullmatch(rf"http://127\.0\.0\.1:{self.srv.port}/p/([a-z0-9-]+)/([^/]+)/", url)
        check(match is not None and TOKEN_RE.fullmatch(match.group(2)) is not None,
              f"{self.mac}: setting_server is {{base}}/p/{{tenant}}/{{token}}/ ({url})", url)
        return url


def put_expecting_continue(srv: Server, bearer: str, path: str, size: int) -> tuple[int, bytes, bool]:
    """PUT `size` bytes with `Expect: 100-continue`, as curl does for large bodies: the body
    goes out only after `100 Continue`. Answers (status, body, whether the body was sent).
    (A plain client that sends a refused body anyway may only see the connection close.)"""
    sock = socket.create_connection(("127.0.0.1", srv.port), 30)
    try:
        sock.sendall(
            f"PUT {path} HTTP/1.1\r\nHost: 127.0.0.1:{srv.port}\r\nAuthorization: Bearer {bearer}\r\n"
            f"Content-Type: application/octet-stream\r\nContent-Length: {size}\r\n"
            "Expect: 100-continue\r\nConnection: close\r\n\r\n".encode()
        )
        reader = sock.makefile("rb")

        def head() -> tuple[int, dict]:
            status = int(reader.readline().split()[1])
            headers = {}
            while (line := reader.readline()) not in (b"\r\n", b"\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                headers[name.strip().lower()] = value.strip()
            return status, headers

        status, headers = head()
        sent = False
        if status == 100:
            chunk = b"\1" * 65536
            for offset in range(0, size, len(chunk)):
                sock.sendall(chunk[: min(len(chunk), size - offset)])
            sent = True
            status, headers = head()
        length = int(headers.get("content-length", "0"))
        return status, reader.read(length), sent
    finally:
        sock.close()


def chunked(size: int, fill: bytes = b"\2"):
    """A body of `size` bytes sent with chunked transfer encoding (no Content-Length)."""
    block = fill * 65536
    while size > 0:
        yield block[: min(size, len(block))]
        size -= len(block)


def problem_code(body: bytes) -> str | None:
    try:
        return json.loads(body).get("code")
    except ValueError:
        return None


def stored_blobs(srv: Server, env: dict, tenant: str) -> list[str]:
    """The blobs in the store for `tenant`'s files (S3 bucket, or the data directory)."""
    prefix = f"files/{tenant}/"
    if "SIGNPOST_S3_BUCKET" in env:
        return [k for k in S3.from_test_env().list_keys(env["SIGNPOST_S3_BUCKET"]) if k.startswith(prefix)]
    root = os.path.join(srv.dir, "data", "blobs", *prefix.strip("/").split("/"))
    return sorted(os.listdir(root)) if os.path.isdir(root) else []


def token_of(base: str) -> str:
    return base.rstrip("/").rsplit("/", 1)[1]


def hosted_checks(backend: str, env: dict) -> None:
    env = dict(env, SIGNPOST_MAX_FILE_BYTES=str(MAX_FILE_BYTES), SIGNPOST_FILE_QUOTA_BYTES=str(QUOTA_BYTES))
    with Server(env, f"hosted-{backend}") as srv:
        ready = json.loads(srv.request("GET", "/readyz")[2])
        store = "s3" if "SIGNPOST_S3_BUCKET" in env else "fs"
        eq(ready.get("checks", {}).get(store), "ok", f"/readyz: files are in {store}")
        api = srv.admin()
        api.put("/v1/tenants/acme", {"display_name": "Acme", "status": "active", "default_setting_server": None})
        api.put("/v1/tenants/acme/profiles/hosted-desk", {"setting_server": "hosted"})
        for mac, label in ((MAC_A, "reception"), (MAC_B, "lobby")):
            api.put(f"/v1/tenants/acme/devices/{mac}", {"profile": "hosted-desk", "setting_server": None, "label": label})
        api.put("/v1/tenants/other", {"display_name": "Other", "status": "active", "default_setting_server": "hosted"})
        api.put(f"/v1/tenants/other/devices/{MAC_C}", {"profile": None, "setting_server": None, "label": None})
        phone_a, phone_b, phone_c = SnomPhone(srv, MAC_A, UA_A), SnomPhone(srv, MAC_B, UA_B), SnomPhone(srv, MAC_C, UA_C)
        refusals: list[tuple[str, Answer]] = []

        def refused(what: str, answer: Answer) -> None:
            check(answer.status == 404 and answer.body == b"", f"{what} → bare 404", answer)
            refusals.append((what, answer))

        section("upload through /v1")
        image = os.urandom(IMAGE_BYTES)
        status, view = api.put_file("acme", IMAGE, image, content_type="application/octet-stream")
        eq(status, 201, "PUT image → 201 (created)")
        eq((view["path"], view["size"], view["sha256"], view["etag"], view["content_type"], view["template"]),
           (IMAGE, len(image), sha(image), f'"{sha(image)}"', "application/octet-stream", False),
           "PUT image answers path, size, sha256, etag, content_type, template")
        # curl --data-binary sends application/x-www-form-urlencoded: the type then comes from
        # the file name.
        status, view = api.put_file("acme", "snomD785.htm", SHARED_TEMPLATE.encode(), template=True,
                                    content_type="application/x-www-form-urlencoded")
        eq((status, view["template"], view["content_type"], view["sha256"]),
           (201, True, "text/html; charset=utf-8", sha(SHARED_TEMPLATE.encode())),
           "PUT snomD785.htm?template=true (type from the file name)")

        section("redirect to the hosted URL")
        base_a, base_b, base_c = phone_a.redirect(), phone_b.redirect(), phone_c.redirect()
        check(base_a != base_b, "phone B gets a URL of its own", (base_a, base_b))
        check("/p/acme/" in base_a and "/p/other/" in base_c, "the URL names the phone's tenant", (base_a, base_c))
        eq(phone_a.redirect(), base_a, "the same phone gets the same URL again")
        eq(api.get(f"/v1/tenants/acme/devices/{MAC_A}/redirect")["setting_server"], "hosted",
           "REST /redirect says hosted")
        other_host = phone_a.get("/snomD785.htm", {"Host": "phones.acme.example:8443"})
        check(f"<setting_server perm=\"RW\">http://phones.acme.example:8443/p/acme/{token_of(base_a)}/<".encode()
              in other_host.body, "the base URL follows the request's Host", other_host.body)
        odd_host = phone_a.get("/snomD785.htm", {"Host": "evil.example/x?<a>"})
        check(b"evil" not in odd_host.body and b"http://localhost/p/acme/" in odd_host.body,
              "a Host with URL syntax in it is not echoed into the URL", odd_host.body)

        # Files that hold absolute URLs: written now that the redirect told us the phones' bases.
        for mac, base, name in ((MAC_A, base_a, "Reception"), (MAC_B, base_b, "Lobby")):
            status, view = api.put_file("acme", f"snomD785-{mac}.htm", mac_settings(base, name),
                                        content_type="text/xml; charset=utf-8")
            eq(status, 201, f"PUT snomD785-{mac}.htm (firmware_status under that phone's URL)")
        status, view = api.put_file("acme", FIRMWARE_XML, firmware_xml(base_a), content_type="text/xml")
        eq(status, 201, f"PUT {FIRMWARE_XML}")

        section(f"phone A ({MAC_A}) boots from its hosted URL")

        def boot_chain(phone: SnomPhone, base: str, expect_image: bytes) -> Answer:
            shared = phone.get(base + "snomD785.htm")
            eq((shared.status, shared.body), (200, rendered_template(phone.mac)),
               f"{phone.mac}: snomD785.htm, a template filled with its MAC, type and firmware")
            eq((shared.headers.get("cache-control"), shared.headers.get("etag")),
               ("private, no-cache", f'"{sha(shared.body)}"'),
               "… Cache-Control private, no-cache; ETag of the rendered bytes")
            own = phone.get(base + f"snomD785-{phone.mac}.htm")
            check(own.status == 200 and own.headers.get("content-type", "").startswith("text/xml"),
                  f"{phone.mac}: snomD785-{phone.mac}.htm → 200 text/xml", own)
            status_url = ET.fromstring(own.body).findtext("./phone-settings/firmware_status")
            check(bool(status_url) and status_url.startswith(base),
                  f"… firmware_status under its own URL: {status_url}", own.body)
            fw = phone.get(status_url)
            check(fw.status == 200, f"{phone.mac}: firmware_status file → 200", fw)
            root = ET.fromstring(fw.body)
            eq(root.tag, "firmware-settings", "… a <firmware-settings> document")
            image_url = root.findtext("./firmware")
            check(bool(image_url) and image_url.endswith(IMAGE), f"… listing the image {image_url}", fw.body)
            got = phone.get(image_url)
            eq((got.status, len(got.body), sha(got.body)), (200, len(expect_image), sha(expect_image)),
               f"{phone.mac}: image → 200, {len(expect_image)} bytes, sha256 matches")
            eq((got.headers.get("content-length"), got.headers.get("content-type"), got.headers.get("etag"),
                got.headers.get("accept-ranges"), got.headers.get("cache-control")),
               (str(len(expect_image)), "application/octet-stream", f'"{sha(expect_image)}"', "bytes",
                "private, no-cache"),
               "… Content-Length, Content-Type, ETag, Accept-Ranges, Cache-Control")
            check(bool(got.headers.get("last-modified")), f"… Last-Modified {got.headers.get('last-modified')}")
            got.url = image_url
            return got

        image_answer = boot_chain(phone_a, base_a, image)
        image_url = image_answer.url

        section("ranges and revalidation")
        half = len(image) // 2 + 7
        first = phone_a.get(image_url, {"Range": f"bytes=0-{half - 1}"})
        second = phone_a.get(image_url, {"Range": f"bytes={half}-"})
        eq((first.status, first.headers.get("content-range"), first.headers.get("content-length")),
           (206, f"bytes 0-{half - 1}/{len(image)}", str(half)), f"Range bytes=0-{half - 1} → 206")
        eq((second.status, second.headers.get("content-range"), second.headers.get("content-length")),
           (206, f"bytes {half}-{len(image) - 1}/{len(image)}", str(len(image) - half)), f"Range bytes={half}- → 206")
        eq(sha(first.body + second.body), sha(image), "the two ranges reassemble the image")
        tail = phone_a.get(image_url, {"Range": "bytes=-100"})
        eq((tail.status, tail.body), (206, image[-100:]), "suffix range bytes=-100 → the last 100 bytes")
        beyond = phone_a.get(image_url, {"Range": f"bytes={len(image)}-"})
        eq((beyond.status, beyond.headers.get("content-range")), (416, f"bytes */{len(image)}"),
           "a range past the end → 416")
        etag, modified = image_answer.headers["etag"], image_answer.headers["last-modified"]
        stale_if_range = phone_a.get(image_url, {"Range": "bytes=0-9", "If-Range": '"0000"'})
        eq((stale_if_range.status, len(stale_if_range.body)), (200, len(image)), "a stale If-Range → the whole image")
        for header, value in (("If-None-Match", etag), ("If-Modified-Since", modified)):
            again = phone_a.get(image_url, {header: value})
            eq((again.status, again.body, again.headers.get("etag")), (304, b"", etag), f"image with {header} → 304")
        template_url = base_a + "snomD785.htm"
        template_etag = phone_a.get(template_url).headers["etag"]
        eq(phone_a.get(template_url, {"If-None-Match": template_etag}).status, 304, "template with If-None-Match → 304")
        head = phone_a.get(image_url, method="HEAD")
        eq((head.status, head.body, head.headers.get("content-length"), head.headers.get("etag")),
           (200, b"", str(len(image)), etag), "HEAD image → 200, no body, same length and ETag")

        section(f"phone B ({MAC_B}) and the isolation of MAC-specific files")
        shared_b = phone_b.get(base_b + "snomD785.htm")
        eq((shared_b.status, shared_b.body), (200, rendered_template(MAC_B)), "phone B: snomD785.htm with its MAC")
        check(shared_b.headers.get("etag") != template_etag, "… and an ETag of its own")
        own_b = phone_b.get(base_b + f"snomD785-{MAC_B}.htm")
        eq((own_b.status, own_b.body), (200, mac_settings(base_b, "Lobby")), f"phone B: snomD785-{MAC_B}.htm")
        token_a, token_b, token_c = token_of(base_a), token_of(base_b), token_of(base_c)
        prefix_b = f"/p/acme/{token_b}/"
        refused("B's URL, A's MAC file", phone_b.get(base_b + f"snomD785-{MAC_A}.htm"))
        refused("A's URL, B's MAC file", phone_a.get(base_a + f"snomD785-{MAC_B}.htm"))
        refused("B's URL, A's MAC file, asked with A's User-Agent", phone_a.get(base_b + f"snomD785-{MAC_A}.htm"))
        for manipulated in (
            f"snomD785-{MAC_A.lower()}.htm",
            f"snomD785-{MAC_A}.HTM",
            f"./snomD785-{MAC_A}.htm",
            f"x/../snomD785-{MAC_A}.htm",
            f"%2e/snomD785-{MAC_A}.htm",
            f"snomD785-{MAC_A}%2ehtm",
            f"snomD785-{MAC_A}.htm/",
            f"/snomD785-{MAC_A}.htm",
            f"snomD785-{MAC_A}.htm%00",
            f"snomD785-{MAC_A}.htm?mac={MAC_B}",
            f"snomD785-{MAC_A}.htm#x",
            f"snomD785%2D{MAC_A}.htm",
            f"snomD785-{MAC_A}.htm.",
            f"sub%2F..%2FsnomD785-{MAC_A}.htm",
            f"..%2F{token_a}%2FsnomD785-{MAC_A}.htm",
        ):
            refused(f"B's token, path {manipulated!r}", phone_b.get(prefix_b + manipulated))
        # B's token with A's MAC spliced in (the first 8 characters carry the MAC's 6 bytes).
        forged = token_a[:8] + token_b[8:]
        refused("B's tag with A's MAC spliced in", phone_b.get(f"/p/acme/{forged}/snomD785-{MAC_A}.htm"))
        refused("B's tag with A's MAC spliced in, shared file", phone_b.get(f"/p/acme/{forged}/snomD785.htm"))

        section("every refusal is the same bare 404")
        refused("garbage token", phone_a.get(f"/p/acme/{'A' * 30}/snomD785.htm"))
        refused("short token", phone_a.get("/p/acme/abc/snomD785.htm"))
        refused("token with a flipped character",
                phone_a.get(f"/p/acme/{token_a[:-3] + ('B' if token_a[-3] != 'B' else 'C') + token_a[-2:]}/snomD785.htm"))
        refused("another tenant's token (C's, under acme)", phone_c.get(f"/p/acme/{token_c}/snomD785.htm"))
        refused("A's token under another tenant", phone_a.get(f"/p/other/{token_a}/snomD785.htm"))
        refused("A's token under a tenant that does not exist", phone_a.get(f"/p/nosuch/{token_a}/snomD785.htm"))
        refused("missing file, valid token", phone_a.get(base_a + "snomD785-nothing.htm"))
        refused("missing firmware, valid token", phone_a.get(base_a + "firmware/none.bin"))
        refused("missing file with Range", phone_a.get(base_a + "firmware/none.bin", {"Range": "bytes=0-1"}))
        refused("missing file with If-None-Match", phone_a.get(base_a + "firmware/none.bin", {"If-None-Match": etag}))
        refused("garbage token with If-None-Match of a real file",
                phone_a.get(f"/p/acme/{'A' * 30}/{IMAGE}", {"If-None-Match": etag}))
        refused("another tenant's existing file path", phone_c.get(base_c + "snomD785.htm"))
        eq(phone_c.get(base_c + "snomD785.htm").status, 404, "(tenant other has no files: its own 404 is the same)")
        api.put("/v1/tenants/acme", {"display_name": "Acme", "status": "suspended", "default_setting_server": None})
        refused("A's URL while the tenant is suspended", phone_a.get(base_a + "snomD785.htm"))
        api.put("/v1/tenants/acme", {"display_name": "Acme", "status": "active", "default_setting_server": None})
        eq(phone_a.get(base_a + "snomD785.htm").status, 200, "… and 200 again once it is reactivated")

        section("replace the image through /v1")
        new_image = os.urandom(IMAGE_BYTES - 4321)
        status, view = api.put_file("acme", IMAGE, new_image, content_type="application/octet-stream")
        eq((status, view["sha256"], view["size"]), (200, sha(new_image), len(new_image)),
           "PUT over the image → 200 (replaced), new sha256 and size")
        fresh = phone_a.get(image_url)
        eq((fresh.status, sha(fresh.body), fresh.headers.get("etag")), (200, sha(new_image), f'"{sha(new_image)}"'),
           "the next download is the new image")
        revalidated = phone_a.get(image_url, {"If-None-Match": etag})
        eq((revalidated.status, sha(revalidated.body)), (200, sha(new_image)), "the old ETag → 200 with the new image")
        status, _, body = api.raw("GET", f"/v1/tenants/acme/files/{IMAGE}")
        eq((status, sha(body)), (200, sha(new_image)), "REST GET gives the new image too")
        listed = api.get("/v1/tenants/acme/files?prefix=firmware/")["items"]
        eq([(f["path"], f["size"], f["sha256"]) for f in listed],
           [(IMAGE, len(new_image), sha(new_image)), (FIRMWARE_XML, len(firmware_xml(base_a)), sha(firmware_xml(base_a)))],
           "REST list ?prefix=firmware/")

        section(f"limits (max_file_bytes {MAX_FILE_BYTES}, file_quota_bytes {QUOTA_BYTES})")
        files_url = "/v1/tenants/acme/files/"
        status, body, sent = put_expecting_continue(srv, api.token, files_url + IMAGE, MAX_FILE_BYTES + 1)
        eq((status, problem_code(body), sent), (413, "file_too_large", False),
           "a declared size over max_file_bytes → 413 file_too_large before the body is sent")
        status, _, body = api.raw("PUT", files_url + IMAGE, chunked(MAX_FILE_BYTES + 1),
                                  {"Content-Type": "application/octet-stream"})
        eq((status, problem_code(body)), (413, "file_too_large"), "the same size, chunked → 413 file_too_large")
        eq(sha(phone_a.get(image_url).body), sha(new_image), "… and the image is still the last good one")
        status, _, body = api.raw("PUT", files_url + "big.htm?template=true", chunked(MiB + 1, b"x"),
                                  {"Content-Type": "text/html"})
        eq((status, problem_code(body)), (413, "file_too_large"), "a template over 1 MiB → 413 file_too_large")
        used = sum(f["size"] for f in api.get("/v1/tenants/acme/files")["items"])
        filler = QUOTA_BYTES - used - 3 * MiB  # leaves 3 MiB of the quota
        status, _ = api.put_file("acme", "firmware/filler.bin", chunked(filler), content_type="application/octet-stream")
        eq(status, 201, f"a file of {filler} bytes fills the quota up to 3 MiB")
        status, body, sent = put_expecting_continue(srv, api.token, files_url + "firmware/extra.bin", 4 * MiB)
        eq((status, problem_code(body), sent), (413, "quota_exceeded", False),
           "4 MiB more, declared → 413 quota_exceeded before the body is sent")
        status, _, body = api.raw("PUT", files_url + "firmware/extra.bin", chunked(4 * MiB),
                                  {"Content-Type": "application/octet-stream"})
        eq((status, problem_code(body)), (413, "quota_exceeded"), "4 MiB more, chunked → 413 quota_exceeded")
        status, body, sent = put_expecting_continue(srv, api.token, files_url + "firmware/extra.bin", 2 * MiB)
        eq((status, sent), (201, True), "2 MiB more still fit (Expect: 100-continue, then the body)")
        status, _, body = api.raw("PUT", files_url + "firmware/filler.bin", chunked(filler + 2 * MiB),
                                  {"Content-Type": "application/octet-stream"})
        eq((status, problem_code(body)), (413, "quota_exceeded"),
           "replacing a file counts only the difference: 2 MiB more than the quota → 413")
        status, _ = api.put_file("acme", "firmware/filler.bin", chunked(filler + MiB // 2),
                                 content_type="application/octet-stream")
        eq(status, 200, "… 512 KiB more fits (replaced)")
        api.delete(files_url + "firmware/filler.bin")
        api.delete(files_url + "firmware/extra.bin")
        eq([f["path"] for f in api.get("/v1/tenants/acme/files?prefix=firmware/")["items"]], [IMAGE, FIRMWARE_XML],
           "refused uploads left no file behind")

        section("token rotation")
        old_a, old_b = base_a, base_b
        epoch = api.call("POST", "/v1/tenants/acme/file-tokens/rotate")[1]["file_token_epoch"]
        check(epoch >= 1, f"POST file-tokens/rotate → epoch {epoch}")
        refused("A's old URL after rotation", phone_a.get(old_a + "snomD785.htm"))
        refused("A's old URL after rotation, image", phone_a.get(old_a + IMAGE))
        refused("B's old URL after rotation", phone_b.get(old_b + f"snomD785-{MAC_B}.htm"))
        base_a, base_b = phone_a.redirect(), phone_b.redirect()
        check(base_a != old_a and base_b != old_b and base_a != base_b,
              "the redirect hands out new URLs", (old_a, base_a, old_b, base_b))
        eq((phone_a.get(base_a + "snomD785.htm").status, phone_b.get(base_b + "snomD785.htm").status), (200, 200),
           "the new URLs work")
        eq(phone_c.get(base_c + "snomD785.htm").status, 404, "tenant other: its token is unaffected (404 = no file)")
        # The files written with the old URLs now point at a dead one; an admin re-publishes them.
        own = phone_a.get(base_a + f"snomD785-{MAC_A}.htm")
        stale = ET.fromstring(own.body).findtext("./phone-settings/firmware_status")
        refused("firmware_status still naming the old URL", phone_a.get(stale))
        api.put_file("acme", f"snomD785-{MAC_A}.htm", mac_settings(base_a, "Reception"), content_type="text/xml")
        api.put_file("acme", FIRMWARE_XML, firmware_xml(base_a), content_type="text/xml")
        boot_chain(phone_a, base_a, new_image)

        section("delete")
        api.delete(f"/v1/tenants/acme/files/snomD785-{MAC_B}.htm")
        refused("B's MAC file after DELETE", phone_b.get(base_b + f"snomD785-{MAC_B}.htm"))
        eq(api.raw("GET", f"/v1/tenants/acme/files/snomD785-{MAC_B}.htm")[0], 404, "REST GET after DELETE → 404")

        files = api.get("/v1/tenants/acme/files")["items"]
        eq(len(stored_blobs(srv, env, "acme")), len(files),
           f"one stored blob per file ({len(files)}): replaced, refused and deleted bodies are gone")

        shapes = {}
        for what, answer in refusals:
            shapes.setdefault(answer.shape(), []).append(what)
        check(len(shapes) == 1, f"all {len(refusals)} refusals are byte-identical (status, headers, body)",
              "\n      ".join(f"{shape}: {whats}" for shape, whats in shapes.items()))
        print(f"      (the refusal: {next(iter(shapes))})")


def replicas(backend: str, env: dict) -> None:
    """Two replicas on one PostgreSQL, Redis and bucket. Replica B caches what it served
    (the catalogue row, the template text, and "no such file"); a change made through A is
    what B serves next: a replaced plain file at once (its old blob is gone, so B looks in
    the registry again), anything else as soon as A's invalidation reaches B over Redis."""
    with Server(env, f"hosted-a-{backend}") as a, Server(env, f"hosted-b-{backend}") as b:
        section("two replicas (file changes reach the other replica's cache)")
        api = a.admin()
        api.put("/v1/tenants/multi", {"display_name": "Multi", "status": "active", "default_setting_server": "hosted"})
        api.put(f"/v1/tenants/multi/devices/{MAC_D}", {"profile": None, "setting_server": None, "label": None})
        phone = SnomPhone(b, MAC_D, UA_D)
        base = phone.redirect()

        def served(path: str) -> tuple[int, bytes]:
            answer = phone.get(base + path)
            return answer.status, answer.body

        def settle(path: str, expected: tuple[int, bytes], what: str) -> None:
            started = time.monotonic()
            wait_for(f"replica B to serve {expected!r} for {path}", lambda: served(path) == expected, 3)
            print(f"  ok  {what} (after {(time.monotonic() - started) * 1000:.0f} ms)")

        eq(served("multi.cfg"), (404, b""), "B: no multi.cfg yet (and B caches that)")
        api.put_file("multi", "multi.cfg", b"first", content_type="text/plain")
        settle("multi.cfg", (200, b"first"), "B serves the file uploaded through A")
        api.put_file("multi", "multi.cfg", b"second", content_type="text/plain")
        eq(served("multi.cfg"), (200, b"second"), "B serves A's replacement at once")

        api.put_file("multi", "snomD785.htm", b"<t mac={mac}/>", template=True)
        eq(served("snomD785.htm"), (200, f"<t mac={MAC_D}/>".encode()), "B renders the template")
        api.put_file("multi", "snomD785.htm", b"<t2 mac={mac}/>", template=True)
        settle("snomD785.htm", (200, f"<t2 mac={MAC_D}/>".encode()), "B renders A's new template")

        api.delete("/v1/tenants/multi/files/multi.cfg")
        settle("multi.cfg", (404, b""), "B refuses the file deleted through A")


def scenario(backend: str, env: dict) -> None:
    hosted_checks(backend, env)
    # Replicas share files only through S3 (each has its own data directory).
    if "SIGNPOST_REDIS_URL" in env and "SIGNPOST_S3_BUCKET" in env:
        replicas(backend, env)


if __name__ == "__main__":
    main(lambda: for_each_backend(scenario, s3=True))
