//! The body's SHA-256 and size, of `content` or of the local file `source`.

use std::path::Path;

use sha2::{Digest, Sha256};
use tf_provider::Diagnostics;
use tf_provider::value::Value;
use tokio::io::AsyncReadExt;

use super::State;
use crate::util::{at, error};

/// SHA-256 (hex) and size of a body.
pub fn digest(bytes: &[u8]) -> (String, i64) {
    (
        hex::encode(Sha256::digest(bytes)),
        i64::try_from(bytes.len()).unwrap_or(i64::MAX),
    )
}

pub(super) async fn digest_file(path: &Path) -> std::io::Result<(String, i64)> {
    let mut file = tokio::fs::File::open(path).await?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut size: u64 = 0;
    loop {
        let n = file.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    Ok((
        hex::encode(hasher.finalize()),
        i64::try_from(size).unwrap_or(i64::MAX),
    ))
}

/// What the local body is now: `Ok(None)` while `content`/`source` is unknown.
pub(super) async fn local(diags: &mut Diagnostics, state: &State) -> Option<Option<(String, i64)>> {
    match (&state.content, &state.source) {
        (Value::Value(content), _) => Some(Some(digest(content.as_bytes()))),
        (_, Value::Value(source)) => match digest_file(Path::new(source)).await {
            Ok(d) => Some(Some(d)),
            Err(e) => {
                error(
                    diags,
                    "Cannot read the source file",
                    format!("{source}: {e}"),
                    at("source"),
                );
                None
            }
        },
        _ => Some(None),
    }
}
