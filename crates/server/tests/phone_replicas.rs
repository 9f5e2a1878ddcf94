//! Two replicas on one PostgreSQL and Redis: a write through one reaches the other's phone
//! answers through Redis pub/sub.
//!
//! The invalidation delay is measured, not asserted: its distribution is printed (see it with
//! `--nocapture`); only the correctness bound of one second fails.

mod common;

use std::time::{Duration, Instant};

use common::phone::{EMPTY_XML, MAC, PHONE, phone_env, phone_path, redirect_xml, tenant};
use common::{Admin, DatabaseGuard, Server, await_readiness};
use serde_json::json;
use signpost_testkit::{Backend, backend_url, unique_name};

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
