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
//! dated so far ahead (a wrong clock, or a folder planted by hand), or whose
//! time is not a real date (the model's one id-date rule, [`IdDating`]),
//! sorts by its folder's modification time instead
//! (not by its record, which the run's own jobs can rewrite at will), and a
//! run with no time to believe (that time is ahead too, or cannot be read)
//! sorts as the oldest. So no run can stay at the top of the listing, or
//! hold one of gc's `keep_runs` places or stay out of reach of its age limit,
//! by claiming to come from the future. [`run_time`] is that rule, for the
//! listing and for gc alike.

use std::cmp::Reverse;
use std::io;

use jiff::Timestamp;
#[cfg(doc)]
use pikaci_core::FUTURE_TOLERANCE;
use pikaci_core::{Clock, IdDate, IdDating, RunId, SystemClock};

use crate::error::StoreError;
use crate::fs::{EntryKind, Fs};
use crate::store::Store;

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
        let dating = IdDating::at(now);
        let plain = ids.iter().chain(before).all(|id| dating.believes(id));
        if !plain {
            let mut ordered = self.newest_first(ids, &dating);
            if let Some(before) = before {
                let limit_order = self.order_of(before.clone(), &dating);
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
    pub(crate) fn newest_first(&self, ids: Vec<RunId>, dating: &IdDating) -> Vec<RunOrder> {
        newest_first_by(
            ids,
            dating,
            |id| self.created_at(id),
            |id| self.folder_time(id),
        )
    }

    /// Where run `id` sorts, by `dating`'s moment.
    fn order_of(&self, id: RunId, dating: &IdDating) -> RunOrder {
        order_with(
            id,
            dating,
            |id| self.created_at(id),
            |id| self.folder_time(id),
        )
    }

    /// The `created_at` of run `id`'s record, when it can be read.
    fn created_at(&self, id: &RunId) -> Option<Timestamp> {
        self.load_run_record(id).ok().map(|r| r.created_at)
    }

    /// When run `id`'s folder was last modified, when that can be read.
    pub(crate) fn folder_time(&self, id: &RunId) -> Option<Timestamp> {
        let modified = self.fs.modified(&self.root.run_dir(id)).ok()??;
        Timestamp::try_from(modified).ok()
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

/// `ids` newest first, by the listing's order as of `dating`'s moment;
/// `created_at` gives a run's record time and `folder_time` its folder's
/// modification time, each asked only for runs whose id carries no time to
/// believe (see [`run_time`]), so a caller that read them already reads
/// none again.
pub(crate) fn newest_first_by(
    ids: impl IntoIterator<Item = RunId>,
    dating: &IdDating,
    created_at: impl Fn(&RunId) -> Option<Timestamp>,
    folder_time: impl Fn(&RunId) -> Option<Timestamp>,
) -> Vec<RunOrder> {
    let mut ordered: Vec<RunOrder> = ids
        .into_iter()
        .map(|id| order_with(id, dating, &created_at, &folder_time))
        .collect();
    ordered.sort_unstable_by(|a, b| b.cmp(a));
    ordered
}

/// Where run `id` sorts as of `dating`'s moment: by [`run_time`], to the
/// second.
fn order_with(
    id: RunId,
    dating: &IdDating,
    created_at: impl FnOnce(&RunId) -> Option<Timestamp>,
    folder_time: impl FnOnce(&RunId) -> Option<Timestamp>,
) -> RunOrder {
    let stamp = match id.stamp() {
        // The common case, from the name alone.
        Some(stamp) if dating.believes(&id) => Some(stamp.to_owned()),
        _ => run_time(&id, dating, created_at, folder_time)
            .map(|t| t.strftime(STAMP_FORMAT).to_string()),
    };
    RunOrder { stamp, id }
}

/// When run `id` was created, as far as it can be believed as of
/// `dating`'s moment (the one rule for the listing's order and gc's ages):
/// the time in its id when the model's id-date rule believes it
/// ([`IdDate::Believed`]); for an id dated too far ahead, or whose time is
/// not a real date, its folder's modification time (`folder_time`); for an
/// id of another form (the earlier pikaci's `pikaci-run-123`) its record's
/// `created_at`. `None` when the time found is too far ahead too, or there
/// is none.
pub(crate) fn run_time(
    id: &RunId,
    dating: &IdDating,
    created_at: impl FnOnce(&RunId) -> Option<Timestamp>,
    folder_time: impl FnOnce(&RunId) -> Option<Timestamp>,
) -> Option<Timestamp> {
    let found = match dating.date(id) {
        IdDate::Believed(t) => return Some(t),
        IdDate::NotBelieved => folder_time(id),
        IdDate::Undated => created_at(id),
    };
    found.filter(|&t| dating.believable(t))
}

#[cfg(test)]
mod tests {
    use pikaci_core::RunRecord;

    use super::*;
    use crate::{MemFs, StateRoot};

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn system_time(t: Timestamp) -> std::time::SystemTime {
        let secs = u64::try_from(t.as_second()).unwrap();
        std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs)
    }

    #[test]
    fn a_run_dated_in_the_future_does_not_sort_first_forever() {
        let fs = MemFs::new();
        let store = Store::with_fs(fs.clone(), StateRoot::new("/s"));
        let now = at("2026-03-24T12:00:00Z");
        let old = RunRecord::for_test("20260301T000000Z-00000001");
        let new = RunRecord::for_test("20260324T110000Z-00000002");
        // Dated in the year 2099, its folder last modified in between; its
        // record says "now" (its job can rewrite it): not believed.
        let mut planted = RunRecord::for_test("20990101T000000Z-00000003");
        planted.created_at = now;
        // Dated in 2099, its folder's time ahead too: no date to trust.
        let mut liar = RunRecord::for_test("20990101T000000Z-00000004");
        liar.created_at = now;
        // An id whose time is not a real date (month 13): by its folder.
        let mut undated = RunRecord::for_test("20260324T100000Z-00000005");
        undated.run_id = "20261399T000000Z-00000005".parse().unwrap();
        // An earlier pikaci's id, with no time in it.
        let mut upstream = RunRecord::for_test("20260324T100000Z-00000006");
        upstream.run_id = "pikaci-run-123".parse().unwrap();
        upstream.created_at = at("2026-03-15T00:00:00Z");
        for r in [&old, &new, &planted, &liar, &undated, &upstream] {
            store.persist_run_record(r).unwrap();
        }
        let folder_at = |r: &RunRecord, t: &str| {
            let t: Timestamp = at(t);
            fs.set_modified(&store.root().run_dir(&r.run_id), system_time(t));
        };
        folder_at(&planted, "2026-03-10T00:00:00Z");
        folder_at(&liar, "2099-01-01T00:00:00Z");
        folder_at(&undated, "2026-03-20T00:00:00Z");
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

    /// An id in the time form whose time is no real date (January 99th)
    /// but compares as earlier than now: the listing judges it by the same
    /// rule as gc (its folder's time), not by its string.
    #[test]
    fn the_listing_and_gc_judge_an_ids_date_by_one_rule() {
        let fs = MemFs::new();
        let store = Store::with_fs(fs.clone(), StateRoot::new("/s"));
        let now = at("2026-03-24T12:00:00Z");
        let dated = RunRecord::for_test("20260301T000000Z-00000001");
        let mut odd = RunRecord::for_test("20260301T000000Z-00000002");
        odd.run_id = "20260199T000000Z-00000002".parse().unwrap();
        for r in [&dated, &odd] {
            store.persist_run_record(r).unwrap();
        }
        let folder = store.root().run_dir(&odd.run_id);
        fs.set_modified(&folder, system_time(at("2026-03-10T00:00:00Z")));
        let listed = store.list_runs_at(None, 10, now).unwrap();
        assert_eq!(listed, [odd.run_id.clone(), dated.run_id.clone()]);
        let by_gc: Vec<RunId> = store
            .newest_first(listed.clone(), &IdDating::at(now))
            .into_iter()
            .map(RunOrder::into_id)
            .collect();
        assert_eq!(by_gc, listed);
    }
}
