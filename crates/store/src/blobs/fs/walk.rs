//! Listing the embedded store in key order, one page at a time.
//!
//! A page reads only what it needs: directories whose keys all sort at or before
//! `start_after` are skipped unread, of the rest only the smallest entries are ordered, and
//! only the blobs returned are stat'ed. Paging through a tenant's 100,000 files (one flat
//! directory) therefore costs one directory read per page, not a stat of every blob.

use std::io;
use std::path::Path;

use super::super::{BlobKey, BlobMeta};
use super::{TMP_DIR, is_missing};

/// Up to `limit` blobs under `prefix` whose keys sort after `start_after`, in key order.
pub(super) fn list_page(
    root: &Path,
    prefix: &str,
    start_after: Option<&BlobKey>,
    limit: usize,
) -> io::Result<Vec<BlobMeta>> {
    // "tenants/acme/fi" can only match under "tenants/acme".
    let fixed_dir = prefix.rsplit_once('/').map_or("", |(dir, _)| dir);
    if !fixed_dir.is_empty() && BlobKey::new(fixed_dir).is_err() {
        // No key lives under a directory that is not itself a valid key (this also keeps a
        // prefix like "../" from walking outside the root).
        return Ok(Vec::new());
    }
    let mut page = Page {
        root,
        prefix,
        after: start_after.map(BlobKey::as_str),
        limit,
        found: Vec::new(),
    };
    page.visit(fixed_dir)?;
    Ok(page.found)
}

struct Page<'a> {
    root: &'a Path,
    prefix: &'a str,
    after: Option<&'a str>,
    limit: usize,
    found: Vec<BlobMeta>,
}

/// A directory entry that may hold keys of the page. `order` is the blob's key, or for a
/// directory its key and a `/`: keys under "a" all start with "a/", so "a-b" (a blob) sorts
/// before all of them, and entries order exactly as the keys they hold.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Entry {
    order: String,
    is_dir: bool,
}

impl Page<'_> {
    fn full(&self) -> bool {
        self.found.len() >= self.limit
    }

    fn visit(&mut self, dir: &str) -> io::Result<()> {
        let mut entries = self.entries(dir)?;
        let mut next = 0;
        while next < entries.len() && !self.full() {
            // The smallest entries this page can still use, in order. A directory may turn
            // out to hold nothing of the page, so the loop comes back for more.
            let rest = &mut entries[next..];
            let take = (self.limit - self.found.len()).min(rest.len());
            if take < rest.len() {
                rest.select_nth_unstable(take);
            }
            rest[..take].sort_unstable();
            for entry in &entries[next..next + take] {
                if self.full() {
                    break;
                }
                if entry.is_dir {
                    self.visit(entry.order.trim_end_matches('/'))?;
                } else {
                    self.add(&entry.order)?;
                }
            }
            next += take;
        }
        Ok(())
    }

    /// The entries of `dir` that may hold keys of the page, unordered.
    fn entries(&self, dir: &str) -> io::Result<Vec<Entry>> {
        let listing = match std::fs::read_dir(self.root.join(dir)) {
            Ok(listing) => listing,
            Err(e) if is_missing(&e) => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut entries = Vec::new();
        for entry in listing {
            let entry = entry?;
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            let key = if dir.is_empty() {
                name
            } else {
                format!("{dir}/{name}")
            };
            // The type comes with the directory listing: no stat per entry.
            let file_type = entry.file_type()?;
            if file_type.is_dir() {
                if key == TMP_DIR {
                    continue;
                }
                let subtree = key + "/";
                let may_match =
                    subtree.starts_with(self.prefix) || self.prefix.starts_with(&subtree);
                // Every key under it sorts before `after` unless `after` is itself under it.
                let all_before = self
                    .after
                    .is_some_and(|after| after > subtree.as_str() && !after.starts_with(&subtree));
                if may_match && !all_before {
                    entries.push(Entry {
                        order: subtree,
                        is_dir: true,
                    });
                }
            } else if file_type.is_file()
                && key.starts_with(self.prefix)
                && self.after.is_none_or(|after| key.as_str() > after)
            {
                // Symlinks and anything else a person put there are not blobs.
                entries.push(Entry {
                    order: key,
                    is_dir: false,
                });
            }
        }
        Ok(entries)
    }

    fn add(&mut self, key: &str) -> io::Result<()> {
        let Ok(key) = BlobKey::new(key) else {
            return Ok(());
        };
        let meta = match std::fs::metadata(self.root.join(key.as_str())) {
            Ok(meta) => meta,
            // Deleted since the directory was read.
            Err(e) if is_missing(&e) => return Ok(()),
            Err(e) => return Err(e),
        };
        self.found.push(BlobMeta {
            key,
            size: meta.len(),
            last_modified: meta.modified().ok(),
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(root: &Path, key: &str) {
        let path = root.join(key);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
        std::fs::write(path, key).expect("write");
    }

    fn keys(root: &Path, prefix: &str, after: Option<&str>, limit: usize) -> Vec<String> {
        let after = after.map(|a| BlobKey::new(a).expect("key"));
        list_page(root, prefix, after.as_ref(), limit)
            .expect("list")
            .into_iter()
            .map(|m| m.key.to_string())
            .collect()
    }

    #[test]
    fn directories_holding_nothing_of_the_page_do_not_shorten_it() {
        let root = tempfile::tempdir().expect("tempdir");
        let root = root.path();
        // Empty directories and ones holding only keys before `after` sort first.
        for empty in ["f/a", "f/b", "f/c"] {
            std::fs::create_dir_all(root.join(empty)).expect("mkdir");
        }
        put(root, "f/d/1");
        for n in 0..5 {
            put(root, &format!("f/e{n}"));
        }
        assert_eq!(keys(root, "f/", Some("f/d/1"), 2), ["f/e0", "f/e1"]);
        assert_eq!(keys(root, "f/", None, 3), ["f/d/1", "f/e0", "f/e1"]);
        assert_eq!(keys(root, "f/", Some("f/e3"), 10), ["f/e4"]);
    }

    #[test]
    fn pages_of_a_large_flat_directory_cover_it_in_order() {
        let root = tempfile::tempdir().expect("tempdir");
        let root = root.path();
        let mut all: Vec<String> = (0..1000)
            .map(|n| format!("files/t/{:x}", n * 7919))
            .collect();
        for key in &all {
            put(root, key);
        }
        all.sort();
        let mut paged = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = keys(root, "files/", after.as_deref(), 64);
            let Some(last) = page.last() else { break };
            after = Some(last.clone());
            paged.extend(page);
        }
        assert_eq!(paged, all);
    }
}
