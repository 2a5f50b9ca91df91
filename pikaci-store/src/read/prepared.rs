//! [`RunDir::prepared_outputs`]: a run's `prepared-outputs.json`, read as
//! carefully as `run.json` (one open, never through a link, never a FIFO,
//! a bound on its size).

use std::io;

use pikaci_core::PreparedOutputs;

use crate::error::StoreError;
use crate::fs::Fs;
use crate::layout::PREPARED_OUTPUTS_JSON;
use crate::read::chunk::read_full;
use crate::read::run_dir::RunDir;
use crate::store::without_path;

/// The largest `prepared-outputs.json` the store agrees to parse (a branch's
/// CI code can write the file, so its size is not trusted).
pub const MAX_PREPARED_OUTPUTS_BYTES: u64 = 16 * 1024 * 1024;

impl<F: Fs> RunDir<F> {
    /// The run's prepared outputs, found through the layout (never through
    /// the `prepared_outputs_path` an earlier record names); `None` when the
    /// run has none. A link, a FIFO or anything but a file in its place, a
    /// file over [`MAX_PREPARED_OUTPUTS_BYTES`] (not read) and one that does
    /// not parse are [`StoreError::Corrupt`].
    pub fn prepared_outputs(&self) -> Result<Option<PreparedOutputs>, StoreError> {
        let store = self.store();
        let path = store.root.prepared_outputs(self.id());
        let corrupt = |message: String| StoreError::Corrupt {
            run: self.id().clone(),
            file: PREPARED_OUTPUTS_JSON.into(),
            message,
        };
        let failed = |e: io::Error| {
            StoreError::io(format!(
                "reading {PREPARED_OUTPUTS_JSON} of run {}",
                self.id()
            ))(e)
        };
        // One open, checked on what it opened; sized from the opened file.
        let file = match store.fs.open_read(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) if e.kind() == io::ErrorKind::InvalidInput => {
                return Err(corrupt(without_path(&e, &path)));
            }
            Err(e) => return Err(failed(e)),
        };
        let size = file.size().map_err(failed)?;
        if size > MAX_PREPARED_OUTPUTS_BYTES {
            return Err(corrupt(format!(
                "{size} bytes is larger than the {MAX_PREPARED_OUTPUTS_BYTES} bytes accepted"
            )));
        }
        let mut bytes = vec![0u8; usize::try_from(size).unwrap_or(usize::MAX)];
        let filled = read_full(file.as_ref(), &mut bytes, 0).map_err(failed)?;
        bytes.truncate(filled);
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| corrupt(e.to_string()))
    }
}
