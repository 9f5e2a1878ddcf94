//! The production blob store: one object per blob in an S3 (or S3-compatible) bucket.
//!
//! Bodies are streamed: a put buffers at most one part (8 MiB) and switches to a multipart
//! upload when the body is longer; a get hands the response body on as it arrives.

use std::fmt;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use aws_config::BehaviorVersion;
use aws_config::meta::region::RegionProviderChain;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{Credentials, Region};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream as SdkByteStream;
use futures::{StreamExt, TryStreamExt};
use sha2::Digest;
use tokio_util::io::ReaderStream;

mod upload;

use super::{
    BlobError, BlobKey, BlobMeta, BlobObject, BlobStore, ByteRange, ByteStream, PutOutcome,
};
use upload::BodyReader;

/// Bodies up to this size go up in one PutObject; longer ones in parts of this size. S3
/// wants every part but the last to be at least 5 MiB.
const PART_SIZE: usize = 8 * 1024 * 1024;
/// S3 allows at most this many parts in one upload.
const MAX_PARTS: i32 = 10_000;
const DEFAULT_REGION: &str = "us-east-1";
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Requests without a body worth the name, and a GetObject up to its response headers (the
/// body is streamed afterwards and not under this limit).
const OPERATION_TIMEOUT: Duration = Duration::from_secs(30);
/// One PutObject or UploadPart (at most one part), retries included.
const TRANSFER_TIMEOUT: Duration = Duration::from_secs(10 * 60);
/// Readiness probes want a quick answer.
const CHECK_TIMEOUT: Duration = Duration::from_secs(5);
const READ_CHUNK: usize = 64 * 1024;

#[derive(Clone, Default)]
pub struct S3Options {
    pub bucket: String,
    /// For S3-compatible servers; `None` means AWS.
    pub endpoint: Option<String>,
    /// `None`: whatever the AWS environment says, else us-east-1.
    pub region: Option<String>,
    pub force_path_style: bool,
    /// Both or neither; neither means the default AWS credential chain.
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
}

impl fmt::Debug for S3Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Options")
            .field("bucket", &self.bucket)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("force_path_style", &self.force_path_style)
            .field("access_key_id", &self.access_key_id)
            .field(
                "secret_access_key",
                &self.secret_access_key.as_ref().map(|_| "***"),
            )
            .finish()
    }
}

#[derive(Clone)]
pub struct S3BlobStore {
    client: Client,
    bucket: String,
    endpoint: Option<String>,
    /// Scrubbed from every error message, whatever the server chose to echo back.
    credentials: Vec<String>,
}

impl fmt::Debug for S3BlobStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3BlobStore")
            .field("bucket", &self.bucket)
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

impl S3BlobStore {
    pub async fn new(options: S3Options) -> Result<Self, BlobError> {
        let non_empty = |s: Option<String>| s.filter(|s| !s.is_empty());
        let access_key_id = non_empty(options.access_key_id);
        let secret_access_key = non_empty(options.secret_access_key);
        let region = RegionProviderChain::first_try(non_empty(options.region).map(Region::new))
            .or_default_provider()
            .or_else(Region::from_static(DEFAULT_REGION));
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .region(region)
            .timeout_config(timeouts(OPERATION_TIMEOUT));
        let mut credentials = Vec::new();
        match (access_key_id, secret_access_key) {
            (Some(id), Some(secret)) => {
                loader = loader
                    .credentials_provider(Credentials::new(&id, &secret, None, None, "signpost"));
                credentials = vec![id, secret];
            }
            (None, None) => {}
            _ => {
                return Err(BlobError::Backend(
                    "S3 access key id and secret access key must be given together".into(),
                ));
            }
        }
        let endpoint = non_empty(options.endpoint);
        if let Some(endpoint) = &endpoint {
            loader = loader.endpoint_url(endpoint);
        }
        let sdk_config = loader.load().await;
        let config = aws_sdk_s3::config::Builder::from(&sdk_config)
            .force_path_style(options.force_path_style)
            .build();
        Ok(Self {
            client: Client::from_conf(config),
            bucket: options.bucket,
            endpoint,
            credentials,
        })
    }

    /// A backend error worth logging: what failed, S3's error code and message or the
    /// transport's error chain; never the raw response, never the credentials.
    fn backend<E>(&self, doing: &str, err: &SdkError<E, HttpResponse>) -> BlobError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let detail = match err {
            SdkError::ServiceError(service) => {
                let status = service.raw().status().as_u16();
                let code = err.code().unwrap_or("no error code");
                match err.message() {
                    Some(message) => format!("HTTP {status} {code}: {message}"),
                    None => format!("HTTP {status} {code}"),
                }
            }
            other => error_chain(other),
        };
        let mut message = format!("{doing} in bucket {}: {detail}", self.bucket);
        for secret in &self.credentials {
            message = message.replace(secret.as_str(), "***");
        }
        BlobError::Backend(message)
    }

    /// What a get answers when S3 found the range unsatisfiable: an empty blob has no
    /// satisfiable range, but the port hands it out whole (as the filesystem store does).
    async fn unsatisfiable(&self, key: &BlobKey) -> Result<BlobObject, BlobError> {
        match self.head(key).await?.size {
            0 => Ok(BlobObject {
                total_size: 0,
                first: 0,
                last: None,
                body: Box::pin(futures::stream::empty()),
            }),
            total_size => Err(BlobError::RangeNotSatisfiable { total_size }),
        }
    }
}

#[async_trait]
impl BlobStore for S3BlobStore {
    async fn put(
        &self,
        key: &BlobKey,
        body: ByteStream,
        content_type: Option<&str>,
    ) -> Result<PutOutcome, BlobError> {
        let mut body = BodyReader::new(body);
        body.fill().await?;
        if body.ended {
            self.client
                .put_object()
                .bucket(&self.bucket)
                .key(key.as_str())
                .set_content_type(content_type.map(str::to_owned))
                .body(SdkByteStream::from(body.buf.split().freeze()))
                .customize()
                .config_override(transfer_config())
                .send()
                .await
                .map_err(|e| self.backend("putting an object", &e))?;
        } else {
            self.put_multipart(key, &mut body, content_type).await?;
        }
        Ok(PutOutcome {
            size: body.size,
            sha256: body.hasher.finalize().into(),
        })
    }

    async fn get(&self, key: &BlobKey, range: Option<ByteRange>) -> Result<BlobObject, BlobError> {
        let range = match range {
            None
            | Some(ByteRange {
                start: 0,
                end_inclusive: None,
            }) => None,
            Some(ByteRange {
                start,
                end_inclusive: None,
            }) => Some(format!("bytes={start}-")),
            Some(ByteRange {
                start,
                end_inclusive: Some(end),
            }) if end >= start => Some(format!("bytes={start}-{end}")),
            Some(_) => return self.unsatisfiable(key).await,
        };
        let output = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .set_range(range)
            .send()
            .await
        {
            Ok(output) => output,
            Err(e) => {
                return match (e.code(), status(&e)) {
                    (Some("NoSuchKey"), _) => Err(BlobError::NotFound),
                    (Some("InvalidRange"), _) | (_, Some(416)) => self.unsatisfiable(key).await,
                    (None, Some(404)) => Err(BlobError::NotFound),
                    _ => Err(self.backend("getting an object", &e)),
                };
            }
        };
        let (first, last, total_size) = match output.content_range().and_then(parse_content_range) {
            Some(sent) => sent,
            None => {
                let total_size = output.content_length().unwrap_or(0).max(0) as u64;
                (0, total_size.checked_sub(1), total_size)
            }
        };
        let body = ReaderStream::with_capacity(output.body.into_async_read(), READ_CHUNK);
        Ok(BlobObject {
            total_size,
            first,
            last,
            body: body.boxed(),
        })
    }

    async fn head(&self, key: &BlobKey) -> Result<BlobMeta, BlobError> {
        let output = self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .send()
            .await
            .map_err(|e| match status(&e) {
                // A HEAD answer has no body, so a missing bucket looks the same.
                Some(404) => BlobError::NotFound,
                _ => self.backend("reading an object's metadata", &e),
            })?;
        Ok(BlobMeta {
            key: key.clone(),
            size: output.content_length().unwrap_or(0).max(0) as u64,
            last_modified: output
                .last_modified()
                .and_then(|t| SystemTime::try_from(*t).ok()),
        })
    }

    async fn delete(&self, key: &BlobKey) -> Result<(), BlobError> {
        match self
            .client
            .delete_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .send()
            .await
        {
            Ok(_) => Ok(()),
            // S3 answers 204 for a missing key; some compatible servers answer NoSuchKey.
            Err(e) if e.code() == Some("NoSuchKey") => Ok(()),
            Err(e) => Err(self.backend("deleting an object", &e)),
        }
    }

    async fn list(
        &self,
        prefix: &str,
        start_after: Option<&BlobKey>,
        limit: usize,
    ) -> Result<Vec<BlobMeta>, BlobError> {
        let mut found = Vec::new();
        let mut continuation = None;
        while found.len() < limit {
            let page = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .set_prefix((!prefix.is_empty()).then(|| prefix.to_owned()))
                .set_start_after(start_after.map(|k| k.as_str().to_owned()))
                .set_continuation_token(continuation.take())
                .max_keys((limit - found.len()).min(1000) as i32)
                .send()
                .await
                .map_err(|e| self.backend("listing objects", &e))?;
            // Objects someone else put in the bucket under keys Signpost cannot name are skipped.
            found.extend(page.contents().iter().filter_map(|object| {
                Some(BlobMeta {
                    key: BlobKey::new(object.key()?).ok()?,
                    size: object.size().unwrap_or(0).max(0) as u64,
                    last_modified: object
                        .last_modified()
                        .and_then(|t| SystemTime::try_from(*t).ok()),
                })
            }));
            continuation = page.next_continuation_token().map(str::to_owned);
            if !page.is_truncated().unwrap_or(false) || continuation.is_none() {
                break;
            }
        }
        found.truncate(limit);
        Ok(found)
    }

    async fn check(&self) -> Result<(), BlobError> {
        self.client
            .head_bucket()
            .bucket(&self.bucket)
            .customize()
            .config_override(
                aws_sdk_s3::config::Builder::new().timeout_config(timeouts(CHECK_TIMEOUT)),
            )
            .send()
            .await
            .map_err(|e| self.backend("checking the bucket", &e))?;
        Ok(())
    }
}

fn timeouts(operation: Duration) -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .operation_timeout(operation)
        .build()
}

/// For requests that carry up to a part of body.
fn transfer_config() -> aws_sdk_s3::config::Builder {
    aws_sdk_s3::config::Builder::new().timeout_config(timeouts(TRANSFER_TIMEOUT))
}

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}

fn status<E>(err: &SdkError<E, HttpResponse>) -> Option<u16> {
    err.raw_response().map(|r| r.status().as_u16())
}

/// `bytes FIRST-LAST/TOTAL` into (first, last, total).
fn parse_content_range(value: &str) -> Option<(u64, Option<u64>, u64)> {
    let (range, total) = value.strip_prefix("bytes ")?.split_once('/')?;
    let (first, last) = range.split_once('-')?;
    Some((
        first.trim().parse().ok()?,
        Some(last.trim().parse().ok()?),
        total.trim().parse().ok()?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_masks_the_secret() {
        let options = S3Options {
            bucket: "b".into(),
            access_key_id: Some("AKIDEXAMPLE".into()),
            secret_access_key: Some("wJalrXUtnFEMI/K7MDENG".into()),
            ..S3Options::default()
        };
        let printed = format!("{options:?}");
        assert!(!printed.contains("wJalrXUtnFEMI"), "{printed}");
        assert!(printed.contains("***"), "{printed}");
    }

    #[test]
    fn content_range_is_parsed() {
        assert_eq!(
            parse_content_range("bytes 10-19/100"),
            Some((10, Some(19), 100))
        );
        assert_eq!(parse_content_range("bytes */100"), None);
        assert_eq!(parse_content_range("items 1-2/3"), None);
    }
}
