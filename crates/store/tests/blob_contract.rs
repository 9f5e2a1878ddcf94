//! The blob store contract: every case runs against the filesystem store (always) and the S3
//! store (when the run gives an S3 endpoint, see `signpost_testkit`). Each test gets its own
//! directory or bucket.

use std::io;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_sdk_s3::config::{Credentials, Region};
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use sha2::{Digest, Sha256};
use signpost_store::blobs::{
    BlobError, BlobKey, BlobStore, ByteRange, ByteStream, FsBlobStore, S3BlobStore, S3Options,
};
use signpost_testkit::{Backend, backend_url, setting, unique_name};
use tempfile::TempDir;

const MIB: usize = 1024 * 1024;

// ---- backends ----------------------------------------------------------------------------

struct Harness {
    store: Arc<dyn BlobStore>,
    backend: Kind,
}

enum Kind {
    Fs(TempDir),
    S3 {
        client: aws_sdk_s3::Client,
        bucket: String,
    },
}

fn fs_harness() -> Harness {
    let dir = TempDir::new().expect("temp dir");
    let store = FsBlobStore::new(dir.path().join("blobs")).expect("fs store");
    Harness {
        store: Arc::new(store),
        backend: Kind::Fs(dir),
    }
}

struct S3Settings {
    endpoint: String,
    region: String,
    access_key_id: Option<String>,
    secret_access_key: Option<String>,
}

fn s3_settings() -> Option<S3Settings> {
    Some(S3Settings {
        endpoint: backend_url(Backend::S3)?,
        region: setting("S3_REGION").unwrap_or_else(|| "us-east-1".into()),
        access_key_id: setting("S3_ACCESS_KEY"),
        secret_access_key: setting("S3_SECRET_KEY"),
    })
}

fn s3_options(settings: &S3Settings, bucket: &str) -> S3Options {
    S3Options {
        bucket: bucket.to_owned(),
        endpoint: Some(settings.endpoint.clone()),
        region: Some(settings.region.clone()),
        force_path_style: true,
        access_key_id: settings.access_key_id.clone(),
        secret_access_key: settings.secret_access_key.clone(),
    }
}

/// A plain SDK client for what the port does not do: creating buckets, looking for leftovers.
async fn raw_client(settings: &S3Settings) -> aws_sdk_s3::Client {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(settings.region.clone()))
        .endpoint_url(&settings.endpoint);
    if let (Some(id), Some(secret)) = (&settings.access_key_id, &settings.secret_access_key) {
        loader = loader.credentials_provider(Credentials::new(id, secret, None, None, "test"));
    }
    let config = aws_sdk_s3::config::Builder::from(&loader.load().await)
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

async fn s3_harness() -> Option<Harness> {
    let settings = s3_settings()?;
    let bucket = unique_name("signpost-blobs")
        .to_lowercase()
        .replace('_', "-");
    assert!(bucket.len() <= 63, "bucket name too long: {bucket}");
    let client = raw_client(&settings).await;
    let mut create = client.create_bucket().bucket(&bucket);
    if settings.region != "us-east-1" {
        create = create.create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(settings.region.as_str()))
                .build(),
        );
    }
    create.send().await.expect("creating the test bucket");
    let store = S3BlobStore::new(s3_options(&settings, &bucket))
        .await
        .expect("s3 store");
    Some(Harness {
        store: Arc::new(store),
        backend: Kind::S3 { client, bucket },
    })
}

impl Harness {
    /// Nothing but the blobs themselves is left in the store: no temporary file, no
    /// unfinished multipart upload.
    async fn assert_no_leftovers(&self, blobs: &[&str]) {
        match &self.backend {
            Kind::Fs(dir) => {
                let root = dir.path().join("blobs");
                let mut files = Vec::new();
                collect_files(&root, &root, &mut files);
                files.sort();
                let mut expected: Vec<String> = blobs.iter().map(|b| b.to_string()).collect();
                expected.sort();
                assert_eq!(files, expected, "files under the store root");
            }
            Kind::S3 { client, bucket } => {
                let uploads = match client.list_multipart_uploads().bucket(bucket).send().await {
                    Ok(uploads) => uploads,
                    // s3s-fs (the test server) does not implement ListMultipartUploads.
                    Err(e) if e.code() == Some("NotImplemented") => {
                        eprintln!("not checked: the S3 server cannot list multipart uploads");
                        return;
                    }
                    Err(e) => panic!("listing multipart uploads: {e:?}"),
                };
                assert!(
                    uploads.uploads().is_empty(),
                    "unfinished uploads: {:?}",
                    uploads.uploads()
                );
            }
        }
    }
}

fn collect_files(root: &Path, dir: &Path, out: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            collect_files(root, &path, out);
        } else {
            let relative = path.strip_prefix(root).expect("under root");
            out.push(relative.to_string_lossy().into_owned());
        }
    }
}

/// Runs each named case as a test against both backends.
macro_rules! contract {
    ($($case:ident),* $(,)?) => {
        mod fs {
            $(
                #[tokio::test]
                async fn $case() {
                    let harness = super::fs_harness();
                    super::$case(&harness).await;
                }
            )*
        }
        mod s3 {
            $(
                #[tokio::test]
                async fn $case() {
                    let Some(harness) = super::s3_harness().await else { return };
                    super::$case(&harness).await;
                }
            )*
        }
    };
}

contract!(
    round_trip,
    replacing_a_blob,
    empty_blob,
    large_body_in_small_chunks,
    failing_body_keeps_the_previous_blob,
    ranges,
    head,
    missing_blob,
    delete,
    list,
    reader_sees_one_version_across_a_replace,
    check,
);

// ---- bodies ------------------------------------------------------------------------------

fn key(key: &str) -> BlobKey {
    BlobKey::new(key).expect("valid key")
}

/// Deterministic bytes that differ per `seed` and per position (no short period).
fn pattern(seed: u8, len: usize) -> Vec<u8> {
    (0..len).map(|i| byte_at(seed, i)).collect()
}

fn byte_at(seed: u8, i: usize) -> u8 {
    ((i * 31 + i / 251 + seed as usize * 101) % 251) as u8
}

/// `pattern(seed, len)` produced lazily in `chunk`-byte pieces, never whole in memory; the
/// stream fails with an I/O error after `fail_after` bytes if given.
fn generated(seed: u8, len: usize, chunk: usize, fail_after: Option<usize>) -> ByteStream {
    futures::stream::unfold(Some(0usize), move |sent| async move {
        let sent = sent?;
        if fail_after.is_some_and(|limit| sent >= limit) {
            return Some((Err(io::Error::other("client went away")), None));
        }
        if sent >= len {
            return None;
        }
        let end = (sent + chunk).min(len);
        let bytes: Vec<u8> = (sent..end).map(|i| byte_at(seed, i)).collect();
        Some((Ok(Bytes::from(bytes)), Some(end)))
    })
    .boxed()
}

fn body(bytes: &[u8]) -> ByteStream {
    // A few uneven chunks, as a network body arrives.
    let chunks: Vec<io::Result<Bytes>> = bytes
        .chunks(7001)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    futures::stream::iter(chunks).boxed()
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

async fn read_all(body: ByteStream) -> Vec<u8> {
    body.try_fold(Vec::new(), |mut all, chunk| async move {
        all.extend_from_slice(&chunk);
        Ok(all)
    })
    .await
    .expect("reading the body")
}

async fn get_all(store: &dyn BlobStore, k: &str) -> Vec<u8> {
    read_all(store.get(&key(k), None).await.expect("get").body).await
}

async fn put(store: &dyn BlobStore, k: &str, bytes: &[u8]) {
    let outcome = store
        .put(&key(k), body(bytes), Some("application/octet-stream"))
        .await
        .expect("put");
    assert_eq!(outcome.size, bytes.len() as u64);
}

// ---- cases -------------------------------------------------------------------------------

async fn round_trip(h: &Harness) {
    let data = pattern(1, 100_000);
    let outcome = h
        .store
        .put(
            &key("tenants/acme/files/a.bin"),
            body(&data),
            Some("text/plain"),
        )
        .await
        .expect("put");
    assert_eq!(outcome.size, 100_000);
    assert_eq!(outcome.sha256, sha256(&data));

    let object = h
        .store
        .get(&key("tenants/acme/files/a.bin"), None)
        .await
        .expect("get");
    assert_eq!(
        (object.total_size, object.first, object.last),
        (100_000, 0, Some(99_999))
    );
    assert_eq!(read_all(object.body).await, data);
}

async fn replacing_a_blob(h: &Harness) {
    put(&*h.store, "f/x", &pattern(1, 5000)).await;
    let newer = pattern(2, 3000);
    put(&*h.store, "f/x", &newer).await;
    assert_eq!(get_all(&*h.store, "f/x").await, newer);
    assert_eq!(h.store.head(&key("f/x")).await.expect("head").size, 3000);
}

async fn empty_blob(h: &Harness) {
    let outcome = h
        .store
        .put(&key("f/empty"), futures::stream::empty().boxed(), None)
        .await
        .expect("put");
    assert_eq!(outcome.size, 0);
    assert_eq!(outcome.sha256, sha256(b""));

    let object = h.store.get(&key("f/empty"), None).await.expect("get");
    assert_eq!((object.total_size, object.first, object.last), (0, 0, None));
    assert!(read_all(object.body).await.is_empty());
    assert_eq!(h.store.head(&key("f/empty")).await.expect("head").size, 0);

    // No range of an empty blob is satisfiable; the port hands out the (empty) blob instead.
    for range in [(0, None), (0, Some(10)), (5, None)] {
        let range = ByteRange {
            start: range.0,
            end_inclusive: range.1,
        };
        let object = h
            .store
            .get(&key("f/empty"), Some(range))
            .await
            .expect("ranged get");
        assert_eq!((object.total_size, object.last), (0, None), "{range:?}");
        assert!(read_all(object.body).await.is_empty());
    }

    let listed = h.store.list("f/", None, 10).await.expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].size, 0);
}

async fn large_body_in_small_chunks(h: &Harness) {
    // Crosses the S3 store's multipart threshold (8 MiB) twice, with parts that do not line
    // up with the chunks.
    let len = 20 * MIB + 12_345;
    let expected: [u8; 32] = {
        let mut hasher = Sha256::new();
        let mut stream = generated(3, len, 64 * 1024, None);
        while let Some(chunk) = stream.try_next().await.expect("generator") {
            hasher.update(&chunk);
        }
        hasher.finalize().into()
    };
    let outcome = h
        .store
        .put(
            &key("firmware/big.bin"),
            generated(3, len, 4001, None),
            None,
        )
        .await
        .expect("put");
    assert_eq!(outcome.size, len as u64);
    assert_eq!(outcome.sha256, expected);

    let object = h
        .store
        .get(&key("firmware/big.bin"), None)
        .await
        .expect("get");
    assert_eq!(object.total_size, len as u64);
    let mut hasher = Sha256::new();
    let mut downloaded = 0usize;
    let mut body = object.body;
    while let Some(chunk) = body.try_next().await.expect("download") {
        downloaded += chunk.len();
        hasher.update(&chunk);
    }
    assert_eq!(downloaded, len);
    assert_eq!(<[u8; 32]>::from(hasher.finalize()), expected);
    h.assert_no_leftovers(&["firmware/big.bin"]).await;
}

async fn failing_body_keeps_the_previous_blob(h: &Harness) {
    let original = pattern(4, 10_000);
    put(&*h.store, "f/kept", &original).await;
    // Fails inside the first part, and after a part has gone up (S3: a multipart upload).
    for fail_after in [3000, 9 * MIB + 17] {
        let failing = generated(5, 20 * MIB, 32 * 1024, Some(fail_after));
        let result = h.store.put(&key("f/kept"), failing, None).await;
        assert!(
            matches!(result, Err(BlobError::Body(_))),
            "{fail_after}: {result:?}"
        );
        assert_eq!(get_all(&*h.store, "f/kept").await, original);

        let failing = generated(5, 20 * MIB, 32 * 1024, Some(fail_after));
        let result = h.store.put(&key("f/never"), failing, None).await;
        assert!(matches!(result, Err(BlobError::Body(_))), "{result:?}");
        assert!(matches!(
            h.store.head(&key("f/never")).await,
            Err(BlobError::NotFound)
        ));
    }
    h.assert_no_leftovers(&["f/kept"]).await;
}

async fn ranges(h: &Harness) {
    let data = pattern(6, 1000);
    put(&*h.store, "r/blob", &data).await;
    let satisfiable = [
        ((10, Some(19)), (10, 19)),
        ((990, None), (990, 999)),
        ((995, Some(5000)), (995, 999)),
        ((0, Some(0)), (0, 0)),
        ((999, Some(999)), (999, 999)),
        ((0, None), (0, 999)),
    ];
    for ((start, end_inclusive), (first, last)) in satisfiable {
        let range = ByteRange {
            start,
            end_inclusive,
        };
        let object = h
            .store
            .get(&key("r/blob"), Some(range))
            .await
            .unwrap_or_else(|e| panic!("{range:?}: {e}"));
        assert_eq!(
            (object.total_size, object.first, object.last),
            (1000, first, Some(last)),
            "{range:?}"
        );
        let expected = &data[first as usize..=last as usize];
        assert_eq!(read_all(object.body).await, expected, "{range:?}");
    }
    for (start, end_inclusive) in [(1000, None), (5000, Some(6000)), (20, Some(10))] {
        let range = ByteRange {
            start,
            end_inclusive,
        };
        let result = h.store.get(&key("r/blob"), Some(range)).await;
        assert!(
            matches!(
                result,
                Err(BlobError::RangeNotSatisfiable { total_size: 1000 })
            ),
            "{range:?}: {result:?}"
        );
    }
}

async fn head(h: &Harness) {
    put(&*h.store, "h/one", &pattern(7, 1234)).await;
    let meta = h.store.head(&key("h/one")).await.expect("head");
    assert_eq!(meta.key, key("h/one"));
    assert_eq!(meta.size, 1234);
    assert!(meta.last_modified.is_some());
}

async fn missing_blob(h: &Harness) {
    let missing = key("nothing/here");
    assert!(matches!(
        h.store.get(&missing, None).await,
        Err(BlobError::NotFound)
    ));
    let range = ByteRange {
        start: 5,
        end_inclusive: Some(10),
    };
    assert!(matches!(
        h.store.get(&missing, Some(range)).await,
        Err(BlobError::NotFound)
    ));
    assert!(matches!(
        h.store.head(&missing).await,
        Err(BlobError::NotFound)
    ));
    h.store
        .delete(&missing)
        .await
        .expect("deleting a missing blob");
}

async fn delete(h: &Harness) {
    put(&*h.store, "d/a/b/c", b"nested").await;
    put(&*h.store, "d/a/d", b"sibling").await;
    h.store.delete(&key("d/a/b/c")).await.expect("delete");
    assert!(matches!(
        h.store.get(&key("d/a/b/c"), None).await,
        Err(BlobError::NotFound)
    ));
    h.store.delete(&key("d/a/b/c")).await.expect("delete again");
    assert_eq!(get_all(&*h.store, "d/a/d").await, b"sibling");
    let listed = h.store.list("d/", None, 10).await.expect("list");
    let keys: Vec<&str> = listed.iter().map(|m| m.key.as_str()).collect();
    assert_eq!(keys, ["d/a/d"]);
    // The emptied "directory" is no obstacle to putting the blob again.
    put(&*h.store, "d/a/b/c", b"again").await;
    assert_eq!(get_all(&*h.store, "d/a/b/c").await, b"again");
}

async fn list(h: &Harness) {
    let blobs = [
        "t/acme/1",
        "t/acme/2",
        "t/acme/10",
        "t/acme-x/1",
        "t/acmf",
        "t/b/1",
        "u/1",
    ];
    for (i, blob) in blobs.iter().enumerate() {
        put(&*h.store, blob, &pattern(8, i * 10)).await;
    }
    let keys = |found: Vec<signpost_store::blobs::BlobMeta>| -> Vec<String> {
        found.into_iter().map(|m| m.key.to_string()).collect()
    };
    let store = &*h.store;

    // Byte order across "directories": '-' sorts before '/'.
    let all = store.list("", None, 100).await.expect("list all");
    assert_eq!(
        all.iter()
            .map(|m| (m.key.as_str(), m.size))
            .collect::<Vec<_>>(),
        [
            ("t/acme-x/1", 30),
            ("t/acme/1", 0),
            ("t/acme/10", 20),
            ("t/acme/2", 10),
            ("t/acmf", 40),
            ("t/b/1", 50),
            ("u/1", 60),
        ]
    );
    assert_eq!(
        keys(store.list("t/acme/", None, 100).await.expect("list")),
        ["t/acme/1", "t/acme/10", "t/acme/2"]
    );
    assert_eq!(
        keys(store.list("t/acme", None, 100).await.expect("list")),
        ["t/acme-x/1", "t/acme/1", "t/acme/10", "t/acme/2"]
    );
    assert_eq!(
        keys(
            store
                .list("t/acme/", Some(&key("t/acme/1")), 100)
                .await
                .expect("list")
        ),
        ["t/acme/10", "t/acme/2"]
    );

    // Paging with limit and start_after walks every key once, in order.
    let mut paged = Vec::new();
    let mut after: Option<BlobKey> = None;
    loop {
        let page = keys(store.list("t/", after.as_ref(), 2).await.expect("page"));
        assert!(page.len() <= 2);
        let Some(last) = page.last() else { break };
        after = Some(key(last));
        paged.extend(page);
    }
    assert_eq!(
        paged,
        [
            "t/acme-x/1",
            "t/acme/1",
            "t/acme/10",
            "t/acme/2",
            "t/acmf",
            "t/b/1"
        ]
    );

    assert!(store.list("t/", None, 0).await.expect("list").is_empty());
    assert!(
        store
            .list("nothing/", None, 10)
            .await
            .expect("list")
            .is_empty()
    );
    assert!(store.list("../", None, 10).await.expect("list").is_empty());
}

async fn reader_sees_one_version_across_a_replace(h: &Harness) {
    let old = pattern(9, 6 * MIB);
    let new = pattern(10, 6 * MIB + 7);
    put(&*h.store, "v/blob", &old).await;

    let object = h.store.get(&key("v/blob"), None).await.expect("get");
    let mut body = object.body;
    let mut read = body
        .try_next()
        .await
        .expect("first chunk")
        .expect("not empty")
        .to_vec();
    put(&*h.store, "v/blob", &new).await;
    read.extend(read_all(body).await);

    assert!(
        read == old || read == new,
        "read {} bytes that are neither version (old: {}, new: {})",
        read.len(),
        old.len(),
        new.len()
    );
    assert_eq!(get_all(&*h.store, "v/blob").await, new);
}

async fn check(h: &Harness) {
    h.store.check().await.expect("check");
}

// ---- S3 only -----------------------------------------------------------------------------

#[tokio::test]
async fn s3_check_fails_fast_when_the_endpoint_is_unreachable() {
    let store = S3BlobStore::new(S3Options {
        bucket: "signpost".into(),
        endpoint: Some("http://127.0.0.1:1".into()),
        region: Some("us-east-1".into()),
        force_path_style: true,
        access_key_id: Some("AKIDUNREACHABLE".into()),
        secret_access_key: Some("unreachable-secret".into()),
    })
    .await
    .expect("s3 store");
    let result = tokio::time::timeout(Duration::from_secs(20), store.check())
        .await
        .expect("check must give up, not hang");
    let error = result.expect_err("nothing listens on port 1").to_string();
    eprintln!("{error}");
    assert!(!error.contains("unreachable-secret"), "{error}");
}

#[tokio::test]
async fn s3_check_fails_for_a_missing_bucket() {
    let Some(settings) = s3_settings() else {
        return;
    };
    let bucket = unique_name("signpost-missing")
        .to_lowercase()
        .replace('_', "-");
    let store = S3BlobStore::new(s3_options(&settings, &bucket))
        .await
        .expect("s3 store");
    assert!(store.check().await.is_err());
}

#[tokio::test]
async fn s3_errors_do_not_reveal_credentials() {
    let Some(harness) = s3_harness().await else {
        return;
    };
    let Some(settings) = s3_settings() else {
        return;
    };
    let Kind::S3 { bucket, .. } = &harness.backend else {
        unreachable!()
    };
    let wrong_secret = "wrong-secret-0123456789abcdef";
    let store = S3BlobStore::new(S3Options {
        secret_access_key: Some(wrong_secret.into()),
        ..s3_options(&settings, bucket)
    })
    .await
    .expect("s3 store");
    let errors = [
        store.check().await.expect_err("wrong secret").to_string(),
        store
            .put(&key("x"), body(b"x"), None)
            .await
            .expect_err("wrong secret")
            .to_string(),
        store
            .list("", None, 10)
            .await
            .expect_err("wrong secret")
            .to_string(),
    ];
    for error in errors {
        eprintln!("{error}");
        assert!(!error.contains(wrong_secret), "{error}");
        if let Some(id) = &settings.access_key_id {
            assert!(!error.contains(id.as_str()), "{error}");
        }
    }
}
