//! The JWT signing secret of an embedded install: generated on the first start and kept in
//! the data directory, so that tokens stay valid across restarts. Replicas cannot share a
//! file, so they must set `jwt_secret` instead.

use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use signpost_service::auth::{MIN_SECRET_BYTES, random_signing_secret};

const FILE_NAME: &str = "jwt-secret";

pub fn path(data_dir: &Path) -> PathBuf {
    data_dir.join(FILE_NAME)
}

pub fn load_or_create(data_dir: &Path) -> anyhow::Result<String> {
    let path = path(data_dir);
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create data directory {}", data_dir.display()))?;
    let secret = random_signing_secret();
    // Written in full under a temporary name, then linked into place: the link fails when
    // the file exists (kept from an earlier start, or made a moment ago by a process starting
    // beside this one), so exactly one secret wins and no one ever reads a half-written file.
    let temporary = data_dir.join(format!(".{FILE_NAME}.{}", std::process::id()));
    let written = write_private(&temporary, &secret)
        .with_context(|| format!("cannot write {}", temporary.display()));
    let linked = written.and_then(|()| match std::fs::hard_link(&temporary, &path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e).with_context(|| format!("cannot create {}", path.display())),
    });
    let _ = std::fs::remove_file(&temporary);
    if linked? {
        tracing::info!(
            path = %path.display(),
            "generated a JWT signing secret; replicas must set jwt_secret instead"
        );
        Ok(secret)
    } else {
        read(&path)
    }
}

fn read(path: &Path) -> anyhow::Result<String> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let secret = text.trim();
    if secret.len() < MIN_SECRET_BYTES {
        anyhow::bail!(
            "{} holds fewer than {MIN_SECRET_BYTES} bytes; delete it to generate a new secret",
            path.display()
        );
    }
    Ok(secret.to_owned())
}

/// Readable by the owner only: the secret signs every token.
fn write_private(path: &Path, secret: &str) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(secret.as_bytes())?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_once_then_reused() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let first = load_or_create(&data).unwrap();
        assert_eq!(first.len(), 64);
        assert_eq!(load_or_create(&data).unwrap(), first);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(path(&data)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn a_truncated_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(path(dir.path()), "short\n").unwrap();
        let message = load_or_create(dir.path()).unwrap_err().to_string();
        assert!(message.contains("fewer than 32 bytes"), "{message}");
    }
}
