//! The phone path end to end on the real binary: native HTTPS for phones and XML-RPC, writes
//! reaching another replica's cache through Redis pub/sub, and phones answered while Redis
//! dies and comes back.
//!
//! Speed targets are measured, not asserted: the invalidation latency distribution and the
//! outage figures are printed (see them with `--nocapture`); only correctness bounds fail.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use base64::Engine;
use common::{
    Admin, DatabaseGuard, Http, PrivateRedis, Server, await_readiness, create_key, free_port,
    one_line_failure, output_within, signpost,
};
use serde_json::json;
use signpost_testkit::{Backend, backend_url, unique_name};

const MAC: &str = "000413AABBCC";
const PHONE: &str = "/snomD785-000413AABBCC.htm";
const EMPTY_XML: &str = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<settings><phone-settings></phone-settings></settings>\n";
const ECHO: &str = "<?xml version=\"1.0\"?><methodCall><methodName>network.echo</methodName><params><param><value><string>ping</string></value></param></params></methodCall>";

fn phone_path(mac: &str) -> String {
    format!("/snomD785-{mac}.htm")
}

/// The XML settings document that sends a phone to `url`.
fn redirect_xml(url: &str) -> String {
    let escaped = url
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    let escaped = escaped.replace('"', "&quot;");
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<settings><phone-settings><setting_server perm=\"RW\">{escaped}</setting_server></phone-settings></settings>\n"
    )
}

/// The legacy plain-text document that sends a phone to `url`.
fn redirect_text(url: &str) -> String {
    format!("<html>\n<pre>\n# signpost\nsetting_server$: {url}\n</pre>\n</html>\n")
}

fn tenant(status: &str) -> serde_json::Value {
    json!({"display_name": "Acme", "status": status})
}

/// Variables every server of these tests gets besides `extra`: no rate limits (the tests
/// fire far more than a phone would), and only warnings logged.
fn phone_env(extra: &[(&'static str, String)]) -> Vec<(&'static str, String)> {
    let quiet = [
        ("SIGNPOST_PHONE_RATE_LIMIT", "false".into()),
        ("RUST_LOG", "warn".into()),
    ];
    extra.iter().cloned().chain(quiet).collect()
}

#[test]
fn native_tls_serves_phones_and_xmlrpc_over_https() {
    let dir = tempfile::tempdir().unwrap();
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, certified.cert.pem()).unwrap();
    std::fs::write(&key, certified.signing_key.serialize_pem()).unwrap();
    let (cert, key) = (cert.display().to_string(), key.display().to_string());
    let env = phone_env(&[
        ("SIGNPOST_TLS_CERT", cert.clone()),
        ("SIGNPOST_TLS_KEY", key.clone()),
    ]);
    let server = Server::start_with(dir.path(), &env, Http::trusting(certified.cert.der()));
    assert_eq!(server.get("/readyz").0, 200);

    let admin = Admin::bootstrap(&server, dir.path(), &env);
    admin.put("/v1/tenants/acme", tenant("active"));
    let url = "https://a.example/{mac}?x=1&y=2";
    admin.put_device("acme", MAC, url);
    let phone = server.request("GET", PHONE, &[], &[]);
    assert_eq!(phone.status, 200, "{}", phone.body);
    assert!(
        phone
            .header("content-type")
            .unwrap()
            .starts_with("text/xml")
    );
    let element =
        "<setting_server perm=\"RW\">https://a.example/{mac}?x=1&amp;y=2</setting_server>";
    assert!(phone.body.contains(element), "{}", phone.body);
    assert_eq!(phone.body, redirect_xml(url));
    assert_eq!(
        server.body("/snomD785/snomD785.php?mac=000413AABBCC"),
        redirect_text(url)
    );

    let tenant_admin = ["--role", "tenant-admin", "--tenant", "acme"];
    let (id, secret) = create_key(dir.path(), &env, &tenant_admin);
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"));
    let (basic, xml) = (format!("Basic {basic}"), ("Content-Type", "text/xml"));
    let echo = server.request(
        "POST",
        "/xmlrpc/",
        &[("Authorization", &basic), xml],
        ECHO.as_bytes(),
    );
    assert_eq!(echo.status, 200, "{}", echo.body);
    assert!(echo.body.contains("<string>ping</string>"), "{}", echo.body);
    let anonymous = server.request("POST", "/xmlrpc/", &[xml], ECHO.as_bytes());
    assert_eq!(anonymous.status, 401, "{}", anonymous.body);

    // Plain HTTP on the TLS port gets no HTTP answer, and does not disturb the listener.
    let plain = Http::plain().get(server.port, "/healthz");
    assert!(plain.is_err(), "{plain:?}");
    assert_eq!(server.get("/healthz").0, 200);
    assert!(server.stop().success(), "SIGTERM is a clean stop");

    // Refused configurations: each exits non-zero, naming what is wrong.
    let serve = |env: &[(&str, String)]| {
        let listen = format!("127.0.0.1:{}", free_port());
        let mut command = signpost(dir.path(), env);
        output_within(
            command.env("SIGNPOST_LISTEN", listen).arg("serve"),
            Duration::from_secs(60),
        )
    };
    let line = one_line_failure(serve(&[("SIGNPOST_TLS_CERT", cert.clone())]));
    assert!(line.contains("tls_key"), "{line}");
    let line = one_line_failure(serve(&[("SIGNPOST_TLS_KEY", key.clone())]));
    assert!(line.contains("tls_cert"), "{line}");
    let absent = dir.path().join("absent.pem").display().to_string();
    let output = serve(&[
        ("SIGNPOST_TLS_CERT", absent.clone()),
        ("SIGNPOST_TLS_KEY", key),
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    let last = stderr.trim().lines().last().unwrap_or_default();
    assert!(
        last.starts_with("signpost: ") && last.contains(&absent),
        "{stderr}"
    );
}

/// A tls_cert file that holds no PEM certificate must stop the start, like an unreadable one.
#[test]
fn a_certificate_file_without_a_certificate_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let key = rcgen::KeyPair::generate().unwrap().serialize_pem();
    std::fs::write(dir.path().join("key.pem"), key).unwrap();
    std::fs::write(dir.path().join("cert.pem"), "not a certificate\n").unwrap();
    let mut command = signpost(dir.path(), &[]);
    command.env("SIGNPOST_LISTEN", format!("127.0.0.1:{}", free_port()));
    command.envs([
        ("SIGNPOST_TLS_CERT", "cert.pem"),
        ("SIGNPOST_TLS_KEY", "key.pem"),
    ]);
    let output = output_within(command.arg("serve"), Duration::from_secs(30));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    let last = stderr.trim().lines().last().unwrap_or_default();
    assert!(last.contains("holds no PEM certificate"), "{stderr}");
    assert!(!stderr.contains("signpost is serving"), "{stderr}");
}

/// Polls `server`'s phone path until it answers `expected`; called right after the write's
/// response, it answers how long that took. Before, only `previous` may come; after, only
/// `expected` (three more requests check that the answer never goes back).
fn await_answer(
    server: &Server,
    path: &str,
    previous: &str,
    expected: &str,
) -> Result<Duration, String> {
    let written = Instant::now();
    let fetch = || match server.try_get(path) {
        Ok(r) if r.status == 200 => Ok(r.body),
        Ok(r) => Err(format!("{path} answered {}: {}", r.status, r.body)),
        Err(e) => Err(format!("{path} failed: {e}")),
    };
    loop {
        let body = fetch()?;
        let seen = written.elapsed();
        if body == expected {
            for _ in 0..3 {
                let again = fetch()?;
                if again != expected {
                    return Err(format!("{path} went back after {seen:?}: {again}"));
                }
            }
            return Ok(seen);
        } else if body != previous {
            return Err(format!(
                "{path} answered neither the old nor the new: {body}"
            ));
        } else if seen > Duration::from_secs(10) {
            return Err(format!(
                "{path} still answers the old document after {seen:?}"
            ));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// min, p50, p90, p99 and max in milliseconds (nearest rank).
fn distribution(samples: &[Duration]) -> String {
    let mut ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1e3).collect();
    ms.sort_by(f64::total_cmp);
    let n = ms.len();
    let at = |p: f64| ms.get(((n.max(1) - 1) as f64 * p).round() as usize);
    let points = [
        ("min", 0.0),
        ("p50", 0.5),
        ("p90", 0.9),
        ("p99", 0.99),
        ("max", 1.0),
    ];
    let points = points.map(|(name, p)| format!("{name}={:.1}", at(p).unwrap_or(&f64::NAN)));
    format!("n={n} {} ms", points.join(" "))
}

/// Prints the distribution; fails on any wrong answer or any delay beyond the correctness
/// bound of one second.
fn check(what: &str, results: Vec<Result<Duration, String>>) {
    let (delays, errors): (Vec<_>, Vec<_>) = results.into_iter().partition(Result::is_ok);
    let delays: Vec<Duration> = delays.into_iter().map(Result::unwrap).collect();
    let errors: Vec<String> = errors.into_iter().map(Result::unwrap_err).collect();
    let summary = format!("{what}: {}", distribution(&delays));
    println!("{summary}");
    assert!(errors.is_empty(), "{summary}; wrong answers: {errors:#?}");
    assert!(
        delays.iter().all(|d| *d <= Duration::from_secs(1)),
        "{summary}"
    );
}

#[test]
fn two_replicas_see_each_others_writes_within_100ms() {
    let Some(redis_url) = backend_url(Backend::Redis) else {
        return;
    };
    let Some(database) = DatabaseGuard::create() else {
        return;
    };
    let env = phone_env(&[
        ("SIGNPOST_DATABASE_URL", database.url()),
        ("SIGNPOST_REDIS_URL", redis_url),
        (
            "SIGNPOST_REDIS_PREFIX",
            format!("{}:", unique_name("phone")),
        ),
        (
            "SIGNPOST_JWT_SECRET",
            unique_name("replicas-share-this-jwt-secret"),
        ),
    ]);
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = Server::start(dir_a.path(), &env);
    await_readiness(&a, 200);
    let b = Server::start(dir_b.path(), &env);
    await_readiness(&b, 200);
    let admin = Admin::bootstrap(&a, dir_a.path(), &env);

    let url = |i: usize| redirect_xml(&format!("https://v{i}.example/cfg?mac={{mac}}&n={i}"));
    admin.put("/v1/tenants/acme", tenant("active"));
    admin.put_device("acme", MAC, "https://v0.example/cfg?mac={mac}&n=0");
    assert_eq!(b.body(PHONE), url(0), "B's cache warmed");
    let device_writes = (1..=50).map(|i| {
        admin.put_device(
            "acme",
            MAC,
            &format!("https://v{i}.example/cfg?mac={{mac}}&n={i}"),
        );
        await_answer(&b, PHONE, &url(i - 1), &url(i))
    });
    check(
        "device URL written on A, seen on B",
        device_writes.collect(),
    );

    let (profiled, profile) = (phone_path("000413AABBCD"), "/v1/tenants/acme/profiles/desk");
    let profile_url = |j: usize| format!("https://p{j}.example/{{mac}}");
    admin.put(profile, json!({"setting_server": profile_url(0)}));
    admin.put(
        "/v1/tenants/acme/devices/000413AABBCD",
        json!({"profile": "desk"}),
    );
    assert_eq!(b.body(&profiled), redirect_xml(&profile_url(0)));
    let profile_writes = (1..=5).map(|j| {
        admin.put(profile, json!({"setting_server": profile_url(j)}));
        let (before, after) = (
            redirect_xml(&profile_url(j - 1)),
            redirect_xml(&profile_url(j)),
        );
        await_answer(&b, &profiled, &before, &after)
    });
    check(
        "profile URL written on A, seen on B",
        profile_writes.collect(),
    );

    admin.put("/v1/tenants/acme", tenant("suspended"));
    let suspended = await_answer(&b, PHONE, &url(50), EMPTY_XML);
    assert_eq!(
        b.body(&profiled),
        EMPTY_XML,
        "the profile's device is suspended too"
    );
    admin.put("/v1/tenants/acme", tenant("active"));
    let reactivated = await_answer(&b, PHONE, EMPTY_XML, &url(50));
    check(
        "tenant suspended, then reactivated, on A, seen on B",
        vec![suspended, reactivated],
    );
}

/// One phone request of the load: when it was sent (since the run began), how long it took,
/// and what was wrong with the answer.
struct Sample {
    at: Duration,
    took: Duration,
    failure: Option<String>,
}

/// A client firing phone requests until told to stop: registered MACs already cached, others
/// asked for the first time as the run goes on (one more every 250 ms), the legacy text path,
/// and MACs nobody registered.
fn phone_client(
    client: u64,
    port: u16,
    devices: &[(String, String)],
    start: Instant,
    stop: &AtomicBool,
) -> Vec<Sample> {
    let (http, (warm, cold)) = (Http::plain(), devices.split_at(devices.len() / 2));
    let mut state = 0x9E37_79B9_7F4A_7C15_u64 ^ (client + 1).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    let mut random = |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n as u64) as usize
    };
    let (mut samples, mut unknown) = (Vec::new(), 0u32);
    while !stop.load(Ordering::Relaxed) {
        let at = start.elapsed();
        let (path, expected) = match random(10) {
            0..=3 => {
                let (mac, url) = &warm[random(warm.len())];
                (phone_path(mac), redirect_xml(url))
            }
            4..=6 => {
                let open = (1 + at.as_millis() as usize / 250).min(cold.len());
                let (mac, url) = &cold[open - 1 - random(open.min(3))];
                (phone_path(mac), redirect_xml(url))
            }
            7 => {
                let (mac, url) = &warm[random(warm.len())];
                (
                    format!("/snomD785/snomD785.php?mac={mac}"),
                    redirect_text(url),
                )
            }
            _ => {
                unknown += 1;
                let mac = format!("0004{client:02X}{unknown:06X}");
                (phone_path(&mac), EMPTY_XML.to_owned())
            }
        };
        let sent = Instant::now();
        let failure = match http.get(port, &path) {
            Ok(r) if r.status == 200 && r.body == expected => None,
            Ok(r) => Some(format!("{path} at {at:?}: {} {:?}", r.status, r.body)),
            Err(e) => Some(format!("{path} at {at:?}: {e}")),
        };
        let took = sent.elapsed();
        samples.push(Sample { at, took, failure });
    }
    samples
}

/// Sets the flag when dropped, so that a failing test does not leave its clients running.
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// A raw RESP exchange with a redis-server: sends `args` (if any) and reads until `done`
/// holds for what arrived, or five seconds pass.
fn resp(stream: &mut TcpStream, args: &[&str], done: impl Fn(&str) -> bool) -> String {
    let mut command = format!("*{}\r\n", args.len());
    for arg in args {
        command.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
    }
    if !args.is_empty() {
        stream.write_all(command.as_bytes()).unwrap();
    }
    stream
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let (deadline, mut received, mut buffer) = (
        Instant::now() + Duration::from_secs(5),
        Vec::new(),
        [0u8; 4096],
    );
    while !done(&String::from_utf8_lossy(&received)) && Instant::now() < deadline {
        if let Ok(n) = stream.read(&mut buffer) {
            received.extend_from_slice(&buffer[..n]);
        }
    }
    String::from_utf8_lossy(&received).into_owned()
}

/// `GET key` over RESP: nil or one bulk string (cache entries are JSON, without CRLF).
fn redis_get(stream: &mut TcpStream, key: &str) -> String {
    resp(stream, &["GET", key], |r| {
        r == "$-1\r\n" || r.matches("\r\n").count() >= 2
    })
}

#[test]
fn phone_requests_survive_redis_stopping_mid_run() {
    let Some(database) = DatabaseGuard::create() else {
        return;
    };
    let mut redis = PrivateRedis::start();
    let prefix = format!("{}:", unique_name("outage"));
    let env = phone_env(&[
        ("SIGNPOST_DATABASE_URL", database.url()),
        ("SIGNPOST_REDIS_URL", redis.url()),
        ("SIGNPOST_REDIS_PREFIX", prefix.clone()),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &env);
    assert_eq!(await_readiness(&server, 200)["checks"]["redis"], "ok");
    let admin = Admin::bootstrap(&server, dir.path(), &env);
    admin.put("/v1/tenants/acme", tenant("active"));
    let mut devices: Vec<(String, String)> = (0..50)
        .map(|i| {
            (
                format!("000413CC{i:04X}"),
                format!("https://d{i}.example/{{mac}}"),
            )
        })
        .collect();
    for (mac, url) in &devices {
        admin.put_device("acme", mac, url);
    }
    // The last device is written during the outage, so it stays out of the load; the first
    // half is cached before it starts.
    let (moved, _) = devices.pop().unwrap();
    for (mac, url) in &devices[..devices.len() / 2] {
        assert_eq!(server.body(&phone_path(mac)), redirect_xml(url));
    }

    let (start, stop, devices) = (
        Instant::now(),
        Arc::new(AtomicBool::new(false)),
        Arc::new(devices),
    );
    let _stop_clients = StopOnDrop(stop.clone());
    let clients: Vec<_> = (0..4)
        .map(|client| {
            let (devices, stop, port) = (devices.clone(), stop.clone(), server.port);
            std::thread::spawn(move || phone_client(client, port, &devices, start, &stop))
        })
        .collect();
    let wait_until = |s| {
        std::thread::sleep(
            (start + Duration::from_secs(s)).saturating_duration_since(Instant::now()),
        )
    };
    wait_until(2);
    redis.stop();
    let killed = start.elapsed();
    wait_until(3);
    let (moved_url, write) = ("https://moved.example/{mac}", Instant::now());
    admin.put_device("acme", &moved, moved_url);
    let write_took = write.elapsed();
    assert_eq!(
        server.body(&phone_path(&moved)),
        redirect_xml(moved_url),
        "written during the outage"
    );
    wait_until(4);
    redis.restart();
    let restarted = start.elapsed();
    wait_until(6);
    stop.store(true, Ordering::Relaxed);
    let samples: Vec<Sample> = clients
        .into_iter()
        .flat_map(|c| c.join().unwrap())
        .collect();

    let (mut counts, mut slowest) = ([0usize; 3], [Duration::ZERO; 3]);
    for sample in &samples {
        let phase = usize::from(sample.at >= killed) + usize::from(sample.at >= restarted);
        counts[phase] += 1;
        slowest[phase] = slowest[phase].max(sample.took);
    }
    let failures: Vec<&String> = samples.iter().filter_map(|s| s.failure.as_ref()).collect();
    let summary = format!(
        "Redis killed at {killed:?}, restarted at {restarted:?}; phone requests before/during/after: \
         {counts:?}, failures: {}; slowest before/during/after: {slowest:?}; \
         REST write during the outage took {write_took:?}",
        failures.len()
    );
    println!("{summary}");
    assert!(
        failures.is_empty(),
        "{summary}; first failures: {:#?}",
        &failures[..failures.len().min(10)]
    );
    assert!(counts.iter().all(|&n| n > 0), "{summary}");

    // Redis is back: wait until the service uses it again (a fresh device's first lookup
    // stores its entry there), then a write must delete that entry and announce it.
    await_readiness(&server, 200);
    let mut probe = TcpStream::connect(("127.0.0.1", redis.port)).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let (mac, key) = (1..)
        .find_map(|k: u32| {
            let mac = format!("000413DD{k:04X}");
            admin.put_device("acme", &mac, "https://before.example/{mac}");
            assert_eq!(
                server.body(&phone_path(&mac)),
                redirect_xml("https://before.example/{mac}")
            );
            let key = format!("{prefix}dev:{mac}");
            if redis_get(&mut probe, &key).contains("before.example") {
                return Some((mac, key));
            }
            assert!(
                Instant::now() < deadline,
                "the service never used Redis again"
            );
            std::thread::sleep(Duration::from_millis(200));
            None
        })
        .unwrap();
    let mut subscriber = TcpStream::connect(("127.0.0.1", redis.port)).unwrap();
    resp(
        &mut subscriber,
        &["SUBSCRIBE", &format!("{prefix}invalidate")],
        |r| r.ends_with(":1\r\n"),
    );
    admin.put_device("acme", &mac, "https://after.example/{mac}");
    let shared = redis_get(&mut probe, &key);
    assert!(
        !shared.contains("before.example"),
        "the shared entry outlived the write: {shared}"
    );
    let needle = format!("dev:{mac}");
    let published = resp(&mut subscriber, &[], |r| r.contains(&needle));
    assert!(
        published.contains(&needle),
        "no invalidation published: {published:?}"
    );
    assert_eq!(
        server.body(&phone_path(&mac)),
        redirect_xml("https://after.example/{mac}")
    );
}
