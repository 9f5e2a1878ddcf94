//! The embedded blob store: one file per blob under a root directory.
//!
//! A put streams into a temporary file in the same filesystem and renames it over the blob,
//! so readers see the old or the new body whole, and a reader that already opened the old
//! file keeps reading it to the end.

use std::io;
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use futures::TryStreamExt;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

mod read;
mod walk;

use super::{
    BlobError, BlobKey, BlobMeta, BlobObject, BlobStore, ByteRange, ByteStream, PutOutcome,
};

/// Where bodies are written before they are renamed into place. `_` is not allowed in a
/// [`BlobKey`], so no blob can ever live at (or under) this name.
const TMP_DIR: &str = "_tmp";

/// Temporary files this old are left over from a crash, not an upload in progress.
const STALE_TMP_AGE: Duration = Duration::from_secs(24 * 60 * 60);

const READ_CHUNK: usize = 64 * 1024;

#[derive(Debug, Clone)]
pub struct FsBlobStore {
    root: PathBuf,
}

impl FsBlobStore {
    /// Opens (creating if needed) a store rooted at `root`.
    pub fn new(root: impl Into<PathBuf>) -> Result<Self, BlobError> {
        let root = root.into();
        let tmp = root.join(TMP_DIR);
        std::fs::create_dir_all(&tmp)
            .map_err(|e| io_error(&format!("creating {}", tmp.display()), e))?;
        remove_stale_tmp_files(&tmp);
        Ok(Self { root })
    }

    fn path_of(&self, key: &BlobKey) -> Result<PathBuf, BlobError> {
        // BlobKey already rules out `..`, absolute paths and the temp directory; this keeps
        // the guarantee local to the code that touches the filesystem.
        let relative = Path::new(key.as_str());
        if relative
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
            && !relative.starts_with(TMP_DIR)
        {
            Ok(self.root.join(relative))
        } else {
            Err(BlobError::Backend(format!(
                "key {key} leaves the store root"
            )))
        }
    }

    fn tmp_dir(&self) -> PathBuf {
        self.root.join(TMP_DIR)
    }

    /// Streams `body` into a new temporary file and makes it durable.
    async fn write_tmp(
        &self,
        tmp_path: &Path,
        mut body: ByteStream,
    ) -> Result<PutOutcome, BlobError> {
        let mut file = tokio::fs::File::create(tmp_path)
            .await
            .map_err(|e| io_error("creating a temporary file", e))?;
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        while let Some(chunk) = body.try_next().await.map_err(BlobError::Body)? {
            hasher.update(&chunk);
            size += chunk.len() as u64;
            file.write_all(&chunk)
                .await
                .map_err(|e| io_error("writing a temporary file", e))?;
        }
        file.flush()
            .await
            .map_err(|e| io_error("writing a temporary file", e))?;
        file.sync_all()
            .await
            .map_err(|e| io_error("syncing a temporary file", e))?;
        Ok(PutOutcome {
            size,
            sha256: hasher.finalize().into(),
        })
    }

    /// Renames the finished file into place. A concurrent delete may remove the (then empty)
    /// parent directory between creating it and the rename, hence the retry.
    async fn move_into_place(&self, tmp_path: &Path, path: &Path) -> Result<(), BlobError> {
        let parent = path.parent().unwrap_or(&self.root);
        let mut attempts = 0;
        loop {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(|e| io_error("creating the blob's directory", e))?;
            match tokio::fs::rename(tmp_path, path).await {
                Ok(()) => break,
                Err(e) if e.kind() == io::ErrorKind::NotFound && attempts < 3 => attempts += 1,
                Err(e) => return Err(io_error("moving the blob into place", e)),
            }
        }
        // The rename is only durable once the directory entry is.
        let dir = tokio::fs::File::open(parent)
            .await
            .map_err(|e| io_error("opening the blob's directory", e))?;
        dir.sync_all()
            .await
            .map_err(|e| io_error("syncing the blob's directory", e))
    }

    /// Removes directories left empty by a delete, up to (not including) the root.
    async fn prune_empty_dirs(&self, path: &Path) {
        let mut dir = path.parent();
        while let Some(d) = dir {
            if d == self.root || tokio::fs::remove_dir(d).await.is_err() {
                break;
            }
            dir = d.parent();
        }
    }
}

#[async_trait]
impl BlobStore for FsBlobStore {
    async fn put(
        &self,
        key: &BlobKey,
        body: ByteStream,
        _content_type: Option<&str>,
    ) -> Result<PutOutcome, BlobError> {
        let path = self.path_of(key)?;
        let tmp_dir = self.tmp_dir();
        tokio::fs::create_dir_all(&tmp_dir)
            .await
            .map_err(|e| io_error("creating the temporary directory", e))?;
        let tmp = TmpFile::new(tmp_dir.join(uuid::Uuid::new_v4().to_string()));
        let outcome = self.write_tmp(&tmp.path, body).await?;
        self.move_into_place(&tmp.path, &path).await?;
        tmp.disarm();
        Ok(outcome)
    }

    async fn get(&self, key: &BlobKey, range: Option<ByteRange>) -> Result<BlobObject, BlobError> {
        let path = self.path_of(key)?;
        read::open_blob(&path, range).await
    }

    async fn head(&self, key: &BlobKey) -> Result<BlobMeta, BlobError> {
        let path = self.path_of(key)?;
        let meta = tokio::fs::metadata(&path)
            .await
            .map_err(|e| not_found_or("reading the blob's metadata", e))?;
        if !meta.is_file() {
            return Err(BlobError::NotFound);
        }
        Ok(BlobMeta {
            key: key.clone(),
            size: meta.len(),
            last_modified: meta.modified().ok(),
        })
    }

    async fn delete(&self, key: &BlobKey) -> Result<(), BlobError> {
        let path = self.path_of(key)?;
        match tokio::fs::remove_file(&path).await {
            Ok(()) => {
                self.prune_empty_dirs(&path).await;
                Ok(())
            }
            Err(e) if is_missing(&e) || e.kind() == io::ErrorKind::IsADirectory => Ok(()),
            Err(e) => Err(io_error("deleting the blob", e)),
        }
    }

    async fn list(
        &self,
        prefix: &str,
        start_after: Option<&BlobKey>,
        limit: usize,
    ) -> Result<Vec<BlobMeta>, BlobError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let root = self.root.clone();
        let prefix = prefix.to_owned();
        let start_after = start_after.cloned();
        tokio::task::spawn_blocking(move || {
            walk::list_page(&root, &prefix, start_after.as_ref(), limit)
                .map_err(|e| io_error("listing blobs", e))
        })
        .await
        .map_err(|e| BlobError::Backend(format!("listing blobs: {e}")))?
    }

    async fn check(&self) -> Result<(), BlobError> {
        let tmp_dir = self.tmp_dir();
        tokio::fs::create_dir_all(&tmp_dir)
            .await
            .map_err(|e| io_error("creating the temporary directory", e))?;
        let probe = TmpFile::new(tmp_dir.join(format!("check-{}", uuid::Uuid::new_v4())));
        tokio::fs::write(&probe.path, b"ok")
            .await
            .map_err(|e| io_error("writing to the store root", e))?;
        tokio::fs::remove_file(&probe.path)
            .await
            .map_err(|e| io_error("writing to the store root", e))?;
        probe.disarm();
        Ok(())
    }
}

/// Best effort: a crash between creating a temporary file and renaming it leaves it behind.
fn remove_stale_tmp_files(tmp: &Path) {
    let Ok(entries) = std::fs::read_dir(tmp) else {
        return;
    };
    let now = SystemTime::now();
    for entry in entries.flatten() {
        let stale = entry
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|modified| {
                now.duration_since(modified)
                    .is_ok_and(|age| age > STALE_TMP_AGE)
            });
        if stale {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// A temporary file that is removed unless it was moved into place, also when the put is
/// cancelled half-way.
struct TmpFile {
    path: PathBuf,
    armed: bool,
}

impl TmpFile {
    fn new(path: PathBuf) -> Self {
        Self { path, armed: true }
    }

    fn disarm(mut self) {
        self.armed = false;
    }
}

impl Drop for TmpFile {
    fn drop(&mut self) {
        if self.armed {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// A key whose path runs into a missing directory or through a file is not there.
fn is_missing(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
    )
}

fn not_found_or(doing: &str, e: io::Error) -> BlobError {
    if is_missing(&e) {
        BlobError::NotFound
    } else {
        io_error(doing, e)
    }
}

fn io_error(doing: &str, e: io::Error) -> BlobError {
    BlobError::Backend(format!("{doing}: {e}"))
}
