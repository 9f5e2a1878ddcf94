//! The blob store contract: every case runs against the filesystem store (always) and the S3
//! store (when the run gives an S3 endpoint, see `signpost_testkit`). Each test gets its own
//! directory or bucket.

#[path = "blob_contract/health.rs"]
mod health;
#[path = "blob_contract/listing.rs"]
mod listing;
#[path = "blob_contract/reads.rs"]
mod reads;
#[path = "blob_contract/writes.rs"]
mod writes;

use std::io;
use std::path::Path;
use std::sync::Arc;

use aws_config::BehaviorVersion;
use aws_sdk_s3::config::{Credentials, Region};
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use sha2::{Digest, Sha256};
use signpost_store::blobs::{BlobKey, BlobStore, ByteStream, FsBlobStore, S3BlobStore, S3Options};
use signpost_testkit::{Backend, backend_url, setting, unique_name};
use tempfile::TempDir;

use health::check;
use listing::{delete, list};
use reads::{head, missing_blob, ranges, reader_sees_one_version_across_a_replace};
use writes::{
    empty_blob, failing_body_keeps_the_previous_blob, large_body_in_small_chunks, replacing_a_blob,
    round_trip,
};

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
