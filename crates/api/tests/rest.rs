//! The REST API over HTTP, on SQLite and on PostgreSQL.

#[macro_use]
mod common;

use common::{TestApp, json};
use serde_json::{Value, json};
use signpost_domain::Role;

on_both_registries!(
    token_exchange_and_bad_credentials,
    terraform_style_lifecycle,
    devices_profiles_and_redirects,
    batch_is_all_or_nothing_with_item_errors,
    errors_are_problem_documents,
    every_tenant_route_is_isolated,
);

async fn token_exchange_and_bad_credentials(app: &TestApp) {
    let (id, secret) = app.key(None, Role::PlatformAdmin).await;
    let form = |id: &str, secret: &str| {
        format!("grant_type=client_credentials&client_id={id}&client_secret={secret}")
    };
    let response = app
        .client
        .post("/v1/auth/token")
        .content_type("application/x-www-form-urlencoded")
        .body(form(&id, &secret))
        .send()
        .await;
    response.assert_status_is_ok();
    let body = json(response).await;
    assert_eq!(body["token_type"], "Bearer");
    assert!(body["expires_in"].as_u64().unwrap() > 0);

    // HTTP Basic works too.
    let basic = format!("Basic {}", base64_encode(&format!("{id}:{secret}")));
    let response = app
        .client
        .post("/v1/auth/token")
        .header("authorization", basic)
        .content_type("application/x-www-form-urlencoded")
        .body("grant_type=client_credentials")
        .send()
        .await;
    response.assert_status_is_ok();

    for (id, secret) in [(id.as_str(), "wrong"), ("spk_unknown", secret.as_str())] {
        let response = app
            .client
            .post("/v1/auth/token")
            .content_type("application/x-www-form-urlencoded")
            .body(form(id, secret))
            .send()
            .await;
        response.assert_status(poem::http::StatusCode::UNAUTHORIZED);
        response.assert_header("content-type", "application/problem+json");
        assert_eq!(json(response).await["code"], "invalid_client");
    }

    let (status, body) = app.call("GET", "/v1/tenants", "not.a.jwt", None).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("token_malformed")),
        "{body}"
    );
    let response = app.client.get("/v1/tenants").send().await;
    response.assert_status(poem::http::StatusCode::UNAUTHORIZED);
}

async fn terraform_style_lifecycle(app: &TestApp) {
    let admin = app.platform_token().await;
    let tenant = json!({"display_name": "Acme", "default_setting_server": "https://pbx.acme.example/{mac}", "status": "active"});
    let (status, created) = app
        .call("PUT", "/v1/tenants/acme", &admin, Some(tenant.clone()))
        .await;
    assert_eq!(status, 201, "{created}");
    let (status, fetched) = app.call("GET", "/v1/tenants/acme", &admin, None).await;
    assert_eq!(status, 200);
    for field in ["display_name", "default_setting_server", "status"] {
        assert_eq!(fetched[field], tenant[field], "{field}");
    }
    let (status, _) = app
        .call("PUT", "/v1/tenants/acme", &admin, Some(tenant.clone()))
        .await;
    assert_eq!(status, 200);
    let (_, events) = app
        .call("GET", "/v1/tenants/acme/events", &admin, None)
        .await;
    assert_eq!(
        events["items"].as_array().unwrap().len(),
        1,
        "the same PUT again records nothing: {events}"
    );

    let (status, _) = app.call("DELETE", "/v1/tenants/acme", &admin, None).await;
    assert_eq!(status, 204);
    let (status, body) = app.call("GET", "/v1/tenants/acme", &admin, None).await;
    assert_eq!((status, body["code"].as_str()), (404, Some("not_found")));
    let (status, _) = app
        .call("PUT", "/v1/tenants/acme", &admin, Some(tenant))
        .await;
    assert_eq!(status, 201, "PUT recreates");
}

async fn devices_profiles_and_redirects(app: &TestApp) {
    let admin = app.platform_token().await;
    app.tenant(&admin, "acme").await;
    app.tenant(&admin, "rival").await;
    let acme = app.token(Some("acme"), Role::TenantAdmin).await;
    let rival = app.token(Some("rival"), Role::TenantAdmin).await;

    let (status, device) = app
        .call(
            "PUT",
            "/v1/tenants/acme/devices/00:04:13:aa:bb:cc",
            &acme,
            Some(json!({"profile": "desk", "label": "reception"})),
        )
        .await;
    assert_eq!(status, 201, "{device}");
    assert_eq!(device["mac"], "000413AABBCC");
    let (status, _) = app
        .call(
            "GET",
            "/v1/tenants/acme/devices/0004.13aa.bbcc",
            &acme,
            None,
        )
        .await;
    assert_eq!(status, 200);

    let (status, redirect) = app
        .call(
            "GET",
            "/v1/tenants/acme/devices/000413AABBCC/redirect",
            &acme,
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(redirect["setting_server"], "https://acme.example.com/{mac}");
    assert_eq!(redirect["source"], "profile");

    // Re-pointing the fleet is one write.
    let (status, _) = app
        .call(
            "PUT",
            "/v1/tenants/acme/profiles/desk",
            &acme,
            Some(json!({"setting_server": "https://new.acme.example/{mac}"})),
        )
        .await;
    assert_eq!(status, 200);
    let (_, redirect) = app
        .call(
            "GET",
            "/v1/tenants/acme/devices/000413AABBCC/redirect",
            &acme,
            None,
        )
        .await;
    assert_eq!(redirect["setting_server"], "https://new.acme.example/{mac}");

    // One owner per MAC, and nothing about the owner leaks.
    let (status, body) = app
        .call(
            "PUT",
            "/v1/tenants/rival/devices/000413aabbcc",
            &rival,
            Some(json!({"profile": "desk"})),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("mac_owned_by_other_tenant"))
    );
    assert!(!body.to_string().contains("acme"), "{body}");

    let (status, body) = app
        .call("DELETE", "/v1/tenants/acme/profiles/desk", &acme, None)
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("profile_in_use"))
    );

    let (status, page) = app
        .call(
            "GET",
            "/v1/tenants/acme/devices?label_prefix=rec&never_seen=true",
            &acme,
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(page["items"].as_array().unwrap().len(), 1);

    let (_, events) = app
        .call(
            "GET",
            "/v1/tenants/acme/events?action=device.create",
            &acme,
            None,
        )
        .await;
    let event = &events["items"][0];
    assert_eq!(event["target"], "device/000413AABBCC");
    assert!(event["actor"].as_str().unwrap().starts_with("spk_"));
    assert!(event["request_id"].as_str().is_some());
}

async fn batch_is_all_or_nothing_with_item_errors(app: &TestApp) {
    let admin = app.platform_token().await;
    app.tenant(&admin, "acme").await;
    app.tenant(&admin, "rival").await;
    let (status, _) = app
        .call(
            "PUT",
            "/v1/tenants/rival/devices/000413000001",
            &admin,
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 201);

    let refused = json!({"operations": [
        {"action": "upsert", "mac": "000413000010", "profile": "desk"},
        {"action": "upsert", "mac": "000413000001", "profile": "desk"},
        {"action": "upsert", "mac": "000413000011", "profile": "nope"},
    ]});
    let (status, body) = app
        .call(
            "POST",
            "/v1/tenants/acme/devices/batch",
            &admin,
            Some(refused),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("batch_refused")),
        "{body}"
    );
    let items: Vec<(u64, &str)> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["index"].as_u64().unwrap(), i["code"].as_str().unwrap()))
        .collect();
    assert_eq!(
        items,
        [(1, "mac_owned_by_other_tenant"), (2, "unknown_profile")]
    );
    let (status, _) = app
        .call("GET", "/v1/tenants/acme/devices/000413000010", &admin, None)
        .await;
    assert_eq!(status, 404, "nothing of a refused batch is applied");

    let operations: Vec<Value> = (0..2_000)
        .map(|n| json!({"action": "upsert", "mac": format!("0004131{n:05}"), "profile": "desk"}))
        .collect();
    let (status, body) = app
        .call(
            "POST",
            "/v1/tenants/acme/devices/batch",
            &admin,
            Some(json!({"operations": operations})),
        )
        .await;
    assert_eq!(
        (status, body["created"].as_u64()),
        (200, Some(2_000)),
        "{body}"
    );

    let mut seen = 0;
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/tenants/acme/devices?limit=750&cursor={c}"),
            None => "/v1/tenants/acme/devices?limit=750".to_owned(),
        };
        let (_, page) = app.call("GET", &path, &admin, None).await;
        seen += page["items"].as_array().unwrap().len();
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, 2_000);

    // CSV in, CSV out.
    let response = app
        .client
        .post("/v1/tenants/acme/devices/batch")
        .header("authorization", format!("Bearer {admin}"))
        .content_type("text/csv")
        .body("mac,profile,setting_server,label\n00:04:13:00:00:AA,desk,,\"Hall, left\"\n00-04-13-00-00-BB,,https://pbx.example/x,\n")
        .send()
        .await;
    response.assert_status_is_ok();
    assert_eq!(json(response).await["created"], 2);
    let response = app
        .client
        .get("/v1/tenants/acme/devices/export")
        .header("authorization", format!("Bearer {admin}"))
        .send()
        .await;
    response.assert_status_is_ok();
    response.assert_content_type("text/csv");
    let csv = response.0.into_body().into_string().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines.len(),
        1 + 2_002,
        "header and every device, across export pages"
    );
    assert!(lines[0].starts_with("mac,profile,setting_server,label,"));
    assert!(
        csv.contains("\n0004130000AA,desk,,\"Hall, left\","),
        "{}",
        &csv[..200]
    );
    assert!(csv.contains("\n0004130000BB,,https://pbx.example/x,,"));
}

async fn errors_are_problem_documents(app: &TestApp) {
    let admin = app.platform_token().await;
    app.tenant(&admin, "acme").await;
    // The lists of a tenant that does not exist are 404, like the tenant itself.
    for list in ["profiles", "devices", "keys", "files"] {
        let (status, problem) = app
            .call("GET", &format!("/v1/tenants/nobody/{list}"), &admin, None)
            .await;
        assert_eq!(
            (status, problem["code"].as_str()),
            (404, Some("not_found")),
            "{list}"
        );
    }
    let cases = [
        (
            "PUT",
            "/v1/tenants/acme/devices/000413aabbcc",
            Some(json!({"colour": "red"})),
            400,
            "invalid_body",
        ),
        (
            "PUT",
            "/v1/tenants/acme/devices/not-a-mac",
            Some(json!({})),
            422,
            "invalid_mac",
        ),
        (
            "PUT",
            "/v1/tenants/acme/devices/000413aabbcc",
            Some(json!({"setting_server": "ftp://x"})),
            422,
            "invalid_url",
        ),
        (
            "PUT",
            "/v1/tenants/Acme_Corp",
            Some(json!({"display_name": "x"})),
            422,
            "invalid_tenant_id",
        ),
        (
            "GET",
            "/v1/tenants/acme/devices?cursor=zz",
            None,
            422,
            "invalid_cursor",
        ),
        ("GET", "/v1/nothing-here", None, 404, "not_found"),
    ];
    for (method, path, body, status, code) in cases {
        let (got, problem) = app.call(method, path, &admin, body).await;
        assert_eq!(
            (got, problem["code"].as_str()),
            (status, Some(code)),
            "{method} {path}: {problem}"
        );
        assert!(problem["request_id"].as_str().is_some(), "{problem}");
    }
    let response = app
        .client
        .patch("/v1/tenants/acme")
        .header("authorization", format!("Bearer {admin}"))
        .send()
        .await;
    response.assert_status(poem::http::StatusCode::METHOD_NOT_ALLOWED);
    response.assert_header("allow", "DELETE, GET, PUT");
    assert_eq!(json(response).await["code"], "method_not_allowed");

    let huge = "x".repeat(signpost_api::DEFAULT_BODY_LIMIT + 1);
    let response = app
        .client
        .put("/v1/tenants/acme/profiles/big")
        .header("authorization", format!("Bearer {admin}"))
        .content_type("application/json")
        .body(format!("{{\"setting_server\": \"{huge}\"}}"))
        .send()
        .await;
    response.assert_status(poem::http::StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(json(response).await["code"], "body_too_large");
}

/// Every tenant-scoped operation in the OpenAPI document, called with another tenant's key,
/// answers 404; write operations called by the tenant's own reader answer 403. The list comes
/// from the spec, so a new route cannot be forgotten.
async fn every_tenant_route_is_isolated(app: &TestApp) {
    let admin = app.platform_token().await;
    app.tenant(&admin, "acme").await;
    app.tenant(&admin, "rival").await;
    let (status, _) = app
        .call(
            "PUT",
            "/v1/tenants/acme/devices/000413AABBCC",
            &admin,
            Some(json!({"profile": "desk"})),
        )
        .await;
    assert_eq!(status, 201);
    let rival_admin = app.token(Some("rival"), Role::TenantAdmin).await;
    let rival_reader = app.token(Some("rival"), Role::TenantReader).await;
    let acme_reader = app.token(Some("acme"), Role::TenantReader).await;
    let (acme_key, _) = app.key(Some("acme"), Role::TenantAdmin).await;

    let spec: Value = serde_json::from_str(&signpost_api::openapi_json()).unwrap();
    let mut checked = 0;
    for (template, operations) in spec["paths"].as_object().unwrap() {
        if !template.contains("{tenant}") {
            continue;
        }
        let path = template
            .replace("{tenant}", "acme")
            .replace("{profile}", "desk")
            .replace("{mac}", "000413AABBCC")
            .replace("{key}", &acme_key)
            .replace("{path}", "cfg/snomD785.htm");
        for (method, op) in operations.as_object().unwrap() {
            let id = op["operationId"].as_str().unwrap();
            let body = op.get("requestBody").map(|_| body_for(id));
            let method = method.to_uppercase();
            for token in [&rival_admin, &rival_reader] {
                let (status, problem) = app.call(&method, &path, token, body.clone()).await;
                assert_eq!(status, 404, "{id} with another tenant's key: {problem}");
            }
            if method != "GET" {
                let (status, problem) = app.call(&method, &path, &acme_reader, body.clone()).await;
                assert_eq!(status, 403, "{id} with the tenant's reader: {problem}");
            }
            checked += 1;
        }
    }
    assert!(checked >= 12, "only {checked} tenant routes found");
}

/// A valid body for each operation that takes one; a new operation must be added here.
fn body_for(operation_id: &str) -> Value {
    match operation_id {
        "put_tenant" => json!({"display_name": "Taken Over"}),
        "put_profile" => json!({"setting_server": "https://evil.example/"}),
        "put_device" => json!({"setting_server": "https://evil.example/"}),
        "batch_devices" => json!({"operations": [{"action": "delete", "mac": "000413AABBCC"}]}),
        "create_key" => json!({"role": "tenant-admin"}),
        "put_file" => json!("<settings/>"),
        other => panic!("the isolation test needs a request body for {other}"),
    }
}

fn base64_encode(text: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes = text.as_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}
