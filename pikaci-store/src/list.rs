//! Listing runs, newest first, mostly from folder names alone.
//!
//! A run's place in the listing is the time in its id. An id whose time is
//! not a real date (`20261399T...`) or a time more than
//! [`FUTURE_TOLERANCE`] ahead of now (a wrong clock, or a folder planted by
//! hand) is placed by its record's `created_at` instead; when that is missing
//! or also ahead, the run has no date to trust and is placed after every
//! other, as the oldest. So no run can stay at the top of the listing (or out
//! of reach of gc) by claiming to come from the future.

use std::io;
use std::time::Duration;

use jiff::Timestamp;
use pikaci_core::RunId;
use pikaci_core::engine::{Clock, SystemClock};

use crate::error::StoreError;
use crate::fs::Fs;
use crate::store::Store;

/// How far ahead of now a run's time may be and still be believed (clocks of
/// machines sharing a state root differ, and clocks are stepped).
pub(crate) const FUTURE_TOLERANCE: Duration = Duration::from_secs(24 * 3600);

/// Where a run sorts: by its trusted time (none sorts oldest), then by id.
pub(crate) type RunKey = (Option<Timestamp>, RunId);

impl<F: Fs> Store<F> {
    /// Up to `limit` run ids, newest first, strictly older than `before` when
    /// given (see the module's rule for runs dated in the future). Only folder
    /// names are read, except for runs whose id carries no real date or a
    /// future one: the cost is one directory listing however many runs there are.
    /// Names that are not run ids (temporary files, stray folders) are skipped.
    pub fn list_runs(
        &self,
        before: Option<&RunId>,
        limit: usize,
    ) -> Result<Vec<RunId>, StoreError> {
        self.list_runs_at(before, limit, SystemClock.now())
    }

    /// [`Self::list_runs`] as of `now`.
    pub fn list_runs_at(
        &self,
        before: Option<&RunId>,
        limit: usize,
        now: Timestamp,
    ) -> Result<Vec<RunId>, StoreError> {
        let mut keys = self.run_keys(now)?;
        if let Some(before) = before {
            let bound = self.run_key(before.clone(), now);
            keys.retain(|k| *k < bound);
        }
        if keys.len() > limit && limit > 0 {
            // Partition so the newest `limit` come first, then sort only those.
            keys.select_nth_unstable_by(limit - 1, |a, b| b.cmp(a));
        }
        keys.truncate(limit);
        keys.sort_unstable_by(|a, b| b.cmp(a));
        Ok(keys.into_iter().map(|(_, id)| id).collect())
    }

    /// Every run under the root with where it sorts, unsorted.
    pub(crate) fn run_keys(&self, now: Timestamp) -> Result<Vec<RunKey>, StoreError> {
        Ok(self
            .all_run_ids()?
            .into_iter()
            .map(|id| self.run_key(id, now))
            .collect())
    }

    /// Where run `id` sorts, as of `now`.
    pub(crate) fn run_key(&self, id: RunId, now: Timestamp) -> RunKey {
        let time = match id.timestamp() {
            Some(t) if believable(t, now) => Some(t),
            _ => self
                .load_run_record(&id)
                .ok()
                .map(|r| r.created_at)
                .filter(|&t| believable(t, now)),
        };
        (time, id)
    }

    /// Every run id under the root, unsorted.
    pub(crate) fn all_run_ids(&self) -> Result<Vec<RunId>, StoreError> {
        let names = match self.fs.list_dir(&self.root.runs_dir()) {
            Ok(names) => names,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(StoreError::io("listing runs")(self.relative(e))),
        };
        Ok(names
            .into_iter()
            .filter_map(|n| RunId::try_from(n).ok())
            .collect())
    }
}

/// Whether `t` is not too far ahead of `now` to be believed.
pub(crate) fn believable(t: Timestamp, now: Timestamp) -> bool {
    now.checked_add(FUTURE_TOLERANCE)
        .is_ok_and(|limit| t <= limit)
}

#[cfg(test)]
mod tests {
    use pikaci_core::RunRecord;

    use super::*;
    use crate::{MemFs, StateRoot};

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn a_run_dated_in_the_future_does_not_sort_first_forever() {
        let store = Store::with_fs(MemFs::new(), StateRoot::new("/s"));
        let now = at("2026-03-24T12:00:00Z");
        let old = RunRecord::for_test("20260301T000000Z-00000001");
        let new = RunRecord::for_test("20260324T110000Z-00000002");
        // Dated in the year 2099, but created (its record says) in between.
        let mut planted = RunRecord::for_test("20990101T000000Z-00000003");
        planted.created_at = at("2026-03-10T00:00:00Z");
        // Dated in 2099 and claiming to be created then too: no date to trust.
        let mut liar = RunRecord::for_test("20990101T000000Z-00000004");
        liar.created_at = at("2099-01-01T00:00:00Z");
        // An id whose time is not a real date (month 13).
        let mut upstream = RunRecord::for_test("20260324T100000Z-00000005");
        upstream.run_id = "20261399T000000Z-00000005".parse().unwrap();
        upstream.created_at = at("2026-03-20T00:00:00Z");
        for r in [&old, &new, &planted, &liar, &upstream] {
            store.persist_run_record(r).unwrap();
        }
        let listed = store.list_runs_at(None, 10, now).unwrap();
        let order: Vec<&str> = listed.iter().map(RunId::as_str).collect();
        assert_eq!(
            order,
            [
                "20260324T110000Z-00000002",
                "20261399T000000Z-00000005",
                "20990101T000000Z-00000003",
                "20260301T000000Z-00000001",
                "20990101T000000Z-00000004",
            ]
        );
        // Paging follows the same order.
        let page = store.list_runs_at(Some(&listed[1]), 2, now).unwrap();
        assert_eq!(page, listed[2..4]);
        // A day's clock difference is believed.
        let soon = RunRecord::for_test("20260325T060000Z-00000006");
        store.persist_run_record(&soon).unwrap();
        assert_eq!(store.list_runs_at(None, 1, now).unwrap(), [soon.run_id]);
    }
}
