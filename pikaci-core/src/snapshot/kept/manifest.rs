//! [`Manifest`]: what a kept snapshot holds, file by file, each file's
//! bytes named by their SHA-256 ([`ObjectId`]). Pure: encoding, parsing
//! and checking, no I/O.
//!
//! The format is a header line, then one record per entry, each ending in a
//! NUL byte (a path may hold any other byte, a newline included):
//!
//! ```text
//! pikaci-snapshot/1\n
//! F <sha256 hex> <size> <path>\0      a file (read-only, 0444)
//! X <sha256 hex> <size> <path>\0      an executable file (0555)
//! L <path>\0<target>\0                a symbolic link
//! ```

use std::collections::BTreeMap;
use std::fmt;

use camino::{Utf8Component, Utf8Path, Utf8PathBuf};

/// The first line of every manifest.
pub const MANIFEST_HEADER: &str = "pikaci-snapshot/1\n";

/// The SHA-256 of a file's bytes: the name of its object in the store.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectId([u8; 32]);

impl ObjectId {
    /// The id of a finished SHA-256.
    pub fn from_digest(digest: [u8; 32]) -> Self {
        Self(digest)
    }

    /// The digest's 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The id spelt as 64 lowercase hex digits, `None` for anything else.
    pub fn parse_hex(s: &str) -> Option<Self> {
        if s.len() != 64 || !s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
        }
        Some(Self(out))
    }

    /// The object's path inside the objects folder: `ab/cdef…` (the first
    /// two hex digits name a folder, so no folder holds more than a
    /// 256th of the objects).
    pub fn relative_path(&self) -> Utf8PathBuf {
        let hex = self.to_string();
        Utf8PathBuf::from(&hex[..2]).join(&hex[2..])
    }

    /// The id whose [`relative_path`](Self::relative_path) is `folder/name`.
    pub fn from_relative(folder: &str, name: &str) -> Option<Self> {
        (folder.len() == 2)
            .then(|| Self::parse_hex(&format!("{folder}{name}")))
            .flatten()
    }
}

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ObjectId({self})")
    }
}

/// One entry of a kept snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// A regular file: its bytes are object `id`, `size` bytes long.
    File {
        /// The object holding its bytes.
        id: ObjectId,
        /// Its size in bytes.
        size: u64,
        /// Whether it is made executable (0555, else 0444).
        executable: bool,
    },
    /// A symbolic link, kept as a link (never followed).
    Symlink {
        /// What the link points to, as written in the source.
        target: Utf8PathBuf,
    },
}

/// What a kept snapshot holds: its entries by relative path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Manifest {
    /// The entries, by path relative to the snapshot folder.
    pub entries: BTreeMap<Utf8PathBuf, Entry>,
}

/// Why a manifest could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ManifestError {
    /// It does not start with [`MANIFEST_HEADER`].
    #[error("not a pikaci snapshot manifest (the header is missing)")]
    Header,
    /// An entry is malformed (`index` counts from 0).
    #[error("entry {index} is malformed: {why}")]
    Entry {
        /// Which entry.
        index: usize,
        /// What is wrong with it.
        why: &'static str,
    },
}

impl Manifest {
    /// The manifest's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = MANIFEST_HEADER.as_bytes().to_vec();
        for (path, entry) in &self.entries {
            match entry {
                Entry::File {
                    id,
                    size,
                    executable,
                } => {
                    let kind = if *executable { 'X' } else { 'F' };
                    out.extend_from_slice(format!("{kind} {id} {size} {path}\0").as_bytes());
                }
                Entry::Symlink { target } => {
                    out.extend_from_slice(format!("L {path}\0{target}\0").as_bytes());
                }
            }
        }
        out
    }

    /// Reads a manifest. Every path must be relative and stay inside the
    /// snapshot (no `..`, no root): a manifest lies in a run folder a job
    /// may have written, and it decides where files are made.
    pub fn parse(bytes: &[u8]) -> Result<Self, ManifestError> {
        let rest = bytes
            .strip_prefix(MANIFEST_HEADER.as_bytes())
            .ok_or(ManifestError::Header)?;
        let mut fields = rest.split(|b| *b == 0);
        let mut entries = BTreeMap::new();
        let mut index = 0;
        while let Some(record) = fields.next() {
            if record.is_empty() {
                // The split after the last NUL.
                break;
            }
            let bad = |why| ManifestError::Entry { index, why };
            let record = std::str::from_utf8(record).map_err(|_| bad("not UTF-8"))?;
            let (path, entry) = if let Some(path) = record.strip_prefix("L ") {
                let target = fields
                    .next()
                    .and_then(|t| std::str::from_utf8(t).ok())
                    .filter(|t| !t.is_empty())
                    .ok_or(bad("a link without a target"))?;
                (
                    path,
                    Entry::Symlink {
                        target: target.into(),
                    },
                )
            } else {
                let mut parts = record.splitn(4, ' ');
                let executable = match parts.next() {
                    Some("F") => false,
                    Some("X") => true,
                    _ => return Err(bad("an unknown kind")),
                };
                let id = parts
                    .next()
                    .and_then(ObjectId::parse_hex)
                    .ok_or(bad("a bad object id"))?;
                let size = parts
                    .next()
                    .and_then(|s| s.parse().ok())
                    .ok_or(bad("a bad size"))?;
                let path = parts.next().ok_or(bad("no path"))?;
                (
                    path,
                    Entry::File {
                        id,
                        size,
                        executable,
                    },
                )
            };
            if !is_inside(Utf8Path::new(path)) {
                return Err(bad("a path that leaves the snapshot"));
            }
            if entries.insert(Utf8PathBuf::from(path), entry).is_some() {
                return Err(bad("a path given twice"));
            }
            index += 1;
        }
        Ok(Self { entries })
    }

    /// Every object the snapshot uses, with its size.
    pub fn objects(&self) -> impl Iterator<Item = (ObjectId, u64)> + '_ {
        self.entries.values().filter_map(|e| match e {
            Entry::File { id, size, .. } => Some((*id, *size)),
            Entry::Symlink { .. } => None,
        })
    }
}

/// Whether `path` is a plain relative path (only normal components).
fn is_inside(path: &Utf8Path) -> bool {
    !path.as_str().is_empty()
        && path
            .components()
            .all(|c| matches!(c, Utf8Component::Normal(_)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(byte: u8) -> ObjectId {
        ObjectId([byte; 32])
    }

    #[test]
    fn a_manifest_reads_back_as_written_odd_paths_included() {
        let mut m = Manifest::default();
        m.entries.insert(
            "a dir/with\nnewline.txt".into(),
            Entry::File {
                id: id(1),
                size: 12,
                executable: false,
            },
        );
        m.entries.insert(
            "bin/run".into(),
            Entry::File {
                id: id(0xab),
                size: 0,
                executable: true,
            },
        );
        m.entries.insert(
            "link".into(),
            Entry::Symlink {
                target: "../outside target".into(),
            },
        );
        let bytes = m.encode();
        assert!(bytes.starts_with(MANIFEST_HEADER.as_bytes()));
        assert_eq!(Manifest::parse(&bytes).unwrap(), m);
        assert_eq!(m.objects().count(), 2);
    }

    #[test]
    fn a_path_that_leaves_the_snapshot_or_a_torn_record_is_refused() {
        let hex = id(2).to_string();
        for (bad, why) in [
            (
                format!("F {hex} 3 ../x\0"),
                "a path that leaves the snapshot",
            ),
            (
                format!("F {hex} 3 /etc/passwd\0"),
                "a path that leaves the snapshot",
            ),
            (
                format!("F {hex} 3 a/../../x\0"),
                "a path that leaves the snapshot",
            ),
            (format!("F {hex} 3\0"), "no path"),
            (format!("F {} 3 x\0", &hex[..10]), "a bad object id"),
            (format!("F {hex} many x\0"), "a bad size"),
            ("Q x\0".to_owned(), "an unknown kind"),
            ("L x\0".to_owned(), "a link without a target"),
            (format!("F {hex} 1 x\0F {hex} 1 x\0"), "a path given twice"),
        ] {
            let bytes = format!("{MANIFEST_HEADER}{bad}");
            let err = Manifest::parse(bytes.as_bytes()).unwrap_err();
            assert!(
                matches!(err, ManifestError::Entry { why: w, .. } if w == why),
                "{bad:?}: {err}"
            );
        }
        assert_eq!(Manifest::parse(b"F x"), Err(ManifestError::Header));
    }

    #[test]
    fn object_paths_split_after_two_hex_digits_and_parse_back() {
        let id = id(0x5c);
        let rel = id.relative_path();
        assert_eq!(rel.as_str().len(), 65);
        let (folder, name) = rel.as_str().split_once('/').unwrap();
        assert_eq!(folder, "5c");
        assert_eq!(ObjectId::from_relative(folder, name), Some(id));
        assert_eq!(ObjectId::from_relative("5", name), None);
        assert_eq!(ObjectId::parse_hex(&"A".repeat(64)), None, "lowercase only");
    }
}
