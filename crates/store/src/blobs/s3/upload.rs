//! Multipart upload: a body longer than one part goes up in parts, holding one part in memory
//! at a time, and is aborted on any error (also when the put is dropped half-way).

use aws_sdk_s3::primitives::ByteStream as SdkByteStream;
use aws_sdk_s3::types::{ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart};
use bytes::{Bytes, BytesMut};
use sha2::{Digest, Sha256};

use super::*;

impl S3BlobStore {
    pub(super) async fn put_multipart(
        &self,
        key: &BlobKey,
        body: &mut BodyReader,
        content_type: Option<&str>,
    ) -> Result<(), BlobError> {
        let created = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(key.as_str())
            .set_content_type(content_type.map(str::to_owned))
            .checksum_algorithm(ChecksumAlgorithm::Crc32)
            .send()
            .await
            .map_err(|e| self.backend("starting a multipart upload", &e))?;
        let upload_id = created.upload_id().ok_or_else(|| {
            BlobError::Backend("starting a multipart upload: no upload id in the answer".into())
        })?;
        let mut pending = PendingUpload {
            store: Some(self.clone()),
            key: key.clone(),
            upload_id: upload_id.to_owned(),
        };
        match self.upload_parts(key, upload_id, body).await {
            Ok(()) => {
                pending.store = None;
                Ok(())
            }
            Err(e) => {
                if let Some(store) = pending.store.take() {
                    store.abort(key, upload_id).await;
                }
                Err(e)
            }
        }
    }

    async fn upload_parts(
        &self,
        key: &BlobKey,
        upload_id: &str,
        body: &mut BodyReader,
    ) -> Result<(), BlobError> {
        let mut parts = Vec::new();
        let mut part_number = 0;
        while let Some(part) = body.next_part().await? {
            part_number += 1;
            if part_number > MAX_PARTS {
                return Err(BlobError::Backend(format!(
                    "a blob may have at most {MAX_PARTS} parts of {PART_SIZE} bytes"
                )));
            }
            let uploaded = self
                .client
                .upload_part()
                .bucket(&self.bucket)
                .key(key.as_str())
                .upload_id(upload_id)
                .part_number(part_number)
                .checksum_algorithm(ChecksumAlgorithm::Crc32)
                .body(SdkByteStream::from(part))
                .customize()
                .config_override(transfer_config())
                .send()
                .await
                .map_err(|e| self.backend("uploading a part", &e))?;
            parts.push(
                CompletedPart::builder()
                    .part_number(part_number)
                    .set_e_tag(uploaded.e_tag().map(str::to_owned))
                    .set_checksum_crc32(uploaded.checksum_crc32().map(str::to_owned))
                    .build(),
            );
        }
        self.client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(key.as_str())
            .upload_id(upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .customize()
            .config_override(transfer_config())
            .send()
            .await
            .map_err(|e| self.backend("completing a multipart upload", &e))?;
        Ok(())
    }

    async fn abort(&self, key: &BlobKey, upload_id: &str) {
        let aborted = self
            .client
            .abort_multipart_upload()
            .bucket(&self.bucket)
            .key(key.as_str())
            .upload_id(upload_id)
            .send()
            .await;
        if let Err(e) = aborted {
            // The parts stay billed until a lifecycle rule removes them; nothing else to do.
            let BlobError::Backend(message) = self.backend("aborting a multipart upload", &e)
            else {
                return;
            };
            tracing::warn!(key = %key, error = %message, "multipart upload left behind");
        }
    }
}

/// The body of a put on its way in: hashed and counted as it is read, buffered up to one part.
pub(super) struct BodyReader {
    pub(super) body: ByteStream,
    pub(super) buf: BytesMut,
    pub(super) hasher: Sha256,
    pub(super) size: u64,
    pub(super) ended: bool,
}

impl BodyReader {
    pub(super) fn new(body: ByteStream) -> Self {
        Self {
            body,
            buf: BytesMut::new(),
            hasher: Sha256::new(),
            size: 0,
            ended: false,
        }
    }

    /// Reads until more than a part is buffered (so a full part is never the last one) or the
    /// body ends.
    pub(super) async fn fill(&mut self) -> Result<(), BlobError> {
        while !self.ended && self.buf.len() <= PART_SIZE {
            match self.body.try_next().await.map_err(BlobError::Body)? {
                Some(chunk) => {
                    self.hasher.update(&chunk);
                    self.size += chunk.len() as u64;
                    self.buf.extend_from_slice(&chunk);
                }
                None => self.ended = true,
            }
        }
        Ok(())
    }

    /// The next part: a full one while more follows, then the rest.
    pub(super) async fn next_part(&mut self) -> Result<Option<Bytes>, BlobError> {
        self.fill().await?;
        Ok(if self.buf.len() > PART_SIZE {
            Some(self.buf.split_to(PART_SIZE).freeze())
        } else if !self.buf.is_empty() {
            Some(self.buf.split().freeze())
        } else {
            None
        })
    }
}

/// A multipart upload that has not been completed: if the put is dropped half-way (the
/// client went away), the upload is aborted in the background rather than left to linger.
pub(super) struct PendingUpload {
    store: Option<S3BlobStore>,
    key: BlobKey,
    upload_id: String,
}

impl Drop for PendingUpload {
    fn drop(&mut self) {
        let Some(store) = self.store.take() else {
            return;
        };
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let key = self.key.clone();
            let upload_id = std::mem::take(&mut self.upload_id);
            runtime.spawn(async move { store.abort(&key, &upload_id).await });
        }
    }
}
