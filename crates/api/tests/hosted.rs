//! What phones fetch under `/p/…` over HTTP: the per-device URLs the redirect hands out,
//! the files and templates behind them, and every refusal, with file bodies on the
//! filesystem store and on S3 and the registry on SQLite or PostgreSQL (as in `files.rs`).

mod common;
#[path = "common/files.rs"]
#[macro_use]
mod support;

use common::TestApp;
use poem::Body;
use poem::http::Method;
use serde_json::json;
use support::{
    Api, D24, D785_UA, FIRMWARE, FORM, HTML, KIB, hosted_base, pattern, phone_get, subset,
};

on_every_store!(
    hosted_files_end_to_end,
    shared_files_point_each_phone_at_its_own_url,
);

async fn hosted_files_end_to_end(app: &TestApp) {
    let api = Api::hosted_tenant(app, "acme").await;
    api.device(D24).await;
    api.device("000413922D25").await;
    let base = hosted_base(app, "/snomD785.htm", Some(D785_UA)).await;
    assert!(base.starts_with("/p/acme/"), "{base}");
    let by_name = hosted_base(app, "/snomD785-000413922D24.htm", None).await;
    assert_eq!(by_name, base, "one URL per phone, however it asks");
    let d25 = hosted_base(app, "/snomD785-000413922D25.htm", None).await;
    assert_ne!(d25, base);

    let template = "<s mac=\"{mac}\" type=\"{phone_type}\" fw=\"{firmware_version}\" x=\"{x}\"/>";
    let put = api.put(
        "snomD785.htm?template=true",
        template,
        &[("content-type", FORM)],
    );
    let stored = put.await.expect(201).json();
    let want = json!({"template": true, "content_type": HTML});
    assert_eq!(subset(&stored, &want), want);
    api.upload("snomD785-000413922D24.htm", "for D24").await;
    for path in [
        "snomD785-000413922D25.htm",
        "cfg/snomD785-000413922d25.htm",
        "000413922D25.xml",
    ] {
        api.upload(path, "for D25").await;
    }
    let firmware = pattern(7, 200 * KIB);
    api.upload(FIRMWARE, firmware.clone()).await;

    let ua = [("user-agent", D785_UA)];
    let rendered = phone_get(app, &format!("{base}snomD785.htm"), &ua)
        .await
        .expect(200);
    let expected = "<s mac=\"000413922D24\" type=\"snomD785\" fw=\"10.1.33.33\" x=\"{x}\"/>";
    assert_eq!(rendered.text(), expected);
    assert_eq!(rendered.header("content-type"), HTML);
    // The ETag is of the rendered bytes.
    assert_ne!(rendered.header("etag"), stored["etag"]);
    let etag = [ua[0], ("if-none-match", rendered.header("etag"))];
    phone_get(app, &format!("{base}snomD785.htm"), &etag)
        .await
        .expect(304);
    // Without a User-Agent only the MAC (from the token) is known.
    let bare = phone_get(app, &format!("{d25}snomD785.htm"), &[]).await;
    assert_eq!(
        bare.text(),
        "<s mac=\"000413922D25\" type=\"\" fw=\"\" x=\"{x}\"/>"
    );
    // The API serves the template as stored.
    assert_eq!(api.get("snomD785.htm", &[]).await.text(), template);

    let own = phone_get(app, &format!("{base}snomD785-000413922D24.htm"), &ua).await;
    assert_eq!((own.status, own.text().as_str()), (200, "for D24"));
    let range = [("range", "bytes=100-199")];
    let ranged = phone_get(app, &format!("{base}{FIRMWARE}"), &range)
        .await
        .expect(206);
    assert!(ranged.body == firmware[100..200]);

    // Every refusal is one and the same bare 404.
    let globex = Api::hosted_tenant(app, "globex").await;
    globex.device("000413922D26").await;
    globex.upload("snomD785.htm", "globex").await;
    let globex_base = hosted_base(app, "/snomD785-000413922D26.htm", None).await;
    let globex_token = globex_base.trim_start_matches("/p/globex/");
    let d24_token = base.trim_start_matches("/p/acme/");
    let refusals = [
        format!("{base}snomD785-000413922D25.htm"),
        format!("{base}cfg/snomD785-000413922d25.htm"),
        format!("{base}000413922D25.xml"),
        format!("{base}missing.htm"),
        format!("/p/acme/{}/snomD785.htm", "A".repeat(30)),
        "/p/acme/garbage/snomD785.htm".to_owned(),
        format!("/p/acme/{globex_token}snomD785.htm"),
        format!("/p/globex/{d24_token}snomD785.htm"),
        format!("/p/nobody/{d24_token}snomD785.htm"),
    ];
    let refused = phone_get(app, &refusals[0], &ua).await;
    assert_eq!((refused.status, refused.body.len()), (404, 0));
    for uri in &refusals[1..] {
        let got = phone_get(app, uri, &ua).await;
        assert_eq!(got.shape(), refused.shape(), "{uri}");
    }
    let theirs = phone_get(app, &format!("{globex_base}snomD785.htm"), &[]).await;
    assert_eq!(theirs.expect(200).text(), "globex");
    let d25_own = phone_get(app, &format!("{d25}000413922D25.xml"), &[]).await;
    assert_eq!(d25_own.expect(200).text(), "for D25");
    api.delete("000413922D25.xml").await.expect(204);
    let deleted = phone_get(app, &format!("{d25}000413922D25.xml"), &ua).await;
    assert_eq!(deleted.shape(), refused.shape(), "a deleted file");

    // A URL dies with its device: deleted, the phone's token opens nothing.
    let shared = phone_get(app, &format!("{d25}snomD785.htm"), &[]).await;
    shared.expect(200);
    let gone = api
        .send(
            Method::DELETE,
            "/v1/tenants/acme/devices/000413922D25",
            &[],
            Body::empty(),
        )
        .await;
    gone.expect(204);
    let orphan = phone_get(app, &format!("{d25}snomD785.htm"), &ua).await;
    assert_eq!(orphan.shape(), refused.shape(), "a deleted device's URL");

    // Rotation retires every URL of the tenant; the next redirect hands out a working one.
    let rotated = api.post("/v1/tenants/acme/file-tokens/rotate").await;
    assert_eq!(rotated.expect(200).json()["file_token_epoch"], 1);
    let stale = phone_get(app, &format!("{base}snomD785-000413922D24.htm"), &ua).await;
    assert_eq!(stale.shape(), refused.shape(), "the old URL");
    let fresh = hosted_base(app, "/snomD785.htm", Some(D785_UA)).await;
    assert_ne!(fresh, base);
    let own = phone_get(app, &format!("{fresh}snomD785-000413922D24.htm"), &ua).await;
    assert_eq!(own.expect(200).text(), "for D24");
    phone_get(app, &format!("{globex_base}snomD785.htm"), &[])
        .await
        .expect(200);

    // A suspended tenant serves nothing.
    let (status, body) = api.put_tenant(json!({"status": "suspended"})).await;
    assert_eq!(status, 200, "{body}");
    let suspended = phone_get(app, &format!("{fresh}snomD785-000413922D24.htm"), &ua).await;
    assert_eq!(suspended.shape(), refused.shape(), "a suspended tenant");
}

async fn shared_files_point_each_phone_at_its_own_url(app: &TestApp) {
    let api = Api::hosted_tenant(app, "acme").await;
    api.device(D24).await;
    let shared = "<firmware_status>{hosted_url}fw/{phone_type}.xml</firmware_status>";
    api.put("snomD785.htm?template=true", shared, &[])
        .await
        .expect(201);
    let base = hosted_base(app, "/snomD785.htm", Some(D785_UA)).await;
    let got = phone_get(
        app,
        &format!("{base}snomD785.htm"),
        &[("user-agent", D785_UA)],
    )
    .await;
    assert_eq!(
        got.expect(200).text(),
        format!("<firmware_status>http://localhost{base}fw/snomD785.xml</firmware_status>")
    );
    // A template is text: other encodings are refused, and stored fine as plain files.
    let latin1: &'static [u8] = b"M\xfcller {mac}";
    let refused = api.put("x.htm?template=true", latin1, &[]).await;
    assert_eq!(refused.expect(422).json()["code"], "template_not_utf8");
    api.put("x.htm", latin1, &[]).await.expect(201);
    // A file that names a MAC in a directory or with `_` is that phone's only.
    api.device("000413922D25").await;
    api.upload("000413922D25/x.htm", "for D25").await;
    api.upload("snomD785_000413922D25.htm", "for D25").await;
    for path in ["000413922D25/x.htm", "snomD785_000413922D25.htm"] {
        let got = phone_get(app, &format!("{base}{path}"), &[]).await;
        assert_eq!(got.status, 404, "{path}");
    }
    // Only GET and HEAD exist under a device URL.
    let post = app.client.post(format!("{base}snomD785.htm")).send().await;
    assert_eq!(post.0.status().as_u16(), 405);
    assert_eq!(post.0.headers()["allow"], "GET, HEAD");
}
