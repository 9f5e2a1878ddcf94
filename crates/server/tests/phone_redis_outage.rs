//! Phones answered while Redis dies and comes back, on the real binary: no request fails,
//! and once Redis is back the shared cache and its invalidations work again.
//!
//! The outage figures are printed (see them with `--nocapture`), not asserted.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::phone::{EMPTY_XML, phone_env, phone_path, redirect_text, redirect_xml, tenant};
use common::{Admin, DatabaseGuard, Http, PrivateRedis, Server, await_readiness};
use signpost_testkit::unique_name;

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
