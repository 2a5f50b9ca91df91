//! [`Store`]: a state root over a file system, and what reading and writing share.
//!
//! Writing lives in `write`, reading in `read`; both build on this module
//! and never on each other.

use camino::{Utf8Path, Utf8PathBuf};
use pikaci_core::RunId;

use crate::error::StoreError;
use crate::fs::{DiskFs, EntryKind, Fs};
use crate::layout::StateRoot;

/// Runs and job logs under one state root.
#[derive(Debug, Clone)]
pub struct Store<F = DiskFs> {
    pub(crate) fs: F,
    pub(crate) root: StateRoot,
}

impl Store<DiskFs> {
    /// A store on the real file system at `root`: reads resolve every path
    /// below `root` without following a symbolic link ([`DiskFs::beneath`]).
    pub fn open(root: impl Into<Utf8PathBuf>) -> Self {
        let root = root.into();
        Self::with_fs(DiskFs::beneath(root.clone()), StateRoot::new(root))
    }
}

impl<F: Fs> Store<F> {
    /// A store over any file system.
    pub fn with_fs(fs: F, root: StateRoot) -> Self {
        Self { fs, root }
    }

    /// The state root.
    pub fn root(&self) -> &StateRoot {
        &self.root
    }

    /// The file system.
    pub fn fs(&self) -> &F {
        &self.fs
    }

    /// What `path` (inside run `run`) is, without following a link.
    pub(crate) fn kind(
        &self,
        path: &Utf8Path,
        run: &RunId,
    ) -> Result<Option<EntryKind>, StoreError> {
        self.fs.kind(path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::InvalidInput {
                // A link on the way: the run as found is not to be trusted.
                StoreError::Corrupt {
                    run: run.clone(),
                    file: ".".into(),
                    message: without_path(&e, path),
                }
            } else {
                StoreError::io(format!("inspecting run {run}"))(e)
            }
        })
    }
}

/// The error for a part of run `run` (`file`, relative to the run folder)
/// that should be a folder and is not: a link, a file, anything else.
pub(crate) fn not_a_folder(run: &RunId, file: impl Into<String>) -> StoreError {
    let file = file.into();
    let message = if file == "." {
        "the run folder is not a folder (symbolic links are never followed)"
    } else {
        "not a folder (symbolic links are never followed)"
    };
    StoreError::Corrupt {
        run: run.clone(),
        file,
        message: message.into(),
    }
}

/// An I/O error's message with the absolute path taken out.
pub(crate) fn without_path(e: &std::io::Error, path: &Utf8Path) -> String {
    let msg = e.to_string();
    match path.file_name() {
        Some(name) => msg.replace(path.as_str(), name),
        None => msg,
    }
}
