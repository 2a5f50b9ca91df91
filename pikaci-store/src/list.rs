//! Listing runs, newest first, from folder names alone.

use std::cmp::Reverse;
use std::io;

use pikaci_core::RunId;

use crate::error::StoreError;
use crate::fs::Fs;
use crate::store::Store;

impl<F: Fs> Store<F> {
    /// Up to `limit` run ids, newest first, strictly older than `before` when
    /// given. Only folder names are read: no `run.json` is opened, so the cost
    /// is one directory listing however many runs there are. Names that are not
    /// run ids (temporary files, stray folders) are skipped.
    pub fn list_runs(
        &self,
        before: Option<&RunId>,
        limit: usize,
    ) -> Result<Vec<RunId>, StoreError> {
        let mut ids = self.all_run_ids()?;
        if let Some(before) = before {
            ids.retain(|id| id < before);
        }
        if ids.len() > limit && limit > 0 {
            // Partition so the newest `limit` come first, then sort only those.
            ids.select_nth_unstable_by_key(limit - 1, |id| Reverse(id.clone()));
        }
        ids.truncate(limit);
        ids.sort_unstable_by(|a, b| b.cmp(a));
        Ok(ids)
    }

    /// Every run id under the root, unsorted.
    pub(crate) fn all_run_ids(&self) -> Result<Vec<RunId>, StoreError> {
        let names = match self.fs.list_dir(&self.root.runs_dir()) {
            Ok(names) => names,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(StoreError::io("listing runs")(e)),
        };
        Ok(names
            .into_iter()
            .filter_map(|n| RunId::try_from(n).ok())
            .collect())
    }
}
