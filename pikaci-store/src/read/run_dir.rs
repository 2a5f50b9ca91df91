//! [`RunDir`]: one run folder, checked once, and what is read from it as a
//! whole: the record, the reconciled record and the logs' metadata.

use std::io;

use camino::Utf8Path;
use pikaci_core::engine::KeptFiles;
use pikaci_core::{JobId, JobLogMetadata, LogFile, RunId, RunLogsMetadata, RunRecord};

use crate::error::StoreError;
use crate::fs::{DiskFs, EntryKind, FileIdentity, Fs, ReadAt};
use crate::layout::{JOBS_DIR, LogPlace, RUN_JSON, SNAPSHOT_DIR, SNAPSHOT_MANIFEST};
use crate::read::chunk::read_full;
use crate::store::{Store, not_a_folder, without_path};

/// A job log found at one of its places, with what was learnt there (its
/// size, an open file); `None` when no place has it.
pub(crate) type Found<T> = Option<(LogPlace, T)>;

/// The largest `run.json` the store agrees to parse; anything bigger is corrupt
/// (a branch's CI code can write the file, so its size is not trusted).
pub const MAX_RUN_JSON_BYTES: u64 = 64 * 1024 * 1024;

/// A run folder that exists and is a real folder (not a link), checked once
/// when the handle is made by [`Store::run`]. Reads through the handle and the
/// [`JobDir`](crate::JobDir)s and [`JobLog`](crate::JobLog)s made from it do
/// not check it again.
///
/// The handle owns a copy of the store (cheap: a file system handle and the
/// root path), so it can move to another thread or into a stream.
#[derive(Clone)]
pub struct RunDir<F = DiskFs> {
    store: Store<F>,
    run: RunId,
}

impl<F> std::fmt::Debug for RunDir<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunDir")
            .field("root", &self.store.root)
            .field("run", &self.run)
            .finish_non_exhaustive()
    }
}

impl<F: Fs + Clone> Store<F> {
    /// The run `run`, its folder checked to exist and to be a real folder.
    /// A missing folder is [`StoreError::RunNotFound`]; a link or a file in its
    /// place is [`StoreError::Corrupt`].
    pub fn run(&self, run: &RunId) -> Result<RunDir<F>, StoreError> {
        self.check_run_dir(run)?;
        Ok(RunDir {
            store: self.clone(),
            run: run.clone(),
        })
    }
}

impl<F: Fs> Store<F> {
    /// Loads `run.json` of `run`: the same as `store.run(run)?.record()`, for
    /// callers (the engine, gc) that read one record and nothing else.
    pub fn load_run_record(&self, run: &RunId) -> Result<RunRecord, StoreError> {
        self.check_run_dir(run)?;
        read_record(self, run)
    }

    fn check_run_dir(&self, run: &RunId) -> Result<(), StoreError> {
        match self.kind(&self.root.run_dir(run), run)? {
            Some(EntryKind::Dir) => Ok(()),
            None => Err(StoreError::RunNotFound { run: run.clone() }),
            Some(_) => Err(not_a_folder(run, ".")),
        }
    }
}

impl<F: Fs> RunDir<F> {
    /// The run's id.
    pub fn id(&self) -> &RunId {
        &self.run
    }

    /// The store the run is in (for the log readers beside this module).
    pub(crate) fn store(&self) -> &Store<F> {
        &self.store
    }

    /// Loads `run.json`. Unknown keys are ignored; a damaged file is
    /// [`StoreError::Corrupt`] naming the run and what is wrong; a folder
    /// without one (a run that died before writing it) is
    /// [`StoreError::RunNotFound`].
    pub fn record(&self) -> Result<RunRecord, StoreError> {
        read_record(&self.store, &self.run)
    }

    /// Loads `run.json` as [`RunDir::record`] does, if the opened file is at
    /// most `max_bytes` long (its size is taken from the open descriptor, so
    /// a file swapped in meanwhile cannot make the read longer); a longer
    /// one is not read: [`BoundedRecord::TooLarge`]. For readers that keep
    /// a tighter bound on memory than the store's own
    /// [`MAX_RUN_JSON_BYTES`].
    pub fn record_within(&self, max_bytes: u64) -> Result<BoundedRecord, StoreError> {
        Ok(
            match read_record_within(&self.store, &self.run, max_bytes)? {
                Ok(record) => BoundedRecord::Loaded(Box::new(record)),
                Err(size) => BoundedRecord::TooLarge { size },
            },
        )
    }

    /// The identity of `run.json` now (one `lstat`, nothing read), `None`
    /// when it is missing or the file system cannot tell versions apart. A
    /// reader that keeps a record re-reads it only when this changes:
    /// pikaci replaces the file by rename, so every save is a new inode.
    pub fn record_identity(&self) -> Result<Option<FileIdentity>, StoreError> {
        let path = self.store.root.run_json(&self.run);
        match self.store.fs.identity(&path) {
            Ok(found) => Ok(found),
            Err(e) if e.kind() == io::ErrorKind::Unsupported => Ok(None),
            Err(e) if e.kind() == io::ErrorKind::InvalidInput => Err(StoreError::Corrupt {
                run: self.run.clone(),
                file: RUN_JSON.into(),
                message: without_path(&e, &path),
            }),
            Err(e) => Err(StoreError::io(format!(
                "inspecting {RUN_JSON} of run {}",
                self.run
            ))(e)),
        }
    }

    /// Loads `run.json` as [`RunDir::record_within`] does, with the identity
    /// of the file that was read (taken from the opened descriptor, `None`
    /// where the file system has none). A record over `max_bytes` is
    /// [`StoreError::Corrupt`] saying its size and the bound, unread.
    pub fn record_versioned(
        &self,
        max_bytes: u64,
    ) -> Result<(Option<FileIdentity>, RunRecord), StoreError> {
        let (identity, read) = read_record_versioned(&self.store, &self.run, max_bytes)?;
        let record = read.map_err(|n| too_large_record(&self.run, n, max_bytes))?;
        Ok((identity, record))
    }

    /// The snapshot the run kept for reruns, from the layout (never from
    /// the record): its manifest (`runs/<id>/snapshot.manifest`, written
    /// only once the run's copy was complete; the new objects it names are
    /// stored while the jobs run, and one still missing is taken from the
    /// run's leftover `snapshot` folder) when there is one, else a
    /// `runs/<id>/snapshot` folder kept whole by an earlier release; `None`
    /// when neither is there (never kept, or deleted by gc with the run). A
    /// link or anything else in their place is [`StoreError::Corrupt`]: a
    /// rerun must not run in what it points to.
    pub fn kept_snapshot(&self) -> Result<Option<KeptFiles>, StoreError> {
        let manifest = self.store.root.snapshot_manifest(&self.run);
        match self.store.kind(&manifest, &self.run)? {
            Some(EntryKind::File) => {
                return Ok(Some(KeptFiles::Manifest(
                    self.store.root.kept_layout(&self.run),
                )));
            }
            None => {}
            Some(_) => {
                return Err(StoreError::Corrupt {
                    run: self.run.clone(),
                    file: SNAPSHOT_MANIFEST.into(),
                    message: "not a file (symbolic links are never followed)".into(),
                });
            }
        }
        let path = self.store.root.snapshot_dir(&self.run);
        match self.store.kind(&path, &self.run)? {
            Some(EntryKind::Dir) => Ok(Some(KeptFiles::Folder(path))),
            None => Ok(None),
            Some(_) => Err(not_a_folder(&self.run, SNAPSHOT_DIR)),
        }
    }

    /// Each job's log locations (from the layout, never from the record),
    /// existence and sizes, with the status of `record`: pass the record just
    /// read (for example a reconciled one) so both report one status.
    pub fn logs_metadata(&self, record: &RunRecord) -> Result<RunLogsMetadata, StoreError> {
        if record.run_id != self.run {
            return Err(StoreError::InvalidInput {
                message: format!(
                    "the record of run {} does not describe run {}",
                    record.run_id, self.run
                ),
            });
        }
        let root = &self.store.root;
        let mut jobs = Vec::with_capacity(record.jobs.len());
        for job in &record.jobs {
            let (host, guest) = if self.job_folder(&job.id)? {
                (
                    self.log_size(&job.id, LogFile::Host)?,
                    self.log_size(&job.id, LogFile::Guest)?,
                )
            } else {
                (None, None)
            };
            // The path of the log that was found, else where this pikaci writes it.
            let path = |file, found: Option<(LogPlace, u64)>| {
                let place = found.map_or(LogPlace::JobFolder, |(place, _)| place);
                root.job_log_at(&self.run, &job.id, file, place)
            };
            jobs.push(JobLogMetadata {
                id: job.id.clone(),
                host_log_path: path(LogFile::Host, host),
                guest_log_path: path(LogFile::Guest, guest),
                host_log_exists: host.is_some(),
                guest_log_exists: guest.is_some(),
                host_log_size: host.map(|(_, n)| n),
                guest_log_size: guest.map(|(_, n)| n),
            });
        }
        Ok(RunLogsMetadata {
            run_id: record.run_id.clone(),
            status: record.status,
            jobs,
        })
    }

    /// Whether job `job` has a folder, checking `jobs/` and `jobs/<job>` are
    /// real folders (a link or a file there is [`StoreError::Corrupt`]).
    pub(crate) fn job_folder(&self, job: &JobId) -> Result<bool, StoreError> {
        let root = &self.store.root;
        for (dir, rel) in [
            (root.jobs_dir(&self.run), JOBS_DIR.to_owned()),
            (root.job_dir(&self.run, job), format!("{JOBS_DIR}/{job}")),
        ] {
            match self.store.kind(&dir, &self.run)? {
                Some(EntryKind::Dir) => {}
                None => return Ok(false),
                Some(_) => return Err(not_a_folder(&self.run, rel)),
            }
        }
        Ok(true)
    }

    /// Where a log of a job whose folder exists is, and its size: the first
    /// of its [places](LogPlace::search_order) that has it; `None` when none does.
    pub(crate) fn log_size(&self, job: &JobId, file: LogFile) -> Result<Found<u64>, StoreError> {
        self.find_log(job, file, |path| self.store.fs.size(path))
    }

    /// The identity of a log of a job whose folder exists (no open, no
    /// link followed); `None` when no place has it or the file system
    /// cannot tell versions apart.
    pub(crate) fn log_identity(
        &self,
        job: &JobId,
        file: LogFile,
    ) -> Result<Found<FileIdentity>, StoreError> {
        self.find_log(job, file, |path| match self.store.fs.identity(path) {
            Err(e) if e.kind() == io::ErrorKind::Unsupported => Ok(None),
            other => other,
        })
    }

    /// Opens a log of a job whose folder exists, at the first of its places
    /// that has it; `None` when none does.
    pub(crate) fn open_log(
        &self,
        job: &JobId,
        file: LogFile,
    ) -> Result<Found<Box<dyn ReadAt>>, StoreError> {
        self.find_log(job, file, |path| match self.store.fs.open_read(path) {
            Ok(reader) => Ok(Some(reader)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        })
    }

    /// Tries `probe` on each place of the log in order, until one finds it.
    /// A place's folder (`artifacts/`) must be a real folder: a link there
    /// is [`StoreError::Corrupt`], like a link in place of the log itself.
    fn find_log<T>(
        &self,
        job: &JobId,
        file: LogFile,
        probe: impl Fn(&Utf8Path) -> io::Result<Option<T>>,
    ) -> Result<Found<T>, StoreError> {
        let root = &self.store.root;
        for &place in LogPlace::search_order(file) {
            if let Some(folder) = root.job_log_folder(&self.run, job, place) {
                match self.store.kind(&folder, &self.run)? {
                    Some(EntryKind::Dir) => {}
                    None => continue,
                    Some(_) => {
                        let sub = place.subfolder().unwrap_or_default();
                        return Err(not_a_folder(&self.run, format!("{JOBS_DIR}/{job}/{sub}")));
                    }
                }
            }
            let path = root.job_log_at(&self.run, job, file, place);
            match probe(&path) {
                Ok(Some(found)) => return Ok(Some((place, found))),
                Ok(None) => {}
                Err(e) => return Err(self.log_error(e, job, file, place, &path)),
            }
        }
        Ok(None)
    }

    /// An I/O error reading a job log, as the store reports it: a link or a
    /// non-file in the log's place is corrupt; messages carry no absolute path.
    fn log_error(
        &self,
        e: io::Error,
        job: &JobId,
        file: LogFile,
        place: LogPlace,
        path: &Utf8Path,
    ) -> StoreError {
        if e.kind() == io::ErrorKind::InvalidInput {
            StoreError::Corrupt {
                run: self.run.clone(),
                file: place.relative(job, file),
                message: without_path(&e, path),
            }
        } else {
            StoreError::io(format!(
                "reading {} of run {} job {job}",
                place.file_name(file),
                self.run
            ))(e)
        }
    }
}

/// What [`RunDir::record_within`] found.
#[derive(Debug, Clone, PartialEq)]
pub enum BoundedRecord {
    /// The record.
    Loaded(Box<RunRecord>),
    /// `run.json` is longer than the bound: it was not read.
    TooLarge {
        /// Its size in bytes.
        size: u64,
    },
}

/// Reads and checks `run.json` of a run whose folder was checked.
fn read_record<F: Fs>(store: &Store<F>, run: &RunId) -> Result<RunRecord, StoreError> {
    read_record_within(store, run, MAX_RUN_JSON_BYTES)?
        .map_err(|n| too_large_record(run, n, MAX_RUN_JSON_BYTES))
}

/// `run.json` of `size` bytes refused for being over `max`.
fn too_large_record(run: &RunId, size: u64, max: u64) -> StoreError {
    StoreError::Corrupt {
        run: run.clone(),
        file: RUN_JSON.into(),
        message: format!("{size} bytes is larger than the {max} bytes accepted"),
    }
}

/// [`read_record_versioned`] without the identity.
fn read_record_within<F: Fs>(
    store: &Store<F>,
    run: &RunId,
    max_bytes: u64,
) -> Result<Result<RunRecord, u64>, StoreError> {
    Ok(read_record_versioned(store, run, max_bytes)?.1)
}

/// Reads and checks `run.json` of a run whose folder was checked, if the
/// opened file is at most `max_bytes` long (`Ok(Err(size))` otherwise,
/// without reading it), with the opened file's identity. One open: never
/// through a link, never a FIFO.
fn read_record_versioned<F: Fs>(
    store: &Store<F>,
    run: &RunId,
    max_bytes: u64,
) -> Result<(Option<FileIdentity>, Result<RunRecord, u64>), StoreError> {
    let path = store.root.run_json(run);
    let corrupt = |message: String| StoreError::Corrupt {
        run: run.clone(),
        file: RUN_JSON.into(),
        message,
    };
    let failed = |e: io::Error| StoreError::io(format!("reading {RUN_JSON} of run {run}"))(e);
    // One open, checked on what it opened (never a link or a FIFO); sized
    // from the opened file, and never read past that size.
    let file = store.fs.open_read(&path).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => StoreError::RunNotFound { run: run.clone() },
        io::ErrorKind::InvalidInput => corrupt(without_path(&e, &path)),
        _ => failed(e),
    })?;
    let identity = file.identity().map_err(failed)?;
    let size = identity.size;
    // Without an inode the identity cannot tell versions apart: none.
    let identity = (identity.ino != 0).then_some(identity);
    if size > max_bytes {
        return Ok((identity, Err(size)));
    }
    let mut bytes = vec![0u8; usize::try_from(size).unwrap_or(usize::MAX)];
    let filled = read_full(file.as_ref(), &mut bytes, 0).map_err(failed)?;
    bytes.truncate(filled);
    let record: RunRecord = serde_json::from_slice(&bytes).map_err(|e| corrupt(e.to_string()))?;
    if &record.run_id != run {
        return Err(corrupt(format!("it records run {}", record.run_id)));
    }
    Ok((identity, Ok(record)))
}

#[cfg(test)]
mod tests {
    use pikaci_core::RunStatus;

    use super::*;
    use crate::fixtures::{running, store};

    #[test]
    fn the_folder_is_checked_when_the_handle_is_made() {
        let store = store();
        let r = RunRecord::for_test("20260324T161238Z-1a2b3c4d");
        assert!(matches!(
            store.run(&r.run_id).unwrap_err(),
            StoreError::RunNotFound { .. }
        ));
        store
            .fs()
            .symlink(&store.root().run_dir(&r.run_id))
            .unwrap();
        let err = store.run(&r.run_id).unwrap_err();
        assert!(err.is_corrupt(), "{err}");
        assert!(store.load_run_record(&r.run_id).unwrap_err().is_corrupt());
    }

    #[test]
    fn the_kept_snapshot_is_found_from_the_layout_and_never_through_a_link() {
        let store = store();
        let r = RunRecord::for_test("pikaci-run-123");
        store.persist_run_record(&r).unwrap();
        let dir = store.run(&r.run_id).unwrap();
        assert_eq!(dir.kept_snapshot().unwrap(), None);
        let snapshot = store.root().snapshot_dir(&r.run_id);
        store.fs().create_dir_all(&snapshot).unwrap();
        assert_eq!(
            dir.kept_snapshot().unwrap(),
            Some(KeptFiles::Folder(snapshot.clone()))
        );
        // A manifest (written only once the snapshot was whole) wins over
        // the folder, which is then only where the jobs ran.
        let manifest = store.root().snapshot_manifest(&r.run_id);
        store.fs().write_atomic(&manifest, b"x").unwrap();
        assert_eq!(
            dir.kept_snapshot().unwrap(),
            Some(KeptFiles::Manifest(store.root().kept_layout(&r.run_id)))
        );
        store.fs().remove_dir_all(&manifest).unwrap();
        store.fs().symlink(&manifest).unwrap();
        let err = dir.kept_snapshot().unwrap_err();
        assert!(
            err.is_corrupt() && err.to_string().contains("snapshot.manifest"),
            "{err}"
        );
        store.fs().remove_dir_all(&manifest).unwrap();
        store.fs().remove_dir_all(&snapshot).unwrap();
        store.fs().symlink(&snapshot).unwrap();
        let err = dir.kept_snapshot().unwrap_err();
        assert!(
            err.is_corrupt() && err.to_string().contains("snapshot"),
            "{err}"
        );
    }

    #[test]
    fn a_claimed_folder_without_a_record_is_a_run_not_found() {
        let store = store();
        let r = RunRecord::for_test("20260324T161238Z-1a2b3c4d");
        assert!(store.claim_run(&r.run_id).unwrap());
        let dir = store.run(&r.run_id).unwrap();
        assert!(matches!(
            dir.record().unwrap_err(),
            StoreError::RunNotFound { .. }
        ));
    }

    #[test]
    fn metadata_is_of_the_record_given_and_only_of_this_run() {
        let store = store();
        let r = running(&store, "here");
        let dir = store.run(&r.run_id).unwrap();
        let mut reconciled = r.clone();
        reconciled.mark_interrupted(r.created_at);
        let meta = dir.logs_metadata(&reconciled).unwrap();
        assert_eq!(meta.status, RunStatus::Failed);
        assert_eq!(meta.jobs.len(), 1);
        assert!(!meta.jobs[0].guest_log_exists);
        let other = RunRecord::for_test("20260324T161238Z-00000000");
        assert!(dir.logs_metadata(&other).unwrap_err().is_invalid_input());
    }

    #[test]
    fn a_bounded_read_leaves_a_longer_record_unread() {
        let store = store();
        let r = running(&store, "here");
        let dir = store.run(&r.run_id).unwrap();
        let size = serde_json::to_vec_pretty(&r).unwrap().len() as u64;
        match dir.record_within(1 << 20).unwrap() {
            BoundedRecord::Loaded(seen) => assert_eq!(*seen, r),
            other => panic!("{other:?}"),
        }
        match dir.record_within(100).unwrap() {
            BoundedRecord::TooLarge { size: seen } => assert!(seen > 100 && seen <= size + 1),
            other => panic!("{other:?}"),
        }
    }
}
