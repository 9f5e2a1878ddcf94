"""Shared support for the end-to-end scripts in tests/e2e (imported, not run).

Python 3.11 standard library only. What it offers:

- `check`, `eq`, `Failure`: one printed line per check; a failed check raises `Failure`;
- `main(fn)`: runs a script's body, prints the run time, exits 1 on any failure;
- `backends()`: ("embedded", env) always and ("postgres+redis", env) when the test run gave
  SIGNPOST_TEST_POSTGRES_URL and SIGNPOST_TEST_REDIS_URL (a fresh database, made with `psql`
  and dropped afterwards, and a unique Redis key prefix, deleted afterwards). With
  SIGNPOST_TEST_REQUIRE_BACKENDS=1 a missing or unreachable backend is a failure, never a
  skip. `backends(s3=True)` makes the real backend "postgres+redis+s3": files go to a fresh
  bucket on SIGNPOST_TEST_S3_ENDPOINT (created with a SigV4-signed request, emptied and
  deleted afterwards);
- `S3`: a minimal SigV4 client (standard library only) for bucket set-up and clean-up, and
  `fresh_bucket_name()`;
- `Server`: a `signpost serve` on a free port with its own data directory, stopped with
  SIGTERM (its log printed when the block failed), plus `keys_create`, `rest()` and
  `phone_get`;
- `Rest`: a small JSON client for /v1 with a client-credentials token, plus `raw` and
  `put_file` for non-JSON bodies (hosted files).
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import hashlib
import hmac
import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.parse
import uuid
import xml.etree.ElementTree as ET

# --------------------------------------------------------------------------------------------
# Checks


class Failure(AssertionError):
    """A check that did not hold."""


def check(condition: bool, what: str, detail: object = "") -> None:
    if not condition:
        raise Failure(f"{what}" + (f": {detail}" if detail != "" else ""))
    print(f"  ok  {what}", flush=True)


def eq(actual: object, expected: object, what: str) -> None:
    if actual != expected:
        raise Failure(f"{what}:\n      expected {expected!r}\n      actual   {actual!r}")
    print(f"  ok  {what}", flush=True)


def section(title: str) -> None:
    print(f"-- {title}", flush=True)


def wait_for(what: str, probe, timeout: float = 8.0):
    """Polls `probe` until it answers something true (and returns that), for changes that
    reach another replica asynchronously."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise Failure(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.2)


def fatal(message: str) -> None:
    """Stops the script with exit status 1 (cleanups in `finally` blocks still run)."""
    print(f"FAIL: {message}", file=sys.stderr, flush=True)
    raise SystemExit(1)


def main(body) -> None:
    """Runs `body()`; prints the run time; exits 1 when anything failed."""
    name = os.path.basename(sys.argv[0])
    started = time.monotonic()
    # tests/run.sh stops a run with SIGTERM to the process group: unwind, so that `finally`
    # blocks stop the servers and drop the test database.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        body()
    except Failure as failure:
        print(f"FAIL: {name}: {failure}", file=sys.stderr, flush=True)
        print(f"{name}: FAILED after {time.monotonic() - started:.1f}s", flush=True)
        sys.exit(1)
    except SystemExit as exit_:
        if exit_.code not in (0, None):
            print(f"{name}: FAILED after {time.monotonic() - started:.1f}s", flush=True)
        raise
    except BaseException:  # noqa: BLE001 - any crash of the script is a failure
        traceback.print_exc()
        print(f"{name}: FAILED after {time.monotonic() - started:.1f}s", flush=True)
        sys.exit(1)
    print(f"{name}: passed in {time.monotonic() - started:.1f}s", flush=True)


def binary() -> str:
    path = os.environ.get("SIGNPOST_TEST_BIN", "")
    if not path:
        fatal("SIGNPOST_TEST_BIN is not set (tests/run.sh sets it to target/debug/signpost)")
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        fatal(f"SIGNPOST_TEST_BIN={path} is not an executable file")
    return path


def unique(stem: str) -> str:
    return f"{stem}_{os.getpid()}_{uuid.uuid4().hex[:10]}"


# --------------------------------------------------------------------------------------------
# Backends


def _required() -> bool:
    return os.environ.get("SIGNPOST_TEST_REQUIRE_BACKENDS") == "1"


def _psql(url: str, sql: str, timeout: float = 30) -> subprocess.CompletedProcess:
    env = dict(os.environ, PGCONNECT_TIMEOUT="5")
    return subprocess.run(
        ["psql", "-X", "-w", "-v", "ON_ERROR_STOP=1", "-qAt", "-d", url, "-c", sql],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


class Redis:
    """Just enough RESP to ping, and to delete a prefix's keys."""

    def __init__(self, url: str):
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("redis", "rediss"):
            raise ValueError(f"not a redis:// URL: {url}")
        sock = socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 6379), 5)
        if parts.scheme == "rediss":
            sock = ssl.create_default_context().wrap_socket(sock, server_hostname=parts.hostname)
        sock.settimeout(10)
        self.sock = sock
        self.buf = b""
        if parts.password is not None:
            password = urllib.parse.unquote(parts.password)
            if parts.username:
                self.command("AUTH", urllib.parse.unquote(parts.username), password)
            else:
                self.command("AUTH", password)
        db = parts.path.strip("/")
        if db:
            self.command("SELECT", db)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()

    def command(self, *args: str | bytes):
        out = [f"*{len(args)}\r\n".encode()]
        for arg in args:
            data = arg if isinstance(arg, bytes) else str(arg).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(data), data))
        self.sock.sendall(b"".join(out))
        return self._reply()

    def _line(self) -> bytes:
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("redis closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n: int) -> bytes:
        while len(self.buf) < n + 2:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("redis closed the connection")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n + 2 :]
        return data

    def _reply(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RuntimeError(f"redis error: {rest.decode()}")
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n)
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self._reply() for _ in range(n)]
        raise RuntimeError(f"unexpected redis reply {line!r}")

    def delete_prefix(self, prefix: str) -> int:
        deleted, cursor = 0, b"0"
        while True:
            cursor, keys = self.command("SCAN", cursor, "MATCH", prefix + "*", "COUNT", "1000")
            if keys:
                deleted += self.command("DEL", *keys)
            if cursor in (b"0", "0"):
                return deleted


def _unavailable(message: str, backend: str = "postgres+redis") -> bool:
    """A backend cannot be used: fatal when required, else a visible skip (False)."""
    if _required():
        fatal(message + " (SIGNPOST_TEST_REQUIRE_BACKENDS=1 asks for every real backend)")
    print(f"not run: {backend} backend: {message}", flush=True)
    return False


def _real_backends_usable() -> bool:
    pg = os.environ.get("SIGNPOST_TEST_POSTGRES_URL", "")
    redis_url = os.environ.get("SIGNPOST_TEST_REDIS_URL", "")
    missing = [n for n, v in (("SIGNPOST_TEST_POSTGRES_URL", pg), ("SIGNPOST_TEST_REDIS_URL", redis_url)) if not v]
    if missing:
        return _unavailable(f"{' and '.join(missing)} not set")
    if shutil.which("psql") is None:
        return _unavailable("the psql client is not installed (needed to create the test database)")
    try:
        done = _psql(pg, "SELECT 1")
    except subprocess.TimeoutExpired:
        return _unavailable("PostgreSQL at SIGNPOST_TEST_POSTGRES_URL did not answer within 30 s")
    if done.returncode != 0 or done.stdout.strip() != "1":
        return _unavailable(f"PostgreSQL at SIGNPOST_TEST_POSTGRES_URL is unreachable: {done.stderr.strip()}")
    try:
        redis = Redis(redis_url)
        try:
            pong = redis.command("PING")
        finally:
            redis.close()
    except (OSError, RuntimeError, ValueError) as err:
        return _unavailable(f"Redis at SIGNPOST_TEST_REDIS_URL is unreachable: {err}")
    if pong != "PONG":
        return _unavailable(f"Redis at SIGNPOST_TEST_REDIS_URL answered PING with {pong!r}")
    return True


class S3:
    """Just enough of the S3 API, signed with AWS Signature Version 4, to make, list, empty
    and delete buckets on the test server (path-style addressing)."""

    def __init__(self, endpoint: str, access_key: str, secret_key: str, region: str = "us-east-1"):
        parts = urllib.parse.urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s):// endpoint: {endpoint!r}")
        self.endpoint = endpoint.rstrip("/")
        self.scheme = parts.scheme
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.netloc = parts.netloc
        self.access_key = access_key
        self.secret_key = secret_key
        self.region = region or "us-east-1"

    @classmethod
    def from_test_env(cls) -> "S3":
        return cls(
            os.environ["SIGNPOST_TEST_S3_ENDPOINT"],
            os.environ.get("SIGNPOST_TEST_S3_ACCESS_KEY", ""),
            os.environ.get("SIGNPOST_TEST_S3_SECRET_KEY", ""),
            os.environ.get("SIGNPOST_TEST_S3_REGION", "") or "us-east-1",
        )

    def server_env(self, bucket: str) -> dict:
        """What `signpost serve` needs to keep its files in `bucket` on this server."""
        return {
            "SIGNPOST_S3_BUCKET": bucket,
            "SIGNPOST_S3_ENDPOINT": self.endpoint,
            "SIGNPOST_S3_REGION": self.region,
            "SIGNPOST_S3_PATH_STYLE": "true",
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            # Never wait for an EC2 instance metadata service that is not there.
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    @staticmethod
    def _quote(value: str, safe: str = "-_.~") -> str:
        return urllib.parse.quote(value, safe=safe)

    def _sign(self, key: bytes, message: str) -> bytes:
        return hmac.new(key, message.encode(), hashlib.sha256).digest()

    def request(self, method: str, path: str, query: dict | None = None, body: bytes = b"",
                timeout: float = 30):
        """One signed request: (status, headers with lower-case names, body)."""
        now = datetime.datetime.now(datetime.timezone.utc)
        amz_date = now.strftime("%Y%m%dT%H%M%SZ")
        day = amz_date[:8]
        payload_hash = hashlib.sha256(body).hexdigest()
        uri = "/" + "/".join(self._quote(seg) for seg in path.lstrip("/").split("/")) if path.strip("/") else "/"
        query = query or {}
        canonical_query = "&".join(
            f"{self._quote(k)}={self._quote(str(v))}" for k, v in sorted(query.items())
        )
        headers = {"host": self.netloc, "x-amz-content-sha256": payload_hash, "x-amz-date": amz_date}
        signed = ";".join(sorted(headers))
        canonical_headers = "".join(f"{k}:{headers[k]}\n" for k in sorted(headers))
        canonical = "\n".join([method, uri, canonical_query, canonical_headers, signed, payload_hash])
        scope = f"{day}/{self.region}/s3/aws4_request"
        to_sign = "\n".join(
            ["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()]
        )
        key = self._sign(("AWS4" + self.secret_key).encode(), day)
        for part in (self.region, "s3", "aws4_request"):
            key = self._sign(key, part)
        signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        headers["authorization"] = (
            f"AWS4-HMAC-SHA256 Credential={self.access_key}/{scope}, "
            f"SignedHeaders={signed}, Signature={signature}"
        )
        if self.scheme == "https":
            conn = http.client.HTTPSConnection(self.host, self.port, timeout=timeout)
        else:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            target = uri + (f"?{canonical_query}" if canonical_query else "")
            conn.request(method, target, body=body or None, headers=headers)
            response = conn.getresponse()
            data = response.read()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, data
        finally:
            conn.close()

    def _expect(self, what: str, done, ok=(200, 204)) -> bytes:
        status, _, body = done
        if status not in ok:
            raise RuntimeError(f"S3 {what} answered {status}: {body[:300]!r}")
        return body

    def list_buckets(self) -> list[str]:
        body = self._expect("ListBuckets", self.request("GET", "/"))
        return [e.text or "" for e in ET.fromstring(body).iter() if e.tag.endswith("}Name") or e.tag == "Name"]

    def create_bucket(self, bucket: str) -> None:
        self._expect(f"CreateBucket {bucket}", self.request("PUT", f"/{bucket}"))

    def list_keys(self, bucket: str) -> list[str]:
        keys, token = [], None
        while True:
            query = {"list-type": "2", "max-keys": "1000"}
            if token:
                query["continuation-token"] = token
            root = ET.fromstring(self._expect(f"ListObjectsV2 {bucket}", self.request("GET", f"/{bucket}", query)))
            local = {el.tag.split("}")[-1]: el for el in root}
            keys += [
                (c.text or "")
                for el in root if el.tag.split("}")[-1] == "Contents"
                for c in el if c.tag.split("}")[-1] == "Key"
            ]
            truncated = local.get("IsTruncated")
            token_el = local.get("NextContinuationToken")
            if truncated is None or (truncated.text or "").lower() != "true" or token_el is None:
                return keys
            token = token_el.text

    def delete_bucket(self, bucket: str) -> int:
        """Deletes every object of `bucket`, then the bucket; answers how many objects."""
        keys = self.list_keys(bucket)
        for key in keys:
            self._expect(f"DeleteObject {key}", self.request("DELETE", f"/{bucket}/{key}"))
        self._expect(f"DeleteBucket {bucket}", self.request("DELETE", f"/{bucket}"))
        return len(keys)


def _s3_usable() -> bool:
    endpoint = os.environ.get("SIGNPOST_TEST_S3_ENDPOINT", "")
    if not endpoint:
        return _unavailable("SIGNPOST_TEST_S3_ENDPOINT not set", "s3")
    missing = [n for n in ("SIGNPOST_TEST_S3_ACCESS_KEY", "SIGNPOST_TEST_S3_SECRET_KEY") if not os.environ.get(n)]
    if missing:
        return _unavailable(f"{' and '.join(missing)} not set", "s3")
    try:
        S3.from_test_env().list_buckets()
    except (OSError, RuntimeError, ValueError, ET.ParseError) as err:
        return _unavailable(f"S3 at SIGNPOST_TEST_S3_ENDPOINT={endpoint} is unusable: {err}", "s3")
    return True


def fresh_bucket_name() -> str:
    """A fresh bucket name: lower case, digits and '-', 3-63 characters."""
    return f"signpost-e2e-{os.getpid()}-{uuid.uuid4().hex[:12]}"


def backends(s3: bool = False):
    """Yields (name, env) per backend; env holds the SIGNPOST_* variables that select it.

    Use it as `with contextlib.closing(backends()) as each: for name, env in each: ...`
    (or through `for_each_backend`) so the database is dropped even when a check fails.
    With `s3`, the real backend also keeps its files in a fresh S3 bucket (named in
    env["SIGNPOST_S3_BUCKET"]), deleted with its objects afterwards.
    """
    real = _real_backends_usable()  # checked first: a broken backend fails before any test
    use_s3 = s3 and _s3_usable()
    yield "embedded", {}
    if not real:
        return
    pg = os.environ["SIGNPOST_TEST_POSTGRES_URL"]
    redis_url = os.environ["SIGNPOST_TEST_REDIS_URL"]
    name = unique("signpost_e2e")
    done = _psql(pg, f"CREATE DATABASE {name}")
    if done.returncode != 0:
        fatal(f"cannot create test database {name}: {done.stderr.strip()}")
    parts = urllib.parse.urlsplit(pg)
    db_url = urllib.parse.urlunsplit(parts._replace(path="/" + name))
    prefix = f"{name}:"
    store = bucket = None
    try:
        env = {
            "SIGNPOST_DATABASE_URL": db_url,
            "SIGNPOST_REDIS_URL": redis_url,
            "SIGNPOST_REDIS_PREFIX": prefix,
        }
        if use_s3:
            store, bucket = S3.from_test_env(), fresh_bucket_name()
            try:
                store.create_bucket(bucket)
            except (OSError, RuntimeError) as err:
                bucket = None
                fatal(f"cannot create S3 bucket on {store.endpoint}: {err}")
            env.update(store.server_env(bucket))
        yield ("postgres+redis+s3" if use_s3 else "postgres+redis"), env
    finally:
        if store is not None and bucket is not None:
            try:
                store.delete_bucket(bucket)
            except (OSError, RuntimeError, ET.ParseError) as err:
                print(f"warning: cannot delete S3 bucket {bucket}: {err}", file=sys.stderr)
        drop_database_and_keys(pg, name, redis_url, prefix)


def drop_database_and_keys(pg: str, name: str, redis_url: str, prefix: str,
                           timeout: float = 30) -> None:
    """Drops a run's database and deletes its Redis keys, warning (not failing) if it cannot:
    what is left behind must not hide the run's own result."""
    done = _psql(pg, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)", timeout=timeout)
    if done.returncode != 0:
        print(f"warning: cannot drop database {name}: {done.stderr.strip()}", file=sys.stderr)
    try:
        redis = Redis(redis_url)
        try:
            redis.delete_prefix(prefix)
        finally:
            redis.close()
    except (OSError, RuntimeError) as err:
        print(f"warning: cannot delete Redis keys {prefix}*: {err}", file=sys.stderr)


def for_each_backend(body, s3: bool = False) -> None:
    """Calls `body(name, env)` for every backend, cleaning each up even on failure."""
    with contextlib.closing(backends(s3)) as each:
        for name, env in each:
            section(f"backend {name}")
            started = time.monotonic()
            body(name, env)
            print(f"   backend {name} passed in {time.monotonic() - started:.1f}s", flush=True)


# --------------------------------------------------------------------------------------------
# HTTP


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_request(
    port: int,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict | None = None,
    timeout: float = 30,
):
    """One request on a fresh connection: (status, headers with lower-case names, body).

    http.client adds no User-Agent of its own, so a request without one really has none.
    """
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        data = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, data
    finally:
        conn.close()


class HttpError(Failure):
    pass


class Rest:
    """A /v1 client authenticated with an API key (client credentials → bearer token)."""

    def __init__(self, port: int, key_id: str, secret: str):
        self.port = port
        form = urllib.parse.urlencode(
            {"grant_type": "client_credentials", "client_id": key_id, "client_secret": secret}
        ).encode()
        status, _, body = http_request(
            port, "POST", "/v1/auth/token", form, {"Content-Type": "application/x-www-form-urlencoded"}
        )
        if status != 200:
            raise HttpError(f"POST /v1/auth/token answered {status}: {body[:500]!r}")
        self.token = json.loads(body)["access_token"]

    def call(self, method: str, path: str, body: object = None, expect=(200, 201, 204)):
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        status, _, raw = http_request(self.port, method, path, data, headers)
        expect = (expect,) if isinstance(expect, int) else expect
        if status not in expect:
            raise HttpError(f"{method} {path} answered {status} (wanted {expect}): {raw[:800]!r}")
        if not raw:
            return status, None
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, raw

    def raw(self, method: str, path: str, body=None, headers: dict | None = None, expect=None,
            timeout: float = 120):
        """Any request with the bearer token and a raw body (bytes or an iterable of bytes;
        give Content-Length for an iterable, else it goes chunked): (status, headers, body).
        With `expect`, another status is a failure."""
        all_headers = {"Authorization": f"Bearer {self.token}"}
        all_headers.update(headers or {})
        status, got, data = http_request(self.port, method, path, body, all_headers, timeout)
        if expect is not None:
            expect = (expect,) if isinstance(expect, int) else expect
            if status not in expect:
                raise HttpError(f"{method} {path} answered {status} (wanted {expect}): {data[:800]!r}")
        return status, got, data

    def put_file(self, tenant: str, path: str, body, template: bool = False,
                 content_type: str | None = None, length: int | None = None, expect=(200, 201)):
        """Uploads a hosted file; answers (status, the file's JSON view)."""
        headers = {}
        if content_type:
            headers["Content-Type"] = content_type
        if length is not None:
            headers["Content-Length"] = str(length)
        elif isinstance(body, (bytes, bytearray)):
            headers["Content-Length"] = str(len(body))
        url = f"/v1/tenants/{tenant}/files/{path}" + ("?template=true" if template else "")
        status, _, data = self.raw("PUT", url, body, headers, expect)
        return status, json.loads(data) if data else None

    def get(self, path: str, expect=200):
        return self.call("GET", path, expect=expect)[1]

    def put(self, path: str, body: object, expect=(200, 201)):
        return self.call("PUT", path, body, expect=expect)[1]

    def delete(self, path: str, expect=(200, 204)):
        return self.call("DELETE", path, expect=expect)[1]

    def get_all(self, path: str, limit: int = 1000) -> list:
        """Every item of a paged list."""
        items, cursor = [], None
        sep = "&" if "?" in path else "?"
        while True:
            query = f"{sep}limit={limit}" + (f"&cursor={urllib.parse.quote(cursor)}" if cursor else "")
            page = self.get(path + query)
            items.extend(page["items"])
            cursor = page.get("next_cursor")
            if not cursor:
                return items


# --------------------------------------------------------------------------------------------
# The server


def _base_env() -> dict:
    """The environment without configuration that a caller of the tests may have set:
    `signpost` refuses unknown SIGNPOST_* variables and reads known ones, so only
    SIGNPOST_TEST_* (reserved for the tests) is passed through."""
    return {
        k: v
        for k, v in os.environ.items()
        if (not k.startswith("SIGNPOST_") or k.startswith("SIGNPOST_TEST_"))
        # S3 credentials and settings come only from the backend's env (`S3.server_env`),
        # never from whoever runs the tests (a stray AWS_SESSION_TOKEN or AWS_PROFILE would
        # break the signature or point elsewhere).
        and not k.startswith("AWS_")
    }


class Server:
    """A `signpost serve` with its own data directory on a free port.

    `with Server(env, "name") as srv:` starts it and waits for /readyz; leaving the block
    stops it with SIGTERM, and prints its log when the block raised.
    """

    def __init__(self, env: dict | None = None, name: str = "signpost"):
        self.bin = binary()
        self.name = name
        self.dir = tempfile.mkdtemp(prefix=f"signpost-e2e-{name}-")
        self.extra = dict(env or {})
        self.port = 0
        self.proc: subprocess.Popen | None = None
        self.log_path = os.path.join(self.dir, "serve.log")
        self.env = self._env()

    def _env(self) -> dict:
        env = _base_env()
        env["SIGNPOST_DATA_DIR"] = os.path.join(self.dir, "data")
        env["SIGNPOST_LISTEN"] = f"127.0.0.1:{self.port}"
        env.setdefault("RUST_LOG", "info")
        env.update(self.extra)
        return env

    @property
    def pid(self) -> int:
        if self.proc is None:
            raise Failure(f"{self.name} is not running")
        return self.proc.pid

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def run_command(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        done = subprocess.run(
            [self.bin, *args], env=self.env, capture_output=True, text=True, timeout=timeout
        )
        if done.returncode != 0:
            raise Failure(
                f"signpost {' '.join(args)} exited {done.returncode}:\n{done.stdout}{done.stderr}"
            )
        return done

    def start(self) -> "Server":
        for attempt in range(3):
            self.port = free_port()
            self.env = self._env()
            log = open(self.log_path, "ab")
            self.proc = subprocess.Popen(
                [self.bin, "serve"],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
            log.close()
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break
                try:
                    status, _, _ = http_request(self.port, "GET", "/readyz", timeout=3)
                    if status == 200:
                        print(f"   started {self.name} on port {self.port}", flush=True)
                        return self
                except OSError:
                    pass
                time.sleep(0.05)
            if self.proc.poll() is None:
                self.stop()
                self.print_log()
                raise Failure(f"{self.name}: /readyz did not answer 200 within 60 s")
            log_text = self.log()
            if "in use" in log_text and attempt < 2:  # lost the free port to someone else
                continue
            self.print_log()
            raise Failure(f"{self.name}: signpost serve exited early with {self.proc.returncode}")
        raise Failure(f"{self.name}: could not start")

    def stop(self) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            print(f"warning: {self.name} ignored SIGTERM for 20 s; killing it", file=sys.stderr)
            self.proc.kill()
            return self.proc.wait(timeout=10)

    def log(self) -> str:
        # A running server writes its log from memory every 100 ms: let it catch up first.
        if self.proc is not None and self.proc.poll() is None:
            time.sleep(0.3)
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def print_log(self, tail: int = 200) -> None:
        lines = self.log().splitlines()
        print(f"---- {self.name} log (last {min(tail, len(lines))} of {len(lines)} lines) ----", file=sys.stderr)
        for line in lines[-tail:]:
            print(line, file=sys.stderr)
        print(f"---- end of {self.name} log ----", file=sys.stderr, flush=True)

    def __enter__(self) -> "Server":
        try:
            return self.start()
        except BaseException:
            self.cleanup(keep=False)
            raise

    def __exit__(self, exc_type, exc, tb) -> None:
        code = self.stop()
        if exc_type is not None:
            self.print_log()
        elif code not in (0, None):
            self.print_log()
            self.cleanup(keep=False)
            raise Failure(f"{self.name}: signpost serve exited {code} on SIGTERM")
        self.cleanup(keep=False)

    def cleanup(self, keep: bool) -> None:
        if not keep:
            shutil.rmtree(self.dir, ignore_errors=True)

    # -- helpers over the running server --------------------------------------------------

    def keys_create(self, role: str, tenant: str | None = None) -> tuple[str, str]:
        """`signpost keys create --json`: (id, secret)."""
        args = ["keys", "create", "--role", role, "--json"]
        if tenant:
            args += ["--tenant", tenant]
        done = self.run_command(*args)
        lines = [line for line in done.stdout.splitlines() if line.strip()]
        if not lines:
            raise Failure(f"signpost keys create printed nothing: {done.stderr}")
        key = json.loads(lines[-1])
        return key["id"], key["secret"]

    def rest(self, key: tuple[str, str]) -> Rest:
        return Rest(self.port, *key)

    def admin(self) -> Rest:
        return self.rest(self.keys_create("platform-admin"))

    def phone_get(self, path: str, user_agent: str | None = None, method: str = "GET"):
        """A phone's request: (status, headers with lower-case names, body bytes)."""
        headers = {"User-Agent": user_agent} if user_agent is not None else {}
        return http_request(self.port, method, path, None, headers)

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None, timeout: float = 30):
        return http_request(self.port, method, path, body, headers, timeout)


def basic_auth(key: tuple[str, str]) -> str:
    return "Basic " + base64.b64encode(f"{key[0]}:{key[1]}".encode()).decode()
