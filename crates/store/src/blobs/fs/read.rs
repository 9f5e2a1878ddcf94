//! Reading a blob without a thread hand-off when its pages are in memory.
//!
//! A booting phone's settings file is a few hundred bytes that were written or read
//! recently, so the kernel has it cached. Sending such a read to the blocking pool cost more
//! than the read: two thread switches per file (a boot storm's largest avoidable cost after
//! the network's, `perf` showed). So, as nginx does, the file is opened and sized on the
//! calling thread, and a short slice is read with `RWF_NOWAIT`, which the kernel refuses
//! rather than wait for the disk. Only a read it refused, or one longer than a chunk, goes
//! to the blocking pool.
//!
//! Opening stays on the calling thread even when the file's inode is not cached: a blob's
//! directory was read when it was written, and a blocking-pool trip per open would cost every
//! read what only a cold start needs.

use std::fs::File;
use std::io;
use std::path::Path;

use bytes::Bytes;
use futures::StreamExt;
use tokio::io::AsyncReadExt;
use tokio_util::io::ReaderStream;

use super::{READ_CHUNK, io_error, not_found_or};
use crate::blobs::{BlobError, BlobObject, ByteRange};

/// The blob at `path`, or the part of it `range` names.
pub(super) async fn open_blob(
    path: &Path,
    range: Option<ByteRange>,
) -> Result<BlobObject, BlobError> {
    let file = File::open(path).map_err(|e| not_found_or("opening the blob", e))?;
    // Size from the open file, not the path: a concurrent put may already have replaced it.
    let meta = file
        .metadata()
        .map_err(|e| io_error("reading the blob's metadata", e))?;
    if !meta.is_file() {
        return Err(BlobError::NotFound);
    }
    let total_size = meta.len();
    let Some(last_byte) = total_size.checked_sub(1) else {
        return Ok(BlobObject {
            total_size,
            first: 0,
            last: None,
            body: Box::pin(futures::stream::empty()),
        });
    };
    let (first, last) = match range {
        None => (0, last_byte),
        Some(ByteRange {
            start,
            end_inclusive,
        }) => {
            let last = end_inclusive.map_or(last_byte, |end| end.min(last_byte));
            if start > last {
                return Err(BlobError::RangeNotSatisfiable { total_size });
            }
            (start, last)
        }
    };
    let length = last - first + 1;
    let body = if length <= READ_CHUNK as u64 {
        let bytes = read_slice(file, first, length as usize).await?;
        futures::stream::once(futures::future::ready(Ok(Bytes::from(bytes)))).boxed()
    } else {
        let mut file = tokio::fs::File::from_std(file);
        if first > 0 {
            use tokio::io::AsyncSeekExt;
            file.seek(io::SeekFrom::Start(first))
                .await
                .map_err(|e| io_error("seeking in the blob", e))?;
        }
        ReaderStream::with_capacity(file.take(length), READ_CHUNK).boxed()
    };
    Ok(BlobObject {
        total_size,
        first,
        last: Some(last),
        body,
    })
}

/// `length` bytes from `offset`: from the page cache right here, else in the blocking pool.
async fn read_slice(file: File, offset: u64, length: usize) -> Result<Vec<u8>, BlobError> {
    let mut bytes = vec![0; length];
    let cached = read_cached(&file, offset, &mut bytes);
    if cached == length {
        return Ok(bytes);
    }
    tokio::task::spawn_blocking(move || {
        read_waiting(&file, offset + cached as u64, &mut bytes[cached..]).map(|()| bytes)
    })
    .await
    .map_err(|e| BlobError::Backend(format!("reading the blob: {e}")))?
}

/// How much of `buf` (read from `offset`) the kernel had in memory. Stops at the first
/// refusal: "would wait" (`EAGAIN`), a kernel or filesystem without `RWF_NOWAIT`, any error
/// (the waiting read reports real ones), or the end of the file.
#[cfg(target_os = "linux")]
fn read_cached(file: &File, offset: u64, buf: &mut [u8]) -> usize {
    use rustix::io::{ReadWriteFlags, preadv2};

    let mut done = 0;
    while done < buf.len() {
        let mut slices = [io::IoSliceMut::new(&mut buf[done..])];
        match preadv2(
            file,
            &mut slices,
            offset + done as u64,
            ReadWriteFlags::NOWAIT,
        ) {
            Ok(0) | Err(_) => break,
            Ok(n) => done += n,
        }
    }
    done
}

/// Elsewhere every read may wait.
#[cfg(not(target_os = "linux"))]
fn read_cached(_file: &File, _offset: u64, _buf: &mut [u8]) -> usize {
    0
}

/// The rest of a slice, waiting for the disk if need be; a file shorter than its size (cut
/// short after it was opened) is an error, not a short body.
fn read_waiting(file: &File, offset: u64, buf: &mut [u8]) -> Result<(), BlobError> {
    use std::os::unix::fs::FileExt;

    file.read_exact_at(buf, offset).map_err(|e| {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            io_error(
                "reading the blob",
                io::Error::new(io::ErrorKind::UnexpectedEof, "shorter than its size"),
            )
        } else {
            io_error("reading the blob", e)
        }
    })
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn file_with(body: &[u8]) -> (tempfile::TempDir, File) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("blob");
        std::fs::File::create(&path)
            .unwrap()
            .write_all(body)
            .unwrap();
        let file = File::open(&path).unwrap();
        (dir, file)
    }

    #[test]
    fn a_just_written_file_is_read_from_memory() {
        let (_dir, file) = file_with(b"0123456789");
        let mut buf = [0; 4];
        let cached = read_cached(&file, 3, &mut buf);
        if cfg!(target_os = "linux") {
            // Linux has read cached pages without waiting since 4.14.
            assert_eq!(cached, 4);
            assert_eq!(&buf, b"3456");
        } else {
            assert_eq!(cached, 0);
        }
    }

    #[test]
    fn the_waiting_read_finishes_a_slice_and_refuses_a_short_file() {
        let (_dir, file) = file_with(b"0123456789");
        let mut buf = [0; 3];
        read_waiting(&file, 7, &mut buf).unwrap();
        assert_eq!(&buf, b"789");
        let mut past_the_end = [0; 4];
        assert!(read_waiting(&file, 8, &mut past_the_end).is_err());
    }

    #[tokio::test]
    async fn a_slice_is_whole_whichever_way_it_was_read() {
        let (_dir, file) = file_with(b"hello, phone");
        assert_eq!(read_slice(file, 7, 5).await.unwrap(), b"phone");
    }
}
