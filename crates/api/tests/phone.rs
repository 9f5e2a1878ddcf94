//! The phone endpoints over HTTP: what a booting phone is told, and how fast a write
//! reaches it, on SQLite and on PostgreSQL.

#[macro_use]
mod common;

use common::{TestApp, phone_options};
use serde_json::json;
use signpost_domain::Role;
use signpost_service::phone::PhoneRateLimits;
use signpost_store::ratelimit::BucketRule;

const D785_UA: &str = "Mozilla/4.0 (compatible; snomD785-SIP 10.1.33.33 2010.12-00004-g9ba52f5 000413922D24 SXM:0 UXM:0)";
const EMPTY_XML: &str = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<settings><phone-settings></phone-settings></settings>\n";
const EMPTY_TEXT: &str = "<html>\n<pre>\n# signpost\n</pre>\n</html>\n";

on_both_registries!(
    every_endpoint_carries_the_setting_server,
    every_no_is_the_same_document,
    writes_reach_the_phone_at_once,
    profile_extra_settings_join_the_document,
    last_seen_is_recorded_off_the_request_path,
);

struct Answer {
    status: u16,
    content_type: String,
    cache_control: String,
    body: String,
}

async fn phone(app: &TestApp, path: &str, user_agent: Option<&str>) -> Answer {
    let mut request = app.client.get(path);
    if let Some(ua) = user_agent {
        request = request.header("user-agent", ua);
    }
    let response = request.send().await;
    let header = |name: &str| {
        response
            .0
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    };
    let (status, content_type, cache_control) = (
        response.0.status().as_u16(),
        header("content-type"),
        header("cache-control"),
    );
    let body = response.0.into_body().into_string().await.unwrap();
    Answer {
        status,
        content_type,
        cache_control,
        body,
    }
}

fn xml_with(url_escaped: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<settings><phone-settings>\
         <setting_server perm=\"RW\">{url_escaped}</setting_server></phone-settings></settings>\n"
    )
}

fn text_with(url: &str) -> String {
    format!("<html>\n<pre>\n# signpost\nsetting_server$: {url}\n</pre>\n</html>\n")
}

async fn put_device(app: &TestApp, token: &str, mac: &str, body: serde_json::Value) {
    let (status, body) = app
        .call(
            "PUT",
            &format!("/v1/tenants/acme/devices/{mac}"),
            token,
            Some(body),
        )
        .await;
    assert!(status == 200 || status == 201, "{body}");
}

async fn every_endpoint_carries_the_setting_server(app: &TestApp) {
    let admin = app.platform_token().await;
    app.tenant(&admin, "acme").await;
    let url = "https://prov.acme.example/{mac}?a=1&b=2";
    put_device(app, &admin, "000413922D24", json!({"setting_server": url})).await;

    let legacy = phone(app, "/snomD785/snomD785.php?mac=000413922D24", None).await;
    assert_eq!(legacy.status, 200);
    assert_eq!(legacy.body, text_with(url), "verbatim in the text format");
    assert_eq!(legacy.content_type, "text/plain; charset=utf-8");
    assert_eq!(legacy.cache_control, "no-store");

    let escaped = "https://prov.acme.example/{mac}?a=1&amp;b=2";
    let by_path = phone(app, "/snomD785-000413922D24.htm", None).await;
    assert_eq!(by_path.body, xml_with(escaped));
    assert_eq!(by_path.content_type, "text/xml; charset=utf-8");
    assert_eq!(by_path.cache_control, "no-store");

    let by_agent = phone(app, "/snomD785.htm", Some(D785_UA)).await;
    assert_eq!(by_agent.body, xml_with(escaped), "MAC from the User-Agent");

    // The legacy path also falls back to the User-Agent, and takes other MAC spellings.
    let legacy_ua = phone(app, "/snomD785/snomD785.php", Some(D785_UA)).await;
    assert_eq!(legacy_ua.body, text_with(url));
    let colons = phone(app, "/snomD785/snomD785.php?mac=00:04:13:92:2d:24", None).await;
    assert_eq!(colons.body, text_with(url));

    let head = app.client.head("/snomD785-000413922D24.htm").send().await;
    assert_eq!(head.0.status().as_u16(), 200);
    assert_eq!(head.0.headers()["cache-control"], "no-store");
    assert!(head.0.into_body().into_bytes().await.unwrap().is_empty());

    // The lane ahead of the router takes plain GETs of phone paths; the router answers
    // what it leaves alone the same way.
    let encoded = phone(app, "/snomD785%2D000413922D24.htm", None).await;
    assert_eq!(
        encoded.body, by_path.body,
        "a percent-encoded name, through the router"
    );
    let api = phone(app, "/v1/v1.php?mac=000413922D24", None).await;
    assert_eq!(
        api.status, 404,
        "/v1/ is the REST API's, even for a phone-like name"
    );
    assert_eq!(api.content_type, "application/problem+json");
    let post = app.client.post("/snomD785-000413922D24.htm").send().await;
    assert_eq!(post.0.status().as_u16(), 405);

    for bad in [
        "/snomD785-0004139.htm",
        "/snomD785.xml",
        "/snom710/snomD785.php?mac=000413922D24",
        "/snomD785/snomD785.txt",
    ] {
        assert_eq!(phone(app, bad, None).await.status, 404, "{bad}");
    }
}

async fn every_no_is_the_same_document(app: &TestApp) {
    let admin = app.platform_token().await;
    app.tenant(&admin, "acme").await;
    app.tenant(&admin, "frozen").await;
    // Registered without any URL anywhere.
    put_device(app, &admin, "000413000001", json!({})).await;
    // Registered to a suspended tenant.
    let (status, body) = app
        .call(
            "PUT",
            "/v1/tenants/frozen/devices/000413000002",
            &admin,
            Some(json!({"profile": "desk"})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = app
        .call(
            "PUT",
            "/v1/tenants/frozen",
            &admin,
            Some(json!({"display_name": "Frozen", "status": "suspended"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    for mac in ["000413000001", "000413000002", "000413FFFFFF"] {
        let xml = phone(app, &format!("/snomD785-{mac}.htm"), None).await;
        assert_eq!((xml.status, xml.body.as_str()), (200, EMPTY_XML), "{mac}");
        let text = phone(app, &format!("/snomD785/snomD785.php?mac={mac}"), None).await;
        assert_eq!(
            (text.status, text.body.as_str()),
            (200, EMPTY_TEXT),
            "{mac}"
        );
    }
    // No MAC anywhere: a User-Agent without one, or a malformed query value.
    let old_phone = "Mozilla/4.0 (compatible; snom320-SIP 8.4.18 1.1.3-s)";
    assert_eq!(
        phone(app, "/snom320.htm", Some(old_phone)).await.body,
        EMPTY_XML
    );
    assert_eq!(
        phone(app, "/snom320/snom320.php?mac=zz", None).await.body,
        EMPTY_TEXT
    );
}

async fn writes_reach_the_phone_at_once(app: &TestApp) {
    let admin = app.platform_token().await;
    app.tenant(&admin, "acme").await;
    let path = "/snomD785-000413922D24.htm";
    // Cache the negative answer first: the registration must replace it.
    assert_eq!(phone(app, path, None).await.body, EMPTY_XML);
    put_device(app, &admin, "000413922D24", json!({"profile": "desk"})).await;
    assert_eq!(
        phone(app, path, None).await.body,
        xml_with("https://acme.example.com/{mac}")
    );

    // A profile change is seen by its devices.
    let (status, body) = app
        .call(
            "PUT",
            "/v1/tenants/acme/profiles/desk",
            &admin,
            Some(json!({"setting_server": "https://v2.example/"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        phone(app, path, None).await.body,
        xml_with("https://v2.example/")
    );

    // The device's own URL wins; removing it falls back to the profile.
    put_device(
        app,
        &admin,
        "000413922D24",
        json!({"profile": "desk", "setting_server": "https://own.example/"}),
    )
    .await;
    assert_eq!(
        phone(app, path, None).await.body,
        xml_with("https://own.example/")
    );

    // Suspending the tenant silences it; the tenant default applies without a profile.
    let tenant = |status: &str| json!({"display_name": "Acme", "status": status, "default_setting_server": "https://default.example/"});
    let (code, body) = app
        .call("PUT", "/v1/tenants/acme", &admin, Some(tenant("suspended")))
        .await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(phone(app, path, None).await.body, EMPTY_XML);
    let (code, body) = app
        .call("PUT", "/v1/tenants/acme", &admin, Some(tenant("active")))
        .await;
    assert_eq!(code, 200, "{body}");
    put_device(app, &admin, "000413922D24", json!({})).await;
    assert_eq!(
        phone(app, path, None).await.body,
        xml_with("https://default.example/")
    );

    // A batch invalidates every device it touches.
    let (status, body) = app
        .call(
            "POST",
            "/v1/tenants/acme/devices/batch",
            &admin,
            Some(json!({"operations": [
                {"action": "upsert", "mac": "000413922D24", "setting_server": "https://batch.example/"},
            ]})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        phone(app, path, None).await.body,
        xml_with("https://batch.example/")
    );

    let (status, _) = app
        .call(
            "DELETE",
            "/v1/tenants/acme/devices/000413922D24",
            &admin,
            None,
        )
        .await;
    assert_eq!(status, 204);
    assert_eq!(phone(app, path, None).await.body, EMPTY_XML);
}

async fn profile_extra_settings_join_the_document(app: &TestApp) {
    let admin = app.platform_token().await;
    app.tenant(&admin, "acme").await;
    let (status, body) = app
        .call(
            "PUT",
            "/v1/tenants/acme/profiles/desk",
            &admin,
            Some(json!({
                "setting_server": "https://acme.example/",
                "extra_settings": [
                    {"name": "update_policy", "value": "auto_update", "perm": "read-only"},
                    {"name": "user_name", "idx": 1, "value": "a<b", "perm": "remain"},
                ],
            })),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    put_device(app, &admin, "000413922D24", json!({"profile": "desk"})).await;
    let xml = phone(app, "/snomD785-000413922D24.htm", None).await.body;
    assert!(xml.contains("<setting_server perm=\"RW\">https://acme.example/</setting_server><update_policy perm=\"R\">auto_update</update_policy><user_name idx=\"1\" perm=\"!\">a&lt;b</user_name>"), "{xml}");
    let text = phone(app, "/snomD785/snomD785.php?mac=000413922D24", None)
        .await
        .body;
    assert!(text.contains("setting_server$: https://acme.example/\nupdate_policy&: auto_update\nuser_name1!: a<b\n"), "{text}");
}

async fn last_seen_is_recorded_off_the_request_path(app: &TestApp) {
    let admin = app.platform_token().await;
    app.tenant(&admin, "acme").await;
    put_device(app, &admin, "000413922D24", json!({"profile": "desk"})).await;
    phone(app, "/snomD785.htm", Some(D785_UA)).await;
    let (_, device) = app
        .call("GET", "/v1/tenants/acme/devices/000413922D24", &admin, None)
        .await;
    assert!(
        device["last_seen"].is_null(),
        "nothing is written on the request path"
    );
    assert_eq!(app.phone.flush_sightings().await, 1);
    let (_, device) = app
        .call("GET", "/v1/tenants/acme/devices/000413922D24", &admin, None)
        .await;
    assert_eq!(device["phone_type"], "snomD785");
    assert_eq!(device["last_seen"]["firmware_version"], "10.1.33.33");
    assert_eq!(device["last_seen"]["user_agent"], D785_UA);
    assert_eq!(device["last_seen"]["source_address"], "127.0.0.1");
    // Unknown MACs are not noted at all.
    phone(app, "/snomD785-000413FFFFFF.htm", None).await;
    assert_eq!(app.phone.flush_sightings().await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scanner_is_stopped_and_then_learns_nothing() {
    let mut options = phone_options();
    options.rate_limits = Some(PhoneRateLimits {
        requests: BucketRule {
            burst: 1_000,
            per_second: 100.0,
        },
        // One miss refilled every 100 s: nothing refills while the test runs.
        misses: BucketRule {
            burst: 3,
            per_second: 0.01,
        },
    });
    let app = TestApp::sqlite_with(options).await;
    let admin = app.platform_token().await;
    app.tenant(&admin, "acme").await;
    put_device(&app, &admin, "000413922D24", json!({"profile": "desk"})).await;

    // Hits do not spend the miss budget.
    for _ in 0..10 {
        assert_eq!(
            phone(&app, "/snomD785-000413922D24.htm", None).await.status,
            200
        );
    }
    for mac in 1..=3 {
        let answer = phone(&app, &format!("/snomD785-0004130000{mac:02}.htm"), None).await;
        assert_eq!(answer.status, 200);
    }
    let response = app.client.get("/snomD785-000413000004.htm").send().await;
    assert_eq!(response.0.status().as_u16(), 429);
    let retry_after: u64 = response.0.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=100).contains(&retry_after), "{retry_after}");
    // Once refused, a source cannot tell registered MACs from the rest.
    assert_eq!(
        phone(&app, "/snomD785-000413922D24.htm", None).await.status,
        429
    );
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_office_booting_at_once_is_not_limited() {
    let mut options = phone_options();
    options.rate_limits = Some(PhoneRateLimits {
        requests: BucketRule {
            burst: 2_000,
            per_second: 200.0,
        },
        misses: BucketRule {
            burst: 60,
            per_second: 1.0,
        },
    });
    let app = TestApp::sqlite_with(options).await;
    let admin = app.platform_token().await;
    app.tenant(&admin, "acme").await;
    let operations: Vec<_> = (0..500)
        .map(|i| json!({"action": "upsert", "mac": format!("000413{i:06X}"), "profile": "desk"}))
        .collect();
    let (status, body) = app
        .call(
            "POST",
            "/v1/tenants/acme/devices/batch",
            &admin,
            Some(json!({"operations": operations})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    // 500 phones behind one address, each asking for both files.
    for i in 0..500 {
        for path in [
            "/snomD785.htm".to_owned(),
            format!("/snomD785-000413{i:06X}.htm"),
        ] {
            let ua = format!("Mozilla/4.0 (compatible; snomD785-SIP 10.1.33.33 x 000413{i:06X})");
            let answer = phone(&app, &path, Some(&ua)).await;
            assert_eq!(answer.status, 200, "{path}");
            assert!(answer.body.contains("acme.example.com"), "{path}");
        }
    }
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_reader_cannot_change_redirects() {
    // Keeps the role rules of the REST API in force for the writes that invalidate.
    let app = TestApp::sqlite().await;
    let admin = app.platform_token().await;
    app.tenant(&admin, "acme").await;
    let reader = app.token(Some("acme"), Role::TenantReader).await;
    let (status, _) = app
        .call(
            "PUT",
            "/v1/tenants/acme/devices/000413922D24",
            &reader,
            Some(json!({"profile": "desk"})),
        )
        .await;
    assert_eq!(status, 403);
    assert_eq!(
        phone(&app, "/snomD785-000413922D24.htm", None).await.body,
        EMPTY_XML
    );
    app.finish().await;
}
