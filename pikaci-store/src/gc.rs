//! Garbage collection of old runs.

use std::time::Duration;

use jiff::Timestamp;
use pikaci_core::{RunId, RunStatus};

use crate::error::StoreError;
use crate::fs::Fs;
use crate::list::RunOrder;
use crate::store::Store;

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
    /// A run still `running` is never deleted unless it is older than this
    /// (its owner is then assumed dead).
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
    /// Runs the policy selected but that are still `running` (and not stale).
    pub skipped_running: Vec<RunId>,
}

impl<F: Fs> Store<F> {
    /// Deletes the runs `policy` selects, as of `now`. A deleted run is first
    /// moved out of `runs/` in one rename, so an interrupted gc never leaves a
    /// half-deleted run behind in the listing.
    pub fn gc_runs(
        &self,
        policy: &GcPolicy,
        now: Timestamp,
        dry_run: bool,
    ) -> Result<GcReport, StoreError> {
        let ordered = self.newest_first(self.all_run_ids()?);
        let mut report = GcReport::default();
        let trash = self.root.trash_dir();
        if !dry_run {
            self.clear_trash()?;
        }
        for (index, id) in ordered.into_iter().map(RunOrder::into_id).enumerate() {
            let age = self.age_of(&id, now);
            let over_count = policy.keep_runs.is_some_and(|n| index >= n);
            let too_old = policy.older_than.is_some_and(|max| age > max);
            if !(over_count || too_old) {
                report.kept.push(id);
                continue;
            }
            // A corrupt or missing record is not evidence of a live run.
            let running =
                matches!(self.load_run_record(&id), Ok(r) if r.status == RunStatus::Running);
            if running && age <= policy.stale_running_after {
                report.skipped_running.push(id);
                continue;
            }
            if !dry_run {
                let what = || format!("deleting run {id}");
                self.fs
                    .create_dir_all(&trash)
                    .map_err(StoreError::io(what()))?;
                let parked = trash.join(format!("{id}-{}", std::process::id()));
                self.fs
                    .rename(&self.root.run_dir(&id), &parked)
                    .map_err(StoreError::io(what()))?;
                self.fs
                    .remove_dir_all(&parked)
                    .map_err(StoreError::io(what()))?;
            }
            report.deleted.push(id);
        }
        Ok(report)
    }

    /// Removes what an interrupted gc left in the trash folder.
    fn clear_trash(&self) -> Result<(), StoreError> {
        let trash = self.root.trash_dir();
        match self.fs.list_dir(&trash) {
            Ok(names) => {
                for name in names {
                    self.fs
                        .remove_dir_all(&trash.join(name))
                        .map_err(StoreError::io("clearing the gc trash folder"))?;
                }
                Ok(())
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(StoreError::io("clearing the gc trash folder")(e)),
        }
    }
}

impl<F: Fs> Store<F> {
    /// How long ago a run was created: from the time in its id, else from its
    /// record; zero when neither is known (so age alone never deletes it).
    fn age_of(&self, id: &RunId, now: Timestamp) -> Duration {
        self.created_at(id)
            .and_then(|t| now.duration_since(t).try_into().ok())
            .unwrap_or_default()
    }
}
