//! The `/v1` file API over HTTP (what phones fetch is in `hosted.rs`), with file
//! bodies on the filesystem store and on S3 (s3s-fs in `tests/run.sh`; a fresh bucket per
//! test), and the registry on SQLite or PostgreSQL. Limits are `common::FILE_LIMITS`: 1 MiB
//! per file, 3 MiB per tenant.

mod common;
#[path = "common/files.rs"]
#[macro_use]
mod support;

use bytes::Bytes;
use common::TestApp;
use futures::StreamExt;
use poem::Body;
use poem::http::Method;
use serde_json::{Value, json};
use signpost_domain::Role;
use signpost_store::blobs::BlobKey;
use support::{
    Api, D24, D785_UA, FIRMWARE, FORM, HTML, KIB, OCTETS, Target, hosted_base, pattern, phone_get,
    streamed, subset,
};

on_every_store!(
    upload_get_head_list_delete,
    content_type_is_inferred_without_a_header,
    ranges_and_conditional_requests,
    a_download_keeps_its_version_across_a_replace,
    a_cut_off_upload_keeps_the_previous_version,
    size_limit_and_quota,
    bad_paths_are_refused,
    changes_are_audited_without_blob_keys,
);

/// SHA-256 of "hello" and of "hello world".
const HELLO_SHA: &str = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
const HELLO_WORLD_SHA: &str = "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9";

async fn upload_get_head_list_delete(app: &TestApp) {
    let api = Api::hosted_tenant(app, "acme").await;
    // curl's --data-binary sends the form type: it counts as none, so the name decides.
    let put = api.put("cfg/snomD785.htm", "hello", &[("content-type", FORM)]);
    let created = put.await.expect(201).json();
    let want = json!({"path": "cfg/snomD785.htm", "size": 5, "sha256": HELLO_SHA,
        "etag": format!("\"{HELLO_SHA}\""), "content_type": HTML, "template": false});
    assert_eq!(subset(&created, &want), want);

    let kept = "text/plain; charset=us-ascii";
    let headers = [("content-type", kept)];
    let replaced = api.put("cfg/snomD785.htm", "hello world", &headers).await;
    let replaced = replaced.expect(200).json();
    let want = json!({"size": 11, "sha256": HELLO_WORLD_SHA, "content_type": kept,
        "created_at": created["created_at"]});
    assert_eq!(subset(&replaced, &want), want);

    let got = api.get("cfg/snomD785.htm", &[]).await.expect(200);
    assert_eq!(got.body, b"hello world");
    assert_eq!(got.header("etag"), replaced["etag"]);
    assert_eq!(got.header("content-type"), kept);
    assert_eq!(got.header("accept-ranges"), "bytes");
    assert!(got.header("last-modified").ends_with(" GMT"), "{got:?}");
    let uri = api.url("cfg/snomD785.htm");
    let head = api.send(Method::HEAD, &uri, &[], Body::empty()).await;
    let head = head.expect(200);
    assert_eq!(head.header("etag"), got.header("etag"));
    assert_eq!(head.header("last-modified"), got.header("last-modified"));
    assert!(head.body.is_empty());

    for path in ["cfg/a_b.xml", "cfg/axb.xml", "cfg/sub/c.txt", "cfgx.txt"] {
        api.upload(path, path.to_owned()).await;
    }
    // Non-ASCII arrives percent-encoded and is kept decoded; it sorts last (byte order).
    assert_eq!(api.upload("cfg/%C3%A4.txt", "ä").await["path"], "cfg/ä.txt");
    let expected = [
        "cfg/a_b.xml",
        "cfg/axb.xml",
        "cfg/snomD785.htm",
        "cfg/sub/c.txt",
        "cfg/ä.txt",
        "cfgx.txt",
    ];
    assert_eq!(api.paths("").await, expected);
    // A prefix is literal: `_` is no wildcard, case matters; `%` can be in no path.
    assert_eq!(api.paths("prefix=cfg/a_").await, ["cfg/a_b.xml"]);
    assert!(api.paths("prefix=CFG").await.is_empty());
    assert!(api.paths("prefix=%25").await.is_empty());
    let (mut pages, mut cursor) = (Vec::new(), String::new());
    loop {
        let page = api
            .list(&format!("prefix=cfg/&limit=2&cursor={cursor}"))
            .await;
        let page = page.expect(200).json();
        pages.push(page["items"].as_array().unwrap().len());
        let Some(next) = page["next_cursor"].as_str() else {
            break;
        };
        cursor = next.to_owned();
    }
    assert_eq!(pages, [2, 2, 1]);
    let rest = api
        .paths(&format!("prefix=cfg/&limit=2&cursor={cursor}"))
        .await;
    assert_eq!(rest, ["cfg/ä.txt"], "the last page");

    api.delete("cfg/snomD785.htm").await.expect(204);
    let gone = api.get("cfg/snomD785.htm", &[]).await;
    assert_eq!(gone.problem(), (404, "not_found".into()));
    api.delete("cfg/snomD785.htm").await.expect(404);
    assert_eq!(api.paths("").await.len(), 5);
    assert_eq!(api.blob_count().await, 5);
}

/// "The content type comes from the request, else from the file name": also when the request
/// has no `Content-Type` at all, as with `curl -T`.
async fn content_type_is_inferred_without_a_header(app: &TestApp) {
    let api = Api::hosted_tenant(app, "acme").await;
    let put = api.put("snomD785.htm", "<html/>", &[]).await.expect(201);
    assert_eq!(put.json()["content_type"], HTML);
}

async fn ranges_and_conditional_requests(app: &TestApp) {
    let api = Api::hosted_tenant(app, "acme").await;
    api.device(D24).await;
    let body = pattern(1, 1000);
    api.upload(FIRMWARE, body.clone()).await;
    api.upload("empty.bin", Vec::new()).await;
    let base = hosted_base(app, "/snomD785.htm", Some(D785_UA)).await;
    let phone = Target::Phone(app, format!("{base}{FIRMWARE}"));
    support::check_ranges_and_conditions(&Target::Api(&api, FIRMWARE), &body).await;
    support::check_ranges_and_conditions(&phone, &body).await;
    let whole = phone.get(&[]).await;
    assert_eq!(whole.header("content-length"), "1000");
    assert_eq!(whole.header("cache-control"), "private, no-cache");

    let empty = Target::Phone(app, format!("{base}empty.bin"));
    let got = empty.get(&[]).await.expect(200);
    assert_eq!((got.header("content-length"), got.body.len()), ("0", 0));
    let got = empty.get(&[("range", "bytes=0-")]).await.expect(416);
    assert_eq!(got.header("content-range"), "bytes */0");
    assert!(api.get("empty.bin", &[]).await.expect(200).body.is_empty());
}

async fn a_download_keeps_its_version_across_a_replace(app: &TestApp) {
    let api = Api::hosted_tenant(app, "acme").await;
    api.device(D24).await;
    let base = hosted_base(app, "/snomD785.htm", Some(D785_UA)).await;
    let (mut old, mut new) = (pattern(3, 900 * KIB), pattern(4, 900 * KIB - 17));
    api.upload(FIRMWARE, old.clone()).await;
    for phone in [false, true] {
        let response = if phone {
            app.client.get(format!("{base}{FIRMWARE}")).send().await
        } else {
            let uri = api.url(FIRMWARE);
            api.request(Method::GET, &uri, &[], Body::empty()).await
        };
        assert_eq!(response.0.status(), 200);
        let mut stream = response.0.into_body().into_bytes_stream();
        let mut read = stream.next().await.expect("a chunk").expect("ok").to_vec();
        assert!(read.len() < old.len(), "the first chunk is the whole file");

        api.upload(FIRMWARE, new.clone()).await;
        let fresh = api.get(FIRMWARE, &[]).await;
        assert!(fresh.body == new, "a new download gets the new version");
        while let Some(chunk) = stream.next().await {
            read.extend_from_slice(&chunk.expect("the rest of the old version"));
        }
        assert!(
            read == old,
            "read {} bytes, not the old version",
            read.len()
        );
        // The replaced blob is deleted; only the new one remains.
        assert_eq!(api.blob_count().await, 1);
        std::mem::swap(&mut old, &mut new);
    }
}

async fn a_cut_off_upload_keeps_the_previous_version(app: &TestApp) {
    let api = Api::hosted_tenant(app, "acme").await;
    let previous = b"the previous version";
    api.upload("cfg/x.bin", &previous[..]).await;
    let length = (600 * KIB).to_string();
    for (path, declared) in [
        ("cfg/x.bin", false),
        ("cfg/x.bin", true),
        ("cfg/new.bin", false),
    ] {
        let mut headers = vec![("content-type", OCTETS)];
        if declared {
            headers.push(("content-length", &length));
        }
        let body = streamed(&pattern(5, 300 * KIB), 16 * KIB, true);
        let cut = api.put(path, body, &headers).await;
        cut.refused(400, "body_interrupted");
    }
    assert_eq!(api.get("cfg/x.bin", &[]).await.body, previous);
    api.get("cfg/new.bin", &[]).await.expect(404);
    assert_eq!(api.paths("").await, ["cfg/x.bin"]);
    // No stray blob (nor, on the filesystem, temporary file); the sweep has nothing to do.
    assert_eq!(api.blob_count().await, 1);
    assert_eq!(app.files.sweep().await.expect("sweep"), 0);

    // A blob no file refers to (an upload whose process died before it committed) is swept
    // once older than the grace period; a referenced one never is. Only the filesystem
    // store's blobs can be aged here.
    let orphan = BlobKey::new("files/acme/0123456789abcdef0123456789abcdef").unwrap();
    let body = Box::pin(futures::stream::iter([Ok(Bytes::from_static(b"orphan"))]));
    app.blobs.put(&orphan, body, None).await.expect("put");
    assert_eq!(api.blob_count().await, 2);
    let swept = if let Some(root) = &app.blob_root {
        support::age_blobs(root, "acme");
        1
    } else {
        0 // young blobs stay
    };
    assert_eq!(app.files.sweep().await.expect("sweep"), swept);
    assert_eq!(api.blob_count().await, 2 - swept);
    assert_eq!(api.get("cfg/x.bin", &[]).await.body, previous);
}

async fn size_limit_and_quota(app: &TestApp) {
    let api = Api::hosted_tenant(app, "acme").await;
    let limit = 1 << 20;
    let big = pattern(6, limit + 1);
    for path in ["big.bin", "big.htm?template=true"] {
        for put in api.put_both_ways(path, &big).await {
            put.refused(413, "file_too_large");
        }
    }
    api.get("big.bin", &[]).await.expect(404);
    assert_eq!(api.blob_count().await, 0);
    // Exactly the limit is fine.
    let exact = api.upload("exact.bin", streamed(&big[..limit], 64 * KIB, false));
    assert_eq!(exact.await["size"], limit);
    api.delete("exact.bin").await.expect(204);

    let files: Vec<Vec<u8>> = (0..3).map(|i| pattern(10 + i, 900 * KIB)).collect();
    for (i, body) in files.iter().enumerate() {
        api.upload(&format!("f{i}.bin"), body.clone()).await;
    }
    for put in api.put_both_ways("f3.bin", &pattern(20, 900 * KIB)).await {
        put.refused(413, "quota_exceeded");
    }
    api.get("f3.bin", &[]).await.expect(404);
    for (i, body) in files.iter().enumerate() {
        assert!(api.get(&format!("f{i}.bin"), &[]).await.body == *body);
    }
    assert_eq!(api.blob_count().await, 3);
    // A replace counts only the difference: 2 × 900 KiB + 1000 KiB fit in 3 MiB.
    let bigger = pattern(21, 1000 * KIB);
    api.upload("f0.bin", streamed(&bigger, 64 * KIB, false))
        .await;
    assert!(api.get("f0.bin", &[]).await.body == bigger);
    assert_eq!(api.blob_count().await, 3);
    for put in api
        .put_both_ways("small.bin", &pattern(22, 300 * KIB))
        .await
    {
        put.refused(413, "quota_exceeded");
    }
    // 2800 of 3072 KiB are used: of two 200 KiB uploads at once, exactly one fits.
    let body = |seed| streamed(&pattern(seed, 200 * KIB), 16 * KIB, false);
    let chunked = [("content-type", OCTETS)];
    let (a, b) = tokio::join!(
        api.put("a.bin", body(23), &chunked),
        api.put("b.bin", body(24), &chunked),
    );
    let mut outcomes = [a.problem(), b.problem()];
    outcomes.sort();
    let quota = (413, "quota_exceeded".to_owned());
    assert_eq!(outcomes, [(201, String::new()), quota]);
    assert_eq!(api.blob_count().await, 4);
}

async fn bad_paths_are_refused(app: &TestApp) {
    let api = Api::hosted_tenant(app, "acme").await;
    api.device(D24).await;
    api.upload("x", "inside").await;
    let long = "a".repeat(513);
    let too_long = (long.as_str(), "path_too_long");
    let cases = support::BAD_PATHS.iter().chain([&too_long]);
    let headers = [("content-type", OCTETS)];
    for method in [Method::PUT, Method::GET, Method::DELETE] {
        for (raw, code) in cases.clone() {
            let uri = format!("/v1/tenants/acme/files/{raw}");
            let got = api.send(method.clone(), &uri, &headers, "x").await;
            assert_eq!(got.problem(), (400, code.to_string()), "{method} {uri}");
        }
        // Paths poem cannot route or decode: refused one way or another.
        for raw in ["", "%FF", "a/%2e%2e%2f..%2f..%2fx"] {
            let uri = format!("/v1/tenants/acme/files/{raw}");
            let got = api.send(method.clone(), &uri, &headers, "x").await;
            assert!(
                matches!(got.status, 400 | 404 | 405),
                "{method} {uri}: {got:?}"
            );
        }
    }
    let longest = "a".repeat(512);
    assert_eq!(api.upload(&longest, "512 bytes").await["path"], longest);
    assert_eq!(api.paths("").await, [longest.as_str(), "x"]);
    assert_eq!(api.blob_count().await, 2);
    let nobody = Api::with_token(app, "nobody", api.token());
    nobody.put("x", "x", &headers).await.expect(404);
    assert_eq!(nobody.blob_count().await, 0);

    // A phone's URL reaches its own tenant's files only.
    let base = hosted_base(app, "/snomD785.htm", Some(D785_UA)).await;
    phone_get(app, &format!("{base}x"), &[]).await.expect(200);
    let globex = Api::hosted_tenant(app, "globex").await;
    globex.upload("secret.bin", "globex only").await;
    for raw in [
        "../x",
        "%2e%2e/x",
        "..%2F..%2Fglobex%2Fsecret.bin",
        "a%5C..%5Cx",
        "/x",
    ] {
        let got = phone_get(app, &format!("{base}{raw}"), &[]).await;
        assert_eq!((got.status, got.body.len()), (404, 0), "{base}{raw}");
    }
    let elsewhere = base.replace("/p/acme/", "/p/globex/");
    phone_get(app, &format!("{elsewhere}secret.bin"), &[])
        .await
        .expect(404);
    // Another tenant's admin key sees nothing of acme's files.
    let globex_admin = app.token(Some("globex"), Role::TenantAdmin).await;
    let intruder = Api::with_token(app, "acme", &globex_admin);
    for got in [
        intruder.get("x", &[]).await,
        intruder.put("y", "z", &headers).await,
        intruder.delete("x").await,
        intruder.list("").await,
        intruder.post("/v1/tenants/acme/file-tokens/rotate").await,
    ] {
        assert!(matches!(got.status, 403 | 404), "{got:?}");
    }
    assert_eq!(api.get("x", &[]).await.body, b"inside");
}

async fn changes_are_audited_without_blob_keys(app: &TestApp) {
    let api = Api::hosted_tenant(app, "acme").await;
    api.upload("cfg/a.htm", "one").await;
    api.upload("cfg/a.htm", "two").await;
    // The same bytes again change nothing worth an event.
    api.upload("cfg/a.htm", "two").await;
    api.delete("cfg/a.htm").await.expect(204);
    let uri = "/v1/tenants/acme/events";
    let events = api.send(Method::GET, uri, &[], Body::empty()).await;
    let events = events.expect(200);
    let items = events.json()["items"].as_array().unwrap().clone();
    let is_file = |e: &Value| e["target"].as_str().unwrap().starts_with("file/");
    let files: Value = items.into_iter().filter(is_file).collect();
    let want = json!([
        {"action": "file.put", "target": "file/cfg/a.htm", "before": null,
            "after": {"path": "cfg/a.htm", "size": 3, "content_type": OCTETS}},
        {"action": "file.put", "target": "file/cfg/a.htm",
            "before": {"size": 3, "sha256": files[0]["after"]["sha256"]}, "after": {"size": 3}},
        {"action": "file.delete", "target": "file/cfg/a.htm", "after": null},
    ]);
    assert_eq!(subset(&files, &want), want);
    assert!(
        files
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["request_id"].is_string())
    );
    let text = events.text();
    let leaks = text.contains("blob") || text.contains("files/acme/");
    assert!(!leaks, "a blob key in the audit trail: {text}");
}
