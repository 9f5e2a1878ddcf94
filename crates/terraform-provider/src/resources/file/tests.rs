//! Tests of the body digests.

use super::body::digest_file;
use super::*;

#[test]
fn digests() {
    let (sha, size) = digest(b"hello");
    assert_eq!(
        sha,
        "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    );
    assert_eq!(size, 5);
}

#[tokio::test]
async fn file_digest_matches_content_digest() {
    let dir = std::env::temp_dir().join(format!("signpost-tf-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("a.bin");
    let body: Vec<u8> = (0..600_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&path, &body).unwrap();
    assert_eq!(digest_file(&path).await.unwrap(), digest(&body));
    std::fs::remove_dir_all(&dir).unwrap();
}
