//! The path of a file a tenant hosts: what `PUT /v1/tenants/{t}/files/{path}` names and what
//! phones fetch. Paths end up in URLs, object-store keys and log lines, so they are held to a
//! small, unambiguous shape up front rather than sanitised at each of those places.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::Mac;

/// A tenant's file path: relative, `/`-separated, with no empty, `.` or `..` segments and no
/// characters that mean something else to a URL, a file system or a terminal.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FilePath(String);

/// Why a file path was refused. [`FilePathError::code`] is the stable name API clients match
/// on; the Display text is for people.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FilePathError {
    #[error("a file path must not be empty")]
    Empty,
    #[error("a file path must be at most {} bytes", FilePath::MAX_BYTES)]
    TooLong,
    #[error("a file path must be relative (must not start with '/')")]
    Absolute,
    #[error("a file path must not contain empty segments ('//' or a trailing '/')")]
    EmptySegment,
    #[error("a file path must not contain '.' or '..' segments")]
    DotSegment,
    #[error("a file path must not contain '\\'; segments are separated by '/'")]
    Backslash,
    #[error("a file path must not contain control characters")]
    ControlCharacter,
    #[error("a file path must not contain '%'")]
    Percent,
}

impl FilePathError {
    /// The stable machine-readable code for API error bodies.
    pub fn code(&self) -> &'static str {
        match self {
            FilePathError::Empty => "path_empty",
            FilePathError::TooLong => "path_too_long",
            FilePathError::Absolute => "path_absolute",
            FilePathError::EmptySegment => "path_empty_segment",
            FilePathError::DotSegment => "path_dot_segment",
            FilePathError::Backslash => "path_backslash",
            FilePathError::ControlCharacter => "path_control_character",
            FilePathError::Percent => "path_percent",
        }
    }
}

/// Checks, in order: length, leading `/`, each character, then each segment; the first rule
/// broken is the one reported.
fn check_file_path(s: &str) -> Result<(), FilePathError> {
    if s.is_empty() {
        return Err(FilePathError::Empty);
    }
    if s.len() > FilePath::MAX_BYTES {
        return Err(FilePathError::TooLong);
    }
    if s.starts_with('/') {
        return Err(FilePathError::Absolute);
    }
    for c in s.chars() {
        match c {
            // A backslash is a separator on Windows and in some URL parsers: `a\..\b` would
            // be a traversal there even though it is one innocent segment here.
            '\\' => return Err(FilePathError::Backslash),
            // Paths arrive already percent-decoded. A literal '%' surviving that would be
            // decoded a second time by whichever layer (proxy, object store, phone) next
            // treats the path as a URL, so `%2e%2e` could become `..` after our checks ran.
            '%' => return Err(FilePathError::Percent),
            // NUL truncates C strings; other controls forge log lines and break headers.
            c if c.is_control() => return Err(FilePathError::ControlCharacter),
            _ => {}
        }
    }
    for segment in s.split('/') {
        match segment {
            "" => return Err(FilePathError::EmptySegment),
            "." | ".." => return Err(FilePathError::DotSegment),
            _ => {}
        }
    }
    Ok(())
}

/// Content types by lower-case extension. Phones are picky about `text/xml` versus
/// `text/html` for settings files, and firmware must not be sniffed as text.
const CONTENT_TYPES: &[(&[&str], &str)] = &[
    (&["htm", "html"], "text/html; charset=utf-8"),
    (&["xml"], "text/xml; charset=utf-8"),
    (
        &["txt", "cfg", "conf", "ini", "csv"],
        "text/plain; charset=utf-8",
    ),
    (&["json"], "application/json"),
    (&["bin", "img", "rom", "fw", "dfu"], OCTET_STREAM),
    (&["tar"], "application/x-tar"),
    (&["gz", "tgz"], "application/gzip"),
    (&["zip"], "application/zip"),
    (&["pem", "crt", "cer"], "application/x-pem-file"),
    (&["png"], "image/png"),
    (&["jpg", "jpeg"], "image/jpeg"),
    (&["bmp"], "image/bmp"),
    (&["gif"], "image/gif"),
    (&["wav"], "audio/wav"),
    (&["mp3"], "audio/mpeg"),
];

const OCTET_STREAM: &str = "application/octet-stream";

impl FilePath {
    /// Long enough for any real provisioning tree, short enough to be a key in every object
    /// store and database index we use.
    pub const MAX_BYTES: usize = 512;

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The last segment: what the phone asked for, without directories.
    pub fn file_name(&self) -> &str {
        // A valid path never ends in '/', so the last segment is never empty.
        self.0.rsplit('/').next().unwrap_or(&self.0)
    }

    /// The file name split at its last `.`: the stem and, if there is a dot, the extension.
    fn stem_and_extension(&self) -> (&str, Option<&str>) {
        let name = self.file_name();
        match name.rsplit_once('.') {
            Some((stem, extension)) => (stem, Some(extension)),
            None => (name, None),
        }
    }

    /// The `Content-Type` to serve the file with, from its extension (any case). Unknown
    /// extensions are served as opaque bytes so that no client renders or executes them.
    pub fn content_type(&self) -> &'static str {
        let Some(extension) = self.stem_and_extension().1 else {
            return OCTET_STREAM;
        };
        CONTENT_TYPES
            .iter()
            .find(|(extensions, _)| extensions.iter().any(|e| e.eq_ignore_ascii_case(extension)))
            .map_or(OCTET_STREAM, |(_, content_type)| content_type)
    }

    /// The phone this file is meant for: a 12-hex-digit word anywhere in the path names it,
    /// as in Snom's `snomD785-000413AABBCC.htm`, but also `000413aabbcc.xml`,
    /// `cfg/000413AABBCC/phone.htm`, `snomD785_000413AABBCC.htm` or
    /// `snomD785-00:04:13:AA:BB:CC.htm`. Words are runs of letters, digits and `:`; a
    /// colon-separated MAC counts when it has all six pairs. Such files are served only to
    /// that phone, so the rule errs on the side of "specific": a shared file must not carry
    /// a word that reads as a MAC. `None` when the path names no MAC; when it names several,
    /// the first (a file naming two different phones is served to neither, see
    /// [`FilePath::is_for`]).
    pub fn mac(&self) -> Option<Mac> {
        self.macs().next()
    }

    /// Whether a phone with `mac` may have this file: every MAC the path names is `mac`.
    pub fn is_for(&self, mac: Mac) -> bool {
        self.macs().all(|named| named == mac)
    }

    fn macs(&self) -> impl Iterator<Item = Mac> + '_ {
        self.0
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == ':'))
            .filter_map(|word| {
                if word.len() == 17 && word.matches(':').count() == 5 {
                    word.parse::<Mac>().ok()
                } else {
                    Mac::parse_compact(word).ok()
                }
            })
    }
}

impl FromStr for FilePath {
    type Err = FilePathError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        check_file_path(s)?;
        Ok(Self(s.to_owned()))
    }
}

impl TryFrom<String> for FilePath {
    type Error = FilePathError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        check_file_path(&s)?;
        Ok(Self(s))
    }
}

impl AsRef<str> for FilePath {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for FilePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for FilePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FilePath({:?})", self.0)
    }
}

impl Serialize for FilePath {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for FilePath {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer)?
            .try_into()
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn path(s: &str) -> FilePath {
        s.parse().unwrap_or_else(|e| panic!("{s:?}: {e}"))
    }

    #[test]
    fn accepts_ordinary_paths() {
        for ok in [
            "snomD785.htm",
            "cfg/snom710-000413741767.htm",
            "firmware/snomD785-10.1.33.33.bin",
            "a/b/c/d.txt",
            ".hidden",
            "...",
            "a..b",
            "dir.d/file",
            "name with spaces.xml",
            "tön/ünïcode.xml",
            "a",
            &"a".repeat(FilePath::MAX_BYTES),
        ] {
            assert_eq!(path(ok).as_str(), ok);
        }
    }

    #[test]
    fn refuses_each_rule_with_its_own_error() {
        let cases: &[(&str, FilePathError)] = &[
            ("", FilePathError::Empty),
            (&"a".repeat(FilePath::MAX_BYTES + 1), FilePathError::TooLong),
            ("/etc/passwd", FilePathError::Absolute),
            ("/", FilePathError::Absolute),
            ("a//b", FilePathError::EmptySegment),
            ("a/", FilePathError::EmptySegment),
            ("..", FilePathError::DotSegment),
            (".", FilePathError::DotSegment),
            ("a/../b", FilePathError::DotSegment),
            ("a/./b", FilePathError::DotSegment),
            ("a/..", FilePathError::DotSegment),
            ("a\\b", FilePathError::Backslash),
            ("..\\x", FilePathError::Backslash),
            ("a\0b", FilePathError::ControlCharacter),
            ("a\nb", FilePathError::ControlCharacter),
            ("a\u{7f}", FilePathError::ControlCharacter),
            ("a\u{85}", FilePathError::ControlCharacter),
            ("%2e%2e/x", FilePathError::Percent),
            ("100%.txt", FilePathError::Percent),
        ];
        for (bad, expected) in cases {
            assert_eq!(bad.parse::<FilePath>(), Err(*expected), "{bad:?}");
            assert_eq!(
                FilePath::try_from((*bad).to_owned()),
                Err(*expected),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn length_counts_bytes_not_characters() {
        // 'ä' is two bytes in UTF-8.
        assert!("ä".repeat(256).parse::<FilePath>().is_ok());
        assert_eq!(
            format!("{}a", "ä".repeat(256)).parse::<FilePath>(),
            Err(FilePathError::TooLong)
        );
    }

    #[test]
    fn error_codes_are_stable_and_distinct() {
        let all = [
            (FilePathError::Empty, "path_empty"),
            (FilePathError::TooLong, "path_too_long"),
            (FilePathError::Absolute, "path_absolute"),
            (FilePathError::EmptySegment, "path_empty_segment"),
            (FilePathError::DotSegment, "path_dot_segment"),
            (FilePathError::Backslash, "path_backslash"),
            (FilePathError::ControlCharacter, "path_control_character"),
            (FilePathError::Percent, "path_percent"),
        ];
        for (error, code) in all {
            assert_eq!(error.code(), code);
            assert!(!error.to_string().is_empty());
        }
        assert!(FilePathError::TooLong.to_string().contains("512"));
    }

    #[test]
    fn file_name_is_the_last_segment() {
        assert_eq!(path("a/b/c.htm").file_name(), "c.htm");
        assert_eq!(path("c.htm").file_name(), "c.htm");
        assert_eq!(path("dir.d/noext").file_name(), "noext");
    }

    #[test]
    fn content_type_by_extension() {
        let cases = [
            ("x.htm", "text/html; charset=utf-8"),
            ("x.HTML", "text/html; charset=utf-8"),
            ("x.xml", "text/xml; charset=utf-8"),
            ("x.Xml", "text/xml; charset=utf-8"),
            ("x.txt", "text/plain; charset=utf-8"),
            ("x.cfg", "text/plain; charset=utf-8"),
            ("x.conf", "text/plain; charset=utf-8"),
            ("x.ini", "text/plain; charset=utf-8"),
            ("x.csv", "text/plain; charset=utf-8"),
            ("x.json", "application/json"),
            ("x.bin", "application/octet-stream"),
            ("x.img", "application/octet-stream"),
            ("x.rom", "application/octet-stream"),
            ("x.fw", "application/octet-stream"),
            ("x.dfu", "application/octet-stream"),
            ("x.tar", "application/x-tar"),
            ("x.tar.gz", "application/gzip"),
            ("x.tgz", "application/gzip"),
            ("x.zip", "application/zip"),
            ("x.pem", "application/x-pem-file"),
            ("x.crt", "application/x-pem-file"),
            ("x.cer", "application/x-pem-file"),
            ("x.png", "image/png"),
            ("x.jpg", "image/jpeg"),
            ("x.JPEG", "image/jpeg"),
            ("x.bmp", "image/bmp"),
            ("x.gif", "image/gif"),
            ("x.wav", "audio/wav"),
            ("x.mp3", "audio/mpeg"),
            ("x.exe", "application/octet-stream"),
            ("x.", "application/octet-stream"),
            ("noext", "application/octet-stream"),
            ("htm", "application/octet-stream"),
            ("dir.htm/noext", "application/octet-stream"),
            ("dir/.htm", "text/html; charset=utf-8"),
        ];
        for (p, expected) in cases {
            assert_eq!(path(p).content_type(), expected, "{p}");
        }
    }

    #[test]
    fn mac_from_snom_file_names() {
        let mac = Mac::from_bytes([0x00, 0x04, 0x13, 0xaa, 0xbb, 0xcc]);
        for p in [
            "snomD785-000413AABBCC.htm",
            "000413aabbcc.xml",
            "000413AABBCC",
            "dir/000413AABBCC.cfg",
            "snom-D785-000413aabbcc.htm",
            "-000413AABBCC.htm",
            "ä-000413AABBCC.htm",
            "snomD785_000413AABBCC.htm",
            "000413AABBCC.xml.gz",
            "000413AABBCC/settings.xml",
            "snomD785-00:04:13:aa:bb:cc.htm",
        ] {
            assert_eq!(path(p).mac(), Some(mac), "{p}");
        }
        assert_eq!(
            path("cfg/snom710-000413741767.htm").mac(),
            Some(Mac::from_bytes([0x00, 0x04, 0x13, 0x74, 0x17, 0x67]))
        );
        for p in [
            "snomD785.htm",
            "snomD785-10.1.33.33.bin",
            "firmware-0004.bin",
            "x000413AABBCC.htm",
            "snomD785-000413AABBCC0.htm",
            "snomD785-00413AABBCC.htm",
            "snomD785-000413AABBCG.htm",
            "snomD785-00:04:13:aa:bb.htm",
            // 12 bytes after the '-', but not 12 hex digits.
            "snomD785-ääääää.htm",
        ] {
            assert_eq!(path(p).mac(), None, "{p}");
        }
    }

    #[test]
    fn a_file_naming_two_phones_is_for_neither() {
        let a: Mac = "000413AABBCC".parse().unwrap();
        let b: Mac = "000413AABBCD".parse().unwrap();
        assert!(path("snomD785.htm").is_for(a));
        assert!(path("000413AABBCC/snomD785-000413AABBCC.htm").is_for(a));
        let both = path("000413AABBCC/snomD785-000413AABBCD.htm");
        assert!(!both.is_for(a) && !both.is_for(b));
    }

    #[test]
    fn serde_is_a_validated_string() {
        let p: FilePath = serde_json::from_str("\"cfg/a.htm\"").unwrap();
        assert_eq!(p.as_str(), "cfg/a.htm");
        assert_eq!(serde_json::to_string(&p).unwrap(), "\"cfg/a.htm\"");
        assert!(serde_json::from_str::<FilePath>("\"../a.htm\"").is_err());
        assert!(serde_json::from_str::<FilePath>("\"\"").is_err());
        assert!(serde_json::from_str::<FilePath>("3").is_err());
    }

    #[test]
    fn display_and_debug() {
        let p = path("a/b.xml");
        assert_eq!(p.to_string(), "a/b.xml");
        assert_eq!(format!("{p:?}"), "FilePath(\"a/b.xml\")");
    }

    proptest! {
        #[test]
        fn valid_paths_round_trip(segments in prop::collection::vec("[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}", 1..6)) {
            let s = segments.join("/");
            let p: FilePath = s.parse().unwrap();
            prop_assert_eq!(p.as_str(), s.as_str());
            prop_assert_eq!(p.file_name(), segments.last().unwrap().as_str());
            let json = serde_json::to_string(&p).unwrap();
            prop_assert_eq!(serde_json::from_str::<FilePath>(&json).unwrap(), p);
        }

        #[test]
        fn accepted_paths_obey_every_rule(s in "[a-z./\\\\%\\x00\\n]{0,12}|\\PC{0,40}|.{0,40}") {
            match s.parse::<FilePath>() {
                Ok(p) => {
                    prop_assert!(!s.is_empty() && s.len() <= FilePath::MAX_BYTES);
                    prop_assert!(!s.starts_with('/'));
                    prop_assert!(!s.contains('\\') && !s.contains('%'));
                    prop_assert!(!s.chars().any(char::is_control));
                    prop_assert!(s.split('/').all(|seg| !seg.is_empty() && seg != "." && seg != ".."));
                    let _ = p.content_type();
                    let _ = p.mac();
                }
                Err(e) => prop_assert!(e.code().starts_with("path_")),
            }
        }

        #[test]
        fn mac_named_files_are_recognised(bytes in any::<[u8; 6]>(), prefix in "([a-zA-Z0-9]{1,10}-)?", ext in "(\\.[a-z]{1,4})?") {
            let mac = Mac::from_bytes(bytes);
            let p = path(&format!("dir/{prefix}{mac}{ext}"));
            prop_assert_eq!(p.mac(), Some(mac));
            let lower = path(&format!("{prefix}{}{ext}", mac.to_string().to_lowercase()));
            prop_assert_eq!(lower.mac(), Some(mac));
        }
    }
}
