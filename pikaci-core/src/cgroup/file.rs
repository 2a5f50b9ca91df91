//! Writing a cgroup's control files.

use std::path::Path;

use super::CgroupError;

/// Writes `value` to a cgroup file.
pub(crate) fn write(path: &Path, value: &str) -> Result<(), CgroupError> {
    std::fs::write(path, value).map_err(|e| CgroupError::Io {
        what: format!("write {value} to {}", path.display()),
        source: e,
    })
}
