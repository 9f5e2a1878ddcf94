//! A body stream that fails once it has carried more than a limit, so an upload larger than
//! allowed is cut off while streaming (the blob store then keeps nothing of it) instead of
//! being stored and refused afterwards.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures::StreamExt;
use signpost_store::blobs::ByteStream;

use crate::error::ServiceError;

/// Tells the caller, after the store gave up, whether the limit was the reason.
#[derive(Debug, Clone, Default)]
pub struct Overflow(Arc<AtomicBool>);

impl Overflow {
    pub fn exceeded(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

pub fn limit(body: ByteStream, max: u64) -> (ByteStream, Overflow) {
    let overflow = Overflow::default();
    let flag = overflow.clone();
    let mut seen: u64 = 0;
    let limited = body.map(move |chunk| {
        let chunk = chunk?;
        seen += chunk.len() as u64;
        if seen > max {
            flag.0.store(true, Ordering::Release);
            return Err(std::io::Error::other(format!(
                "the body exceeds {max} bytes"
            )));
        }
        Ok(chunk)
    });
    (Box::pin(limited), overflow)
}

/// Reads a (size-limited) body whole and hands it back as one chunk if it is UTF-8 text.
pub async fn utf8_text(mut body: ByteStream) -> Result<ByteStream, ServiceError> {
    let mut bytes = Vec::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| ServiceError::BodyInterrupted(e.to_string()))?;
        bytes.extend_from_slice(&chunk);
    }
    if std::str::from_utf8(&bytes).is_err() {
        return Err(ServiceError::TemplateNotUtf8);
    }
    let once = futures::stream::once(async move { Ok(bytes::Bytes::from(bytes)) });
    Ok(Box::pin(once))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn body(chunks: &[&'static [u8]]) -> ByteStream {
        let items: Vec<std::io::Result<Bytes>> =
            chunks.iter().map(|c| Ok(Bytes::from_static(c))).collect();
        Box::pin(futures::stream::iter(items))
    }

    #[tokio::test]
    async fn passes_bodies_up_to_the_limit() {
        let (stream, overflow) = limit(body(&[b"abc", b"de"]), 5);
        let chunks: Vec<_> = stream.collect().await;
        assert!(chunks.iter().all(Result::is_ok));
        assert!(!overflow.exceeded());
    }

    #[tokio::test]
    async fn fails_past_the_limit() {
        let (stream, overflow) = limit(body(&[b"abc", b"def"]), 5);
        let chunks: Vec<_> = stream.collect().await;
        assert!(chunks[1].is_err());
        assert!(overflow.exceeded());
    }
}
