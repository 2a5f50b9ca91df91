//! [`Store`]: run records over a state root and a file system.

use camino::{Utf8Path, Utf8PathBuf};
use pikaci_core::engine::{LogSink, RunStore};
use pikaci_core::{JobId, LogFile, RunId, RunRecord};

use crate::error::StoreError;
use crate::fs::{DiskFs, EntryKind, Fs};
use crate::layout::{JOBS_DIR, RUN_JSON, StateRoot};
use crate::logs::JobLogWriter;

/// The largest `run.json` the store agrees to parse; anything bigger is corrupt
/// (a branch's CI code can write the file, so its size is not trusted).
pub const MAX_RUN_JSON_BYTES: u64 = 64 * 1024 * 1024;

/// Runs and job logs under one state root.
#[derive(Debug, Clone)]
pub struct Store<F = DiskFs> {
    pub(crate) fs: F,
    pub(crate) root: StateRoot,
}

impl Store<DiskFs> {
    /// A store on the real file system at `root`.
    pub fn open(root: impl Into<Utf8PathBuf>) -> Self {
        Self::with_fs(DiskFs, StateRoot::new(root))
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

    /// Replaces `run.json` atomically: a reader sees the old record or the new
    /// one, never a torn file; the old one stays if the write fails.
    pub fn persist_run_record(&self, record: &RunRecord) -> Result<(), StoreError> {
        let run = &record.run_id;
        self.refuse_linked_run_dir(run)?;
        let mut bytes =
            serde_json::to_vec_pretty(record).map_err(|e| StoreError::InvalidInput {
                message: format!("run {run} cannot be serialised: {e}"),
            })?;
        bytes.push(b'\n');
        self.fs
            .write_atomic(&self.root.run_json(run), &bytes)
            .map_err(StoreError::io(format!("writing {RUN_JSON} of run {run}")))
    }

    /// Creates the run's folder, failing if it exists: two runs can never
    /// share a folder, even when their ids collide. Returns `false` when the
    /// id is taken.
    pub fn claim_run(&self, run: &RunId) -> Result<bool, StoreError> {
        let what = || format!("creating the folder of run {run}");
        self.fs
            .create_dir_all(&self.root.runs_dir())
            .map_err(StoreError::io(what()))?;
        match self.fs.create_dir(&self.root.run_dir(run)) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(StoreError::io(what())(e)),
        }
    }

    /// Loads `run.json`. Unknown keys are ignored; a damaged file is
    /// [`StoreError::Corrupt`] naming the run and what is wrong.
    pub fn load_run_record(&self, run: &RunId) -> Result<RunRecord, StoreError> {
        self.existing_run_dir(run)?;
        let path = self.root.run_json(run);
        let corrupt = |message: String| StoreError::Corrupt {
            run: run.clone(),
            file: RUN_JSON.into(),
            message,
        };
        match self.fs.size(&path) {
            Ok(None) => return Err(StoreError::RunNotFound { run: run.clone() }),
            Ok(Some(n)) if n > MAX_RUN_JSON_BYTES => {
                return Err(corrupt(format!(
                    "{n} bytes is larger than the {MAX_RUN_JSON_BYTES} bytes accepted"
                )));
            }
            Ok(Some(_)) => {}
            Err(e) if e.kind() == std::io::ErrorKind::InvalidInput => {
                return Err(corrupt(without_path(&e, &path)));
            }
            Err(e) => {
                return Err(StoreError::io(format!("reading {RUN_JSON} of run {run}"))(
                    e,
                ));
            }
        }
        let bytes = self.fs.read(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => StoreError::RunNotFound { run: run.clone() },
            std::io::ErrorKind::InvalidInput => corrupt(without_path(&e, &path)),
            _ => StoreError::io(format!("reading {RUN_JSON} of run {run}"))(e),
        })?;
        let record: RunRecord =
            serde_json::from_slice(&bytes).map_err(|e| corrupt(e.to_string()))?;
        if &record.run_id != run {
            return Err(corrupt(format!("it records run {}", record.run_id)));
        }
        Ok(record)
    }

    /// The run folder, checked to exist and to be a real folder (not a link).
    pub(crate) fn existing_run_dir(&self, run: &RunId) -> Result<Utf8PathBuf, StoreError> {
        let dir = self.root.run_dir(run);
        match self.kind(&dir, run)? {
            Some(EntryKind::Dir) => Ok(dir),
            None => Err(StoreError::RunNotFound { run: run.clone() }),
            Some(_) => Err(StoreError::Corrupt {
                run: run.clone(),
                file: ".".into(),
                message: "the run folder is not a folder (symbolic links are never followed)"
                    .into(),
            }),
        }
    }

    /// The job folder, checked like [`Self::existing_run_dir`]; `None` if absent.
    pub(crate) fn existing_job_dir(
        &self,
        run: &RunId,
        job: &JobId,
    ) -> Result<Option<Utf8PathBuf>, StoreError> {
        self.existing_run_dir(run)?;
        for (dir, rel) in [
            (self.root.jobs_dir(run), JOBS_DIR.to_owned()),
            (self.root.job_dir(run, job), format!("{JOBS_DIR}/{job}")),
        ] {
            match self.kind(&dir, run)? {
                Some(EntryKind::Dir) => {}
                None => return Ok(None),
                Some(_) => {
                    return Err(StoreError::Corrupt {
                        run: run.clone(),
                        file: rel,
                        message: "not a folder (symbolic links are never followed)".into(),
                    });
                }
            }
        }
        Ok(Some(self.root.job_dir(run, job)))
    }

    fn refuse_linked_run_dir(&self, run: &RunId) -> Result<(), StoreError> {
        match self.kind(&self.root.run_dir(run), run)? {
            None | Some(EntryKind::Dir) => Ok(()),
            Some(_) => Err(StoreError::Corrupt {
                run: run.clone(),
                file: ".".into(),
                message: "the run folder is not a folder (symbolic links are never followed)"
                    .into(),
            }),
        }
    }

    fn kind(&self, path: &Utf8Path, run: &RunId) -> Result<Option<EntryKind>, StoreError> {
        self.fs
            .kind(path)
            .map_err(StoreError::io(format!("inspecting run {run}")))
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

impl<F: Fs> RunStore for Store<F> {
    type Error = StoreError;

    fn persist_run_record(&self, record: &RunRecord) -> Result<(), StoreError> {
        Store::persist_run_record(self, record)
    }

    fn open_job_log(
        &self,
        run: &RunId,
        job: &JobId,
        file: LogFile,
    ) -> Result<Box<dyn LogSink>, StoreError> {
        Store::open_job_log(self, run, job, file)
            .map(|w: JobLogWriter| Box::new(w) as Box<dyn LogSink>)
    }

    fn job_log_path(&self, run: &RunId, job: &JobId, file: LogFile) -> Utf8PathBuf {
        self.root.job_log(run, job, file)
    }

    fn snapshot_dir(&self, run: &RunId) -> Utf8PathBuf {
        self.root.snapshot_dir(run)
    }

    fn load_run_record(&self, run: &RunId) -> Result<RunRecord, StoreError> {
        Store::load_run_record(self, run)
    }

    fn claim_run(&self, run: &RunId) -> Result<bool, StoreError> {
        Store::claim_run(self, run)
    }
}
