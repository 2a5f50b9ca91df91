//! Listing runs, newest first.
//!
//! Runs sort by the second they were created, then by id. A run id of the
//! form new runs get (`20260324T161238Z-1a2b3c4d`) carries that second, so
//! when every id has it only folder names are read. A run named otherwise
//! (the earlier pikaci's `pikaci-run-123`) sorts by its record's
//! `created_at`, read for those runs alone, and counts as a run only when
//! its folder holds a `run.json` (other folders there are not runs).
//!
//! A time more than [`FUTURE_TOLERANCE`] ahead of now is not believed: an id
//! dated so far ahead (a wrong clock, or a folder planted by hand) sorts by
//! its record's `created_at` instead, and a run with no time to believe (its
//! record is unreadable, or says a time ahead too, or its id's time is not a
//! real date) sorts as the oldest. So no run can stay at the top of the
//! listing, or out of reach of gc's age limit, by claiming to come from the
//! future.

use std::cmp::Reverse;
use std::io;
use std::time::Duration;

use jiff::Timestamp;
use pikaci_core::RunId;
use pikaci_core::engine::{Clock, SystemClock};

use crate::error::StoreError;
use crate::fs::{EntryKind, Fs};
use crate::store::Store;

/// How far ahead of now a run's time may be and still be believed (clocks of
/// machines sharing a state root differ, and clocks are stepped).
pub(crate) const FUTURE_TOLERANCE: Duration = Duration::from_secs(24 * 3600);

/// How a timestamped run id writes its time; other runs' `created_at` is
/// written the same way to compare with them.
const STAMP_FORMAT: &str = "%Y%m%dT%H%M%SZ";

/// A run's place in the listing: its creation second, then its id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct RunOrder {
    /// `YYYYMMDDTHHMMSSZ`; `None` (oldest) when no time can be believed.
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
    /// given (see the module's rules). When every id carries a time that is
    /// not ahead, only folder names are read: no `run.json` is opened, so the
    /// cost is one directory listing however many runs there are. Names that
    /// are not valid ids (temporary files, `.trash`) are skipped, and so are
    /// other names without a `run.json`.
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
        let mut ids = self.all_run_ids()?;
        let latest = latest_stamp(now);
        let plain = ids
            .iter()
            .chain(before)
            .all(|id| id.stamp().is_some_and(|s| s <= latest.as_str()));
        if !plain {
            let mut ordered = self.newest_first(ids, now);
            if let Some(before) = before {
                let limit_order = self.order_of(before.clone(), now);
                ordered.retain(|o| o < &limit_order);
            }
            ordered.truncate(limit);
            return Ok(ordered.into_iter().map(RunOrder::into_id).collect());
        }
        // Timestamped ids, none ahead: they sort by time as plain strings.
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

    /// `ids` newest first, by the listing's order as of `now`, reading the
    /// records it needs.
    pub(crate) fn newest_first(&self, ids: Vec<RunId>, now: Timestamp) -> Vec<RunOrder> {
        newest_first_by(ids, now, |id| self.created_at(id))
    }

    /// Where run `id` sorts, as of `now`.
    fn order_of(&self, id: RunId, now: Timestamp) -> RunOrder {
        order_with(id, &latest_stamp(now), |id| self.created_at(id))
    }

    /// The `created_at` of run `id`'s record, when it can be read.
    fn created_at(&self, id: &RunId) -> Option<Timestamp> {
        self.load_run_record(id).ok().map(|r| r.created_at)
    }

    /// Every run id under the root, unsorted. A name of the timestamped form
    /// is taken as a run without looking further (listing stays one
    /// directory read; a run that died before writing its record is listed
    /// too); any other valid id counts only when it holds a `run.json`.
    pub(crate) fn all_run_ids(&self) -> Result<Vec<RunId>, StoreError> {
        let names = match self.fs.list_dir(&self.root.runs_dir()) {
            Ok(names) => names,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(StoreError::io("listing runs")(self.relative(e))),
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

/// `ids` newest first, by the listing's order as of `now`; `created_at`
/// gives a run's record time, asked only for runs whose id carries no time
/// to believe (so a caller that read the records already reads none again).
pub(crate) fn newest_first_by(
    ids: impl IntoIterator<Item = RunId>,
    now: Timestamp,
    created_at: impl Fn(&RunId) -> Option<Timestamp>,
) -> Vec<RunOrder> {
    let latest = latest_stamp(now);
    let mut ordered: Vec<RunOrder> = ids
        .into_iter()
        .map(|id| order_with(id, &latest, &created_at))
        .collect();
    ordered.sort_unstable_by(|a, b| b.cmp(a));
    ordered
}

/// Where run `id` sorts, given the latest stamp believed.
fn order_with(
    id: RunId,
    latest: &str,
    created_at: impl Fn(&RunId) -> Option<Timestamp>,
) -> RunOrder {
    let believed = |s: &str| s <= latest;
    let stamp = match id.stamp() {
        Some(stamp) if believed(stamp) && id.timestamp().is_some() => Some(stamp.to_owned()),
        _ => created_at(&id)
            .map(|t| t.strftime(STAMP_FORMAT).to_string())
            .filter(|s| believed(s)),
    };
    RunOrder { stamp, id }
}

/// The stamp of the latest time believed as of `now`.
fn latest_stamp(now: Timestamp) -> String {
    now.checked_add(FUTURE_TOLERANCE)
        .unwrap_or(now)
        .strftime(STAMP_FORMAT)
        .to_string()
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
        let mut undated = RunRecord::for_test("20260324T100000Z-00000005");
        undated.run_id = "20261399T000000Z-00000005".parse().unwrap();
        undated.created_at = at("2026-03-20T00:00:00Z");
        // An earlier pikaci's id, with no time in it.
        let mut upstream = RunRecord::for_test("20260324T100000Z-00000006");
        upstream.run_id = "pikaci-run-123".parse().unwrap();
        upstream.created_at = at("2026-03-15T00:00:00Z");
        for r in [&old, &new, &planted, &liar, &undated, &upstream] {
            store.persist_run_record(r).unwrap();
        }
        let listed = store.list_runs_at(None, 10, now).unwrap();
        let order: Vec<&str> = listed.iter().map(RunId::as_str).collect();
        assert_eq!(
            order,
            [
                "20260324T110000Z-00000002",
                "20261399T000000Z-00000005",
                "pikaci-run-123",
                "20990101T000000Z-00000003",
                "20260301T000000Z-00000001",
                "20990101T000000Z-00000004",
            ]
        );
        // Paging follows the same order.
        let page = store.list_runs_at(Some(&listed[1]), 2, now).unwrap();
        assert_eq!(page, listed[2..4]);
        // A day's clock difference is believed.
        let soon = RunRecord::for_test("20260325T060000Z-00000007");
        store.persist_run_record(&soon).unwrap();
        assert_eq!(store.list_runs_at(None, 1, now).unwrap(), [soon.run_id]);
    }
}
