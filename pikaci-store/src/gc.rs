//! Garbage collection of old runs.
//!
//! - A run whose owner is alive on this host (the same pid *and* start time,
//!   see [`pikaci_core::Liveness`]) is never deleted, whatever the policy;
//!   nor is a run whose kept snapshot such a run is running in (a rerun's
//!   `snapshot_of`), so a live rerun never loses its files.
//! - A run's age and its place for `keep_runs` follow the listing's one
//!   rule (`list::run_time`, over the model's id-date rule `IdDating`): the
//!   time in its id, its folder's modification
//!   time for an id dated more than a day ahead, its record's `created_at`
//!   for an id of another form; a time more than a day ahead is not
//!   believed and the run counts as the oldest.
//! - A folder modified less than [`YOUNG_FOLDER`] ago (a run claimed a
//!   moment ago, before its first record) is never stale, whatever
//!   `stale_running_after` says.
//! - A running run whose owner holds its folder's lock cannot be taken:
//!   gc deletes only a folder it holds exclusively.
//! - Several gcs may run at once: a run another gc already moved away is
//!   not an error, and the trash folder is cleared by whoever gets there.
//! - Error messages name runs and layout paths relative to the state root,
//!   never absolute paths.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use jiff::Timestamp;
use pikaci_core::{IdDating, Liveness, OwnerState, RunId, RunRecord};

use crate::error::StoreError;
use crate::fs::{FolderHold, Fs};
use crate::list::{newest_first_by, run_time};
use crate::store::Store;
use crate::usage::Sweep;

/// Which runs to delete. A run is deleted when it breaks any limit that is set:
/// it is not among the newest `keep_runs` (in the order of
/// [`Store::list_runs`]), or it is older than `older_than`. With no limit set
/// nothing is deleted. A run's folder goes whole: its record, its logs and
/// the snapshot it kept for reruns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GcPolicy {
    /// Keep at most this many of the newest runs.
    pub keep_runs: Option<usize>,
    /// Delete runs created longer ago than this.
    pub older_than: Option<Duration>,
    /// A run still `running` whose owner cannot be checked from here (another
    /// host, or a record without the owner's start time) is only deleted when
    /// older than this. A run whose owner is alive here is never deleted; one
    /// whose owner is gone counts as finished.
    pub stale_running_after: Duration,
}

impl Default for GcPolicy {
    fn default() -> Self {
        Self {
            keep_runs: None,
            older_than: None,
            stale_running_after: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

/// What a gc did (or, with `dry_run`, would do).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GcReport {
    /// Runs deleted, newest first.
    pub deleted: Vec<RunId>,
    /// Runs kept, newest first.
    pub kept: Vec<RunId>,
    /// Runs the policy selected but that are still `running`: their owner is
    /// alive, or cannot be checked and the run is not stale.
    pub skipped_running: Vec<RunId>,
    /// Runs the policy selected but whose kept snapshot a run still
    /// `running` (a rerun, by its `snapshot_of`) is running in.
    pub snapshot_in_use: Vec<RunId>,
    /// Runs that went away while this gc ran (another gc took them).
    pub vanished: Vec<RunId>,
    /// The bytes of the deleted runs' folders.
    pub runs_bytes: u64,
    /// The objects of kept snapshots no remaining run uses, deleted after
    /// the runs.
    pub objects: Sweep,
}

impl GcReport {
    /// Everything freed: the runs' folders and the objects swept.
    pub fn freed_bytes(&self) -> u64 {
        self.runs_bytes + self.objects.bytes
    }
}

/// How recently a run folder must have been modified for gc to take it for a
/// live run whatever `stale_running_after` says (see `young`).
pub const YOUNG_FOLDER: Duration = Duration::from_secs(60);

/// Distinguishes the trash names of gcs in one process.
static PARKED: AtomicU64 = AtomicU64::new(0);

/// What became of a run gc set out to delete.
#[derive(Debug)]
enum Deleted {
    /// Deleted, with the bytes its folder held.
    Yes(u64),
    /// Gone already.
    Vanished,
    /// Held by a rerun.
    Held,
}

impl<F: Fs> Store<F> {
    /// Deletes the runs `policy` selects, as of `now`, asking `liveness`
    /// about the owners of running runs. A deleted run is first moved out of
    /// `runs/` in one rename, so an interrupted gc never leaves a
    /// half-deleted run behind in the listing.
    pub fn gc_runs(
        &self,
        policy: &GcPolicy,
        liveness: &dyn Liveness,
        now: Timestamp,
        dry_run: bool,
    ) -> Result<GcReport, StoreError> {
        // Each record is read once, for what gc needs of it (the whole
        // records are not kept: a state root may hold thousands).
        let dating = IdDating::at(now);
        let facts: BTreeMap<RunId, Facts> = self
            .all_run_ids()?
            .into_iter()
            .map(|id| {
                let record = self.load_run_record(&id);
                let folder_time = self.folder_time(&id);
                let owner = |r: &RunRecord| self.owner_state(r, liveness);
                let facts = Facts::of(&record, &id, folder_time, &dating, policy, owner);
                (id, facts)
            })
            .collect();
        let ordered = newest_first_by(
            facts.keys().cloned(),
            &dating,
            |id| facts.get(id)?.created_at,
            |id| facts.get(id)?.folder_time,
        );
        let snapshots_in_use: BTreeSet<&RunId> = facts
            .values()
            .filter(|f| f.running)
            .filter_map(|f| f.snapshot_of.as_ref())
            .collect();
        let mut report = GcReport::default();
        if !dry_run {
            self.clear_trash()?;
        }
        for (index, id) in ordered.into_iter().map(|o| o.into_id()).enumerate() {
            let Facts { age, running, .. } = facts[&id];
            let over_count = policy.keep_runs.is_some_and(|n| index >= n);
            // A run with no date to trust is older than any limit.
            let too_old = policy
                .older_than
                .is_some_and(|max| age.is_none_or(|a| a > max));
            if !(over_count || too_old) {
                report.kept.push(id);
                continue;
            }
            if running {
                report.skipped_running.push(id);
                continue;
            }
            if snapshots_in_use.contains(&id) {
                report.snapshot_in_use.push(id);
                continue;
            }
            if dry_run {
                report.runs_bytes += self.tree_bytes(&self.root.run_dir(&id)).unwrap_or(0);
                report.deleted.push(id);
                continue;
            }
            match self.delete_run(&id)? {
                Deleted::Yes(bytes) => {
                    report.runs_bytes += bytes;
                    report.deleted.push(id);
                }
                Deleted::Vanished => report.vanished.push(id),
                // A rerun holds it (it runs in this run's snapshot), and
                // may have begun after the records above were read.
                Deleted::Held => report.snapshot_in_use.push(id),
            }
        }
        let gone: BTreeSet<RunId> = report.deleted.iter().cloned().collect();
        report.objects = self.sweep_objects(&gone, dry_run)?;
        Ok(report)
    }

    /// Moves a run out of `runs/`, then removes it, holding its folder
    /// exclusively meanwhile: a run a rerun holds (see [`Store::hold_run`])
    /// is left. [`Deleted::Vanished`] when the run was gone already
    /// (another gc moved it).
    fn delete_run(&self, id: &RunId) -> Result<Deleted, StoreError> {
        let what = || format!("deleting run {id}");
        let _hold = match self.fs.try_hold_exclusive(&self.root.run_dir(id)) {
            Ok(hold) => hold,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Deleted::Held),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Deleted::Vanished),
            Err(e) => return Err(StoreError::io(what())(self.relative(e))),
        };
        let trash = self.root.trash_dir();
        self.fs
            .create_dir_all(&trash)
            .map_err(|e| StoreError::io(what())(self.relative(e)))?;
        let parked = trash.join(format!(
            "{id}-{}-{}",
            std::process::id(),
            PARKED.fetch_add(1, Ordering::Relaxed)
        ));
        match self.fs.rename(&self.root.run_dir(id), &parked) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Deleted::Vanished),
            Err(e) => return Err(StoreError::io(what())(self.relative(e))),
        }
        let bytes = self.tree_bytes(&parked).unwrap_or(0);
        self.remove_tree(&parked)
            .map_err(|e| StoreError::io(what())(self.relative(e)))?;
        Ok(Deleted::Yes(bytes))
    }

    /// Holds run `id`'s folder while a rerun runs in its kept snapshot: gc
    /// leaves a held run (it reports it in [`GcReport::snapshot_in_use`]).
    /// The hold ends when the returned value is dropped, or with the
    /// process. Waits while a gc is deleting the run; the caller checks
    /// afterwards that the snapshot is still there.
    pub fn hold_run(&self, id: &RunId) -> Result<FolderHold, StoreError> {
        match self.fs.hold_shared(&self.root.run_dir(id)) {
            Ok(hold) => Ok(hold),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                Err(StoreError::RunNotFound { run: id.clone() })
            }
            Err(e) => Err(StoreError::io(format!("holding run {id}"))(
                self.relative(e),
            )),
        }
    }

    /// Removes what an interrupted gc left in the trash folder (and what a
    /// gc running alongside is removing: both may remove the same tree).
    fn clear_trash(&self) -> Result<(), StoreError> {
        let trash = self.root.trash_dir();
        let failed = |e| StoreError::io("clearing the gc trash folder")(self.relative(e));
        let names = match self.fs.list_dir(&trash) {
            Ok(names) => names,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(failed(e)),
        };
        for name in names {
            self.remove_tree(&trash.join(name)).map_err(failed)?;
        }
        Ok(())
    }

    /// Removes a tree that someone else may be removing at the same time:
    /// what they removed first is not an error.
    pub(crate) fn remove_tree(&self, path: &camino::Utf8Path) -> io::Result<()> {
        let mut attempts = 0;
        loop {
            match self.fs.remove_dir_all(path) {
                Ok(()) => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
                Err(_) if matches!(self.fs.kind(path), Ok(None)) => return Ok(()),
                Err(e) if attempts >= 2 => return Err(e),
                Err(_) => attempts += 1,
            }
        }
    }

    /// `e` with the state root taken out of its message: paths in it become
    /// relative to the root (`runs/X`, `.trash/Y`).
    pub(crate) fn relative(&self, e: io::Error) -> io::Error {
        let root = self.root.path().as_str();
        let message = e.to_string();
        if root.is_empty() || !message.contains(root) {
            return e;
        }
        let trimmed = root.trim_end_matches('/');
        let message = message
            .replace(&format!("{trimmed}/"), "")
            .replace(trimmed, ".");
        io::Error::new(e.kind(), message)
    }
}

/// How long ago a run was created, by the listing's rule ([`run_time`]);
/// `None` when there is no time to believe.
fn age(
    record: &Result<RunRecord, StoreError>,
    id: &RunId,
    folder_time: Option<Timestamp>,
    dating: &IdDating,
) -> Option<Duration> {
    let created_at = |_: &RunId| record.as_ref().ok().map(|r| r.created_at);
    let created = run_time(id, dating, created_at, |_| folder_time)?;
    // A time ahead of now (within the tolerance) is no age at all.
    Some(
        dating
            .now()
            .duration_since(created)
            .try_into()
            .unwrap_or_default(),
    )
}

/// Whether a run folder was modified less than [`YOUNG_FOLDER`] ago (a run
/// claimed a moment ago whose first record is not written yet, or a run
/// still writing): gc takes such a folder for a live run, whatever
/// `stale_running_after` says. A time ahead of now is not believed young.
fn young(folder_time: Option<Timestamp>, now: Timestamp) -> bool {
    folder_time.is_some_and(|t| {
        let since = now.duration_since(t);
        since >= jiff::SignedDuration::from_secs(-1)
            && since < jiff::SignedDuration::try_from(YOUNG_FOLDER).unwrap_or_default()
    })
}

/// What gc needs of one run's record.
struct Facts {
    /// How long ago the run was created (see [`age`]).
    age: Option<Duration>,
    /// The record's `created_at`, for the listing's order.
    created_at: Option<Timestamp>,
    /// When the run's folder was last modified, for the listing's order.
    folder_time: Option<Timestamp>,
    /// Whether the run counts as still running: its owner is alive on this
    /// host, or cannot be checked (another host, an older record, no record
    /// yet: a run that is starting) and the run is not older than
    /// `stale_running_after`. A corrupt record is not evidence of a live run.
    running: bool,
    /// The run whose kept snapshot this run runs in (a rerun's).
    snapshot_of: Option<RunId>,
}

impl Facts {
    fn of(
        record: &Result<RunRecord, StoreError>,
        id: &RunId,
        folder_time: Option<Timestamp>,
        dating: &IdDating,
        policy: &GcPolicy,
        owner_state: impl FnOnce(&RunRecord) -> OwnerState,
    ) -> Self {
        let now = dating.now();
        let age = age(record, id, folder_time, dating);
        // A folder touched a moment ago is never stale: a run just claimed
        // has no record yet, and `--stale-after 0s` must not take it.
        let stale = !young(folder_time, now) && age.is_none_or(|a| a > policy.stale_running_after);
        let running = match record {
            Ok(r) => match owner_state(r) {
                OwnerState::Alive => true,
                OwnerState::Unknown | OwnerState::PidInUse => !stale,
                OwnerState::NotRunning | OwnerState::Gone => false,
            },
            // No record yet: a run that is starting (its folder is made
            // just before its first record), or one that died before it.
            Err(StoreError::RunNotFound { .. }) => !stale,
            Err(_) => false,
        };
        let record = record.as_ref().ok();
        Self {
            age,
            created_at: record.map(|r| r.created_at),
            folder_time,
            running,
            snapshot_of: record.and_then(|r| r.snapshot_of.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use pikaci_core::{ProcessProbe, RunOwner, RunStatus};

    use super::*;
    use crate::{MemFs, StateRoot};

    /// pid 7 lives and started at tick 100; nothing else lives.
    struct Host;

    impl Liveness for Host {
        fn this_host(&self) -> &str {
            "here"
        }
        fn is_alive(&self, pid: u32) -> bool {
            pid == 7
        }
        fn probe(&self, pid: u32) -> ProcessProbe {
            if pid == 7 {
                ProcessProbe::Running {
                    start_ticks: Some(100),
                }
            } else {
                ProcessProbe::Gone
            }
        }
    }

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn system_time(t: Timestamp) -> std::time::SystemTime {
        let secs = u64::try_from(t.as_second()).unwrap();
        std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs)
    }

    fn running(id: &str, pid: u32, start_ticks: Option<u64>, host: &str) -> RunRecord {
        let mut r = RunRecord::for_test(id);
        r.status = RunStatus::Running;
        r.owner = Some(RunOwner {
            pid,
            host: host.into(),
            start_ticks,
            lock: false,
        });
        r
    }

    fn delete_all() -> GcPolicy {
        GcPolicy {
            keep_runs: Some(0),
            older_than: None,
            stale_running_after: Duration::from_secs(1),
        }
    }

    #[test]
    fn a_run_whose_owner_is_alive_is_never_deleted_whatever_stale_after_says() {
        let store = Store::with_fs(MemFs::new(), StateRoot::new("/s"));
        let live = running("20260301T000000Z-00000001", 7, Some(100), "here");
        let reused = running("20260301T000000Z-00000002", 7, Some(55), "here");
        let dead = running("20260301T000000Z-00000003", 8, Some(100), "here");
        let old_alive = running("20260301T000000Z-00000004", 7, None, "here");
        let elsewhere = running("20260301T000000Z-00000005", 7, Some(100), "there");
        for r in [&live, &reused, &dead, &old_alive, &elsewhere] {
            store.persist_run_record(r).unwrap();
        }
        let report = store
            .gc_runs(&delete_all(), &Host, at("2026-12-01T00:00:00Z"), false)
            .unwrap();
        assert_eq!(report.skipped_running, std::slice::from_ref(&live.run_id));
        // A reused pid, a dead owner, and (past --stale-after) an owner that
        // cannot be checked: deleted.
        let mut deleted = report.deleted.clone();
        deleted.sort();
        assert_eq!(
            deleted,
            [
                reused.run_id,
                dead.run_id,
                old_alive.run_id.clone(),
                elsewhere.run_id.clone()
            ]
        );
        // Within --stale-after, an owner that cannot be checked keeps its run.
        for r in [&old_alive, &elsewhere] {
            store.persist_run_record(r).unwrap();
        }
        let report = store
            .gc_runs(
                &GcPolicy {
                    stale_running_after: Duration::from_secs(365 * 24 * 3600),
                    ..delete_all()
                },
                &Host,
                at("2026-12-01T00:00:00Z"),
                false,
            )
            .unwrap();
        assert_eq!(report.deleted.len(), 0);
        assert_eq!(report.skipped_running.len(), 3);
    }

    #[test]
    fn a_run_whose_snapshot_a_live_rerun_runs_in_is_kept_until_the_rerun_ends() {
        let store = Store::with_fs(MemFs::new(), StateRoot::new("/s"));
        let original = RunRecord::for_test("20260301T000000Z-00000001");
        let mut rerun = running("20260301T000000Z-00000002", 7, Some(100), "here");
        rerun.snapshot_of = Some(original.run_id.clone());
        // A rerun whose pikaci died no longer holds its original.
        let other = RunRecord::for_test("20260301T000000Z-00000003");
        let mut dead_rerun = running("20260301T000000Z-00000004", 8, Some(100), "here");
        dead_rerun.snapshot_of = Some(other.run_id.clone());
        for r in [&original, &rerun, &other, &dead_rerun] {
            store.persist_run_record(r).unwrap();
        }
        let now = at("2026-12-01T00:00:00Z");
        let report = store.gc_runs(&delete_all(), &Host, now, false).unwrap();
        assert_eq!(report.skipped_running, std::slice::from_ref(&rerun.run_id));
        assert_eq!(
            report.snapshot_in_use,
            std::slice::from_ref(&original.run_id)
        );
        let mut deleted = report.deleted.clone();
        deleted.sort();
        assert_eq!(deleted, [other.run_id, dead_rerun.run_id]);
        assert!(store.run(&original.run_id).is_ok());

        // The rerun ends: its original is no longer in use.
        rerun.status = RunStatus::Failed;
        rerun.owner = None;
        store.persist_run_record(&rerun).unwrap();
        let report = store.gc_runs(&delete_all(), &Host, now, false).unwrap();
        assert!(report.snapshot_in_use.is_empty());
        assert_eq!(report.deleted.len(), 2);
    }

    /// A rerun holds its original before it has written any record: gc
    /// leaves the held run, on disk (held by another open of the folder, as
    /// another process would) and in memory.
    #[test]
    fn a_held_run_is_left_until_its_hold_ends() {
        let dir = tempfile::tempdir().unwrap();
        let root = camino::Utf8PathBuf::try_from(dir.path().to_owned()).unwrap();
        let disk = Store::with_fs(crate::DiskFs::new(), StateRoot::new(root));
        let mem = Store::with_fs(MemFs::new(), StateRoot::new("/s"));
        fn check<F: Fs + Clone>(store: &Store<F>) {
            let original = RunRecord::for_test("20260301T000000Z-00000001");
            let other = RunRecord::for_test("20260301T000000Z-00000002");
            for r in [&original, &other] {
                store.persist_run_record(r).unwrap();
            }
            let hold = store.hold_run(&original.run_id).unwrap();
            let now = at("2026-12-01T00:00:00Z");
            let report = store.gc_runs(&delete_all(), &Host, now, false).unwrap();
            assert_eq!(
                report.snapshot_in_use,
                std::slice::from_ref(&original.run_id)
            );
            assert_eq!(report.deleted, std::slice::from_ref(&other.run_id));
            assert!(store.run(&original.run_id).is_ok());
            // A second hold (a second rerun) is fine alongside.
            let second = store.hold_run(&original.run_id).unwrap();
            drop(hold);
            let report = store.gc_runs(&delete_all(), &Host, now, false).unwrap();
            assert_eq!(report.snapshot_in_use.len(), 1, "still held once");
            drop(second);
            let report = store.gc_runs(&delete_all(), &Host, now, false).unwrap();
            assert_eq!(report.deleted, std::slice::from_ref(&original.run_id));
            // A run that is gone cannot be held.
            assert!(store.hold_run(&original.run_id).unwrap_err().is_not_found());
        }
        check(&disk);
        check(&mem);
    }

    #[test]
    fn a_future_dated_id_is_judged_by_its_folder_time_not_its_record() {
        let fs = MemFs::new();
        let store = Store::with_fs(fs.clone(), StateRoot::new("/s"));
        let now = at("2026-12-01T00:00:00Z");
        let old_folder = |r: &RunRecord, when: &str| {
            let t: Timestamp = at(when);
            fs.set_modified(&store.root().run_dir(&r.run_id), system_time(t));
        };
        // Dated 2099, its folder last touched in January: old.
        let planted = RunRecord::for_test("20991231T000000Z-00000001");
        // Dated 2099, and its record (rewritten by its own job) says "now":
        // the record is not believed, its folder's time is.
        let mut liar = RunRecord::for_test("20991231T000000Z-00000002");
        liar.created_at = now;
        let recent = RunRecord::for_test("20261130T000000Z-00000003");
        for r in [&planted, &liar, &recent] {
            store.persist_run_record(r).unwrap();
        }
        old_folder(&planted, "2026-01-01T00:00:00Z");
        old_folder(&liar, "2026-02-01T00:00:00Z");
        let policy = GcPolicy {
            older_than: Some(Duration::from_secs(30 * 24 * 3600)),
            ..GcPolicy::default()
        };
        let report = store.gc_runs(&policy, &Host, now, true).unwrap();
        assert_eq!(report.kept, std::slice::from_ref(&recent.run_id));
        assert_eq!(report.deleted.len(), 2);
        // Nor does it hold a keep_runs place: the recent run is the newest.
        let keep_one = GcPolicy {
            keep_runs: Some(1),
            ..GcPolicy::default()
        };
        let report = store.gc_runs(&keep_one, &Host, now, false).unwrap();
        assert_eq!(report.kept, [recent.run_id]);
        assert_eq!(report.deleted, [liar.run_id, planted.run_id]);
    }

    #[test]
    fn a_folder_claimed_a_moment_ago_is_left_whatever_stale_after_says() {
        let fs = MemFs::new();
        let store = Store::with_fs(fs.clone(), StateRoot::new("/s"));
        let now = at("2026-12-01T00:00:00Z");
        let claimed: RunId = "20261130T235950Z-00000001".parse().unwrap();
        let abandoned: RunId = "20261130T000000Z-00000002".parse().unwrap();
        for id in [&claimed, &abandoned] {
            assert!(store.claim_run(id).unwrap());
        }
        let dir = |id: &RunId| store.root().run_dir(id);
        fs.set_modified(&dir(&claimed), system_time(now - Duration::from_secs(59)));
        fs.set_modified(&dir(&abandoned), system_time(now - YOUNG_FOLDER));
        let stale_at_once = GcPolicy {
            stale_running_after: Duration::ZERO,
            ..delete_all()
        };
        let report = store.gc_runs(&stale_at_once, &Host, now, false).unwrap();
        assert_eq!(report.skipped_running, std::slice::from_ref(&claimed));
        assert_eq!(report.deleted, [abandoned]);
        // A folder dated ahead of now is not young.
        fs.set_modified(&dir(&claimed), system_time(now + Duration::from_secs(3600)));
        let later = now + Duration::from_secs(10);
        let report = store.gc_runs(&stale_at_once, &Host, later, false).unwrap();
        assert_eq!(report.deleted, [claimed]);
    }

    #[test]
    fn a_run_another_gc_took_is_not_an_error_and_errors_carry_no_absolute_path() {
        let store = Store::with_fs(MemFs::new(), StateRoot::new("/very/secret/root"));
        let r = RunRecord::for_test("20260301T000000Z-00000001");
        store.persist_run_record(&r).unwrap();
        store
            .fs()
            .remove_dir_all(&store.root().run_dir(&r.run_id))
            .unwrap();
        assert!(matches!(
            store.delete_run(&r.run_id).unwrap(),
            Deleted::Vanished
        ));

        let e = io::Error::other(
            "failed to rename `/very/secret/root/runs/x` to `/very/secret/root/.trash/x-1`",
        );
        let msg = store.relative(e).to_string();
        assert_eq!(msg, "failed to rename `runs/x` to `.trash/x-1`");
    }
}
