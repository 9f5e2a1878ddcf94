//! The registry's bulk operations of the phone path, run against SQLite and PostgreSQL:
//! routes of many MACs at once (`routes`) and last-seen writes (`record_sightings`).

#[macro_use]
mod common;

use std::sync::Arc;

use common::Fixture;
use common::registry::*;

use signpost_domain::{Mac, Timestamp};
use signpost_store::registry::*;

contract!(
    routes_of_many_macs_in_one_query,
    sightings_update_many_devices_at_once,
    sightings_keep_phone_type_and_carry_any_text,
);

async fn routes_of_many_macs_in_one_query(r: Arc<SqlRegistry>) {
    tenant_with_profile(&r, "acme", "desk").await;
    tenant_with_profile(&r, "globex", "desk").await;
    let mut own = device(2, None);
    own.setting_server = Some(url("http://10.0.0.5/snom"));
    let acme_ops = vec![
        DeviceOp::Upsert(device(1, Some("desk"))),
        DeviceOp::Upsert(own),
    ];
    r.apply_batch(&ctx("k"), &tid("acme"), acme_ops)
        .await
        .unwrap();
    DeviceRepo::put(&*r, &ctx("k"), &tid("globex"), device(3, None))
        .await
        .unwrap();
    assert!(r.routes(&[]).await.unwrap().is_empty());

    // Unknown MACs are left out, a repeated one is answered once, and each route is the
    // device's own, whichever tenant holds it.
    let mut routes = r
        .routes(&[mac(3), mac(9), mac(1), mac(2), mac(1)])
        .await
        .unwrap();
    routes.sort_by_key(|(m, _)| *m);
    let expected = vec![
        (mac(1), r.route(mac(1)).await.unwrap().unwrap()),
        (mac(2), r.route(mac(2)).await.unwrap().unwrap()),
        (mac(3), r.route(mac(3)).await.unwrap().unwrap()),
    ];
    assert_eq!(routes, expected);
    assert_eq!(routes[0].1.profile, Some(pid("desk")));
    assert_eq!(
        routes[1].1.setting_server,
        Some(url("http://10.0.0.5/snom"))
    );
    assert_eq!(routes[2].1.tenant, tid("globex"));

    // More MACs than a statement has parameters: they travel as one value.
    let many: Vec<Mac> = (0..5_000).map(mac).collect();
    assert_eq!(r.routes(&many).await.unwrap().len(), 3);
}

async fn sightings_update_many_devices_at_once(r: Arc<SqlRegistry>) {
    tenant_with_profile(&r, "acme", "desk").await;
    let acme = tid("acme");
    // More devices than one sightings statement takes (100 on SQLite, 2,000 on PostgreSQL).
    let ops = (0..2_500)
        .map(|n| DeviceOp::Upsert(device(n, Some("desk"))))
        .collect();
    r.apply_batch(&ctx("k"), &acme, ops).await.unwrap();
    let at = |ms: i64| Timestamp::from_unix_millis(1_700_000_000_000 + ms);
    let sighting = |n: u32, ms: i64, addr: &str| Sighting {
        mac: mac(n),
        at: at(ms),
        source_address: addr.into(),
        user_agent: Some("Mozilla/4.0 (compatible; snom710-SIP 8.7.5.35)".into()),
        firmware_version: Some("8.7.5.35".parse().unwrap()),
        phone_type: Some("snom710".parse().unwrap()),
    };
    let mut batch: Vec<_> = (0..2_500).map(|n| sighting(n, 10, "192.0.2.10")).collect();
    batch.push(sighting(5, 20, "192.0.2.99")); // the later sighting of a repeated MAC wins
    batch.push(sighting(999_999, 10, "192.0.2.1")); // unknown MACs are ignored
    assert_eq!(r.record_sightings(&batch).await.unwrap(), 2_500);

    let d5 = DeviceRepo::get(&*r, &acme, mac(5)).await.unwrap().unwrap();
    let seen = d5.last_seen.unwrap();
    assert_eq!(
        (seen.at, seen.source_address.as_str()),
        (at(20), "192.0.2.99")
    );
    assert_eq!(d5.phone_type.unwrap().as_str(), "snom710");
    for n in [0, 1_999, 2_000, 2_499] {
        let d = DeviceRepo::get(&*r, &acme, mac(n)).await.unwrap().unwrap();
        assert_eq!(d.last_seen.unwrap().at, at(10), "device {n}");
    }

    // An older sighting arriving late does not move last-seen backwards.
    r.record_sightings(&[sighting(5, 1, "192.0.2.50")])
        .await
        .unwrap();
    let d5 = DeviceRepo::get(&*r, &acme, mac(5)).await.unwrap().unwrap();
    assert_eq!(d5.last_seen.unwrap().source_address, "192.0.2.99");
    // Last-seen is not a change: no audit event.
    let events = EventRepo::list(
        &*r,
        &acme,
        &EventFilter {
            action: Some("device.update".into()),
            ..Default::default()
        },
        None,
        10,
    )
    .await
    .unwrap();
    assert!(events.is_empty());
}

async fn sightings_keep_phone_type_and_carry_any_text(r: Arc<SqlRegistry>) {
    tenant_with_profile(&r, "acme", "desk").await;
    let acme = tid("acme");
    let ops = (1..=2)
        .map(|n| DeviceOp::Upsert(device(n, Some("desk"))))
        .collect();
    r.apply_batch(&ctx("k"), &acme, ops).await.unwrap();
    let at = |ms: i64| Timestamp::from_unix_millis(1_700_000_000_000 + ms);
    // Quotes, backslashes, control characters and non-ASCII survive the trip as JSON text.
    let odd_agent = "snom \"D785\" \\SIP\\ 'q' \t\n caf\u{e9} \u{1f4de} end";
    r.record_sightings(&[
        Sighting {
            mac: mac(1),
            at: at(10),
            source_address: "2001:db8::1".into(),
            user_agent: Some(odd_agent.into()),
            firmware_version: Some("10.1.33.33".parse().unwrap()),
            phone_type: Some("snomD785".parse().unwrap()),
        },
        Sighting {
            mac: mac(2),
            at: at(10),
            source_address: "192.0.2.2".into(),
            user_agent: None,
            firmware_version: None,
            phone_type: None,
        },
    ])
    .await
    .unwrap();
    let d1 = DeviceRepo::get(&*r, &acme, mac(1)).await.unwrap().unwrap();
    let seen = d1.last_seen.unwrap();
    assert_eq!(seen.user_agent.as_deref(), Some(odd_agent));
    assert_eq!(seen.source_address, "2001:db8::1");
    assert_eq!(seen.firmware_version.unwrap().as_str(), "10.1.33.33");
    assert_eq!(d1.phone_type.unwrap().as_str(), "snomD785");
    let d2 = DeviceRepo::get(&*r, &acme, mac(2)).await.unwrap().unwrap();
    let seen = d2.last_seen.unwrap();
    assert_eq!(
        (seen.at, seen.user_agent, seen.firmware_version),
        (at(10), None, None)
    );
    assert_eq!(d2.phone_type, None);

    // A later sighting without a phone type keeps the known one; its other fields still land.
    let updated = r
        .record_sightings(&[Sighting {
            mac: mac(1),
            at: at(20),
            source_address: "192.0.2.20".into(),
            user_agent: None,
            firmware_version: None,
            phone_type: None,
        }])
        .await
        .unwrap();
    assert_eq!(updated, 1);
    let d1 = DeviceRepo::get(&*r, &acme, mac(1)).await.unwrap().unwrap();
    let seen = d1.last_seen.unwrap();
    assert_eq!(
        (seen.at, seen.source_address.as_str(), seen.user_agent),
        (at(20), "192.0.2.20", None)
    );
    assert_eq!(d1.phone_type.unwrap().as_str(), "snomD785");

    // Equal timestamps rewrite (the comparison is <=); an older one and an unknown MAC do not.
    let stale = |n: u32, ms: i64| Sighting {
        mac: mac(n),
        at: at(ms),
        source_address: format!("198.51.100.{n}"),
        user_agent: None,
        firmware_version: None,
        phone_type: Some("snom710".parse().unwrap()),
    };
    let updated = r
        .record_sightings(&[stale(1, 19), stale(2, 10), stale(77, 10)])
        .await
        .unwrap();
    assert_eq!(updated, 1);
    let d1 = DeviceRepo::get(&*r, &acme, mac(1)).await.unwrap().unwrap();
    assert_eq!(d1.last_seen.unwrap().source_address, "192.0.2.20");
    assert_eq!(d1.phone_type.unwrap().as_str(), "snomD785");
    let d2 = DeviceRepo::get(&*r, &acme, mac(2)).await.unwrap().unwrap();
    assert_eq!(d2.last_seen.unwrap().source_address, "198.51.100.2");
    assert_eq!(d2.phone_type.unwrap().as_str(), "snom710");
    assert_eq!(r.record_sightings(&[]).await.unwrap(), 0);
}

/// PostgreSQL only: the devices table leaves room on each page, so that a last-seen write
/// (a new version of the whole row) stays on its page and touches no index.
#[tokio::test]
async fn postgres_devices_leave_room_for_last_seen_writes() {
    let Some(fixture) = Fixture::postgres().await else {
        return;
    };
    let url = fixture.postgres_url().expect("a PostgreSQL fixture");
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(url)
        .await
        .unwrap();
    let options: Option<Vec<String>> =
        sqlx::query_scalar("SELECT reloptions FROM pg_class WHERE relname = 'devices'")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert_eq!(options, Some(vec!["fillfactor=70".to_owned()]));
    sqlx::Connection::close(conn).await.unwrap();
    fixture.finish().await;
}
