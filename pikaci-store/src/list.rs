//! Listing runs, newest first.
//!
//! Runs sort by the second they were created, then by id. A run id of the
//! form new runs get (`20260324T161238Z-1a2b3c4d`) carries that second, so
//! when every id has it only folder names are read. A run named otherwise
//! (the earlier pikaci's `pikaci-run-123`) sorts by its record's
//! `created_at`, read for those runs alone, and counts as a run only when
//! its folder holds a `run.json` (other folders there are not runs); one
//! whose record cannot be parsed sorts as the oldest.

use std::cmp::Reverse;
use std::io;

use jiff::Timestamp;
use pikaci_core::RunId;

use crate::error::StoreError;
use crate::fs::{EntryKind, Fs};
use crate::store::Store;

/// How a timestamped run id writes its time; other runs' `created_at` is
/// written the same way to compare with them.
const STAMP_FORMAT: &str = "%Y%m%dT%H%M%SZ";

/// A run's place in the listing: its creation second, then its id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct RunOrder {
    /// `YYYYMMDDTHHMMSSZ`; `None` (oldest) when the time is not known.
    stamp: Option<String>,
    id: RunId,
}

impl RunOrder {
    pub(crate) fn into_id(self) -> RunId {
        self.id
    }
}

impl<F: Fs> Store<F> {
    /// Up to `limit` run ids, newest first, strictly older than `before` when
    /// given. When every id carries its time, only folder names are read: no
    /// `run.json` is opened, so the cost is one directory listing however
    /// many runs there are. Names that are not valid ids (temporary files,
    /// `.trash`) are skipped, and so are other names without a `run.json`.
    pub fn list_runs(
        &self,
        before: Option<&RunId>,
        limit: usize,
    ) -> Result<Vec<RunId>, StoreError> {
        let mut ids = self.all_run_ids()?;
        let timestamped = ids.iter().chain(before).all(RunId::is_timestamped);
        if !timestamped {
            let mut ordered = self.newest_first(ids);
            if let Some(before) = before {
                let limit_order = self.order_of(before.clone());
                ordered.retain(|o| o < &limit_order);
            }
            ordered.truncate(limit);
            return Ok(ordered.into_iter().map(RunOrder::into_id).collect());
        }
        // Timestamped ids sort by time as plain strings.
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

    /// `ids` newest first, by the listing's order.
    pub(crate) fn newest_first(&self, ids: Vec<RunId>) -> Vec<RunOrder> {
        let mut ordered: Vec<RunOrder> = ids.into_iter().map(|id| self.order_of(id)).collect();
        ordered.sort_unstable_by(|a, b| b.cmp(a));
        ordered
    }

    /// Where run `id` sorts.
    fn order_of(&self, id: RunId) -> RunOrder {
        let stamp = match id.stamp() {
            Some(stamp) => Some(stamp.to_owned()),
            None => self
                .created_at(&id)
                .map(|t| t.strftime(STAMP_FORMAT).to_string()),
        };
        RunOrder { stamp, id }
    }

    /// When run `id` was created: the time in its id, else its record's
    /// `created_at`; `None` when neither can be had.
    pub(crate) fn created_at(&self, id: &RunId) -> Option<Timestamp> {
        id.timestamp().or_else(|| {
            (!id.is_timestamped())
                .then(|| self.load_run_record(id).ok().map(|r| r.created_at))
                .flatten()
        })
    }

    /// Every run id under the root, unsorted. A name of the timestamped form
    /// is taken as a run without looking further (listing stays one
    /// directory read; a run that died before writing its record is listed
    /// too); any other valid id counts only when it holds a `run.json`.
    pub(crate) fn all_run_ids(&self) -> Result<Vec<RunId>, StoreError> {
        let names = match self.fs.list_dir(&self.root.runs_dir()) {
            Ok(names) => names,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(StoreError::io("listing runs")(e)),
        };
        Ok(names
            .into_iter()
            .filter_map(|n| RunId::try_from(n).ok())
            .filter(|id| {
                id.is_timestamped()
                    || matches!(
                        self.fs.kind(&self.root.run_json(id)),
                        Ok(Some(EntryKind::File))
                    )
            })
            .collect())
    }
}
