//! Where jobs run relative to the source: the [`SnapshotPolicy`], and the
//! [`Snapshotter`] seam that does the blocking git and copy work, always on
//! tokio's blocking pool so no async worker waits on the disk or on git.

use std::io;
use std::sync::Arc;

use camino::{Utf8Path, Utf8PathBuf};

use super::source::{self, GitInfo};
use crate::ids::RunId;
use crate::pipeline::JobSpec;

/// Where jobs run relative to the source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SnapshotPolicy {
    /// Copy the source (tracked + untracked-not-ignored files) into the run's
    /// snapshot folder; read-only jobs share it (made read-only), writable
    /// jobs get a private copy. `exclude` keeps a folder inside the source
    /// (the state root) out; `keep` leaves the copies after the run.
    Copy {
        /// A folder inside the source to leave out.
        exclude: Option<Utf8PathBuf>,
        /// Keep the snapshot folders when the run ends.
        keep: bool,
        /// Where to make the snapshot (as `pikaci-snapshot-<run_id>`) when
        /// the state root cannot take it, so the jobs still run; `None`: the
        /// run then fails as infrastructure.
        fallback: Option<Utf8PathBuf>,
    },
    /// Run in the source folder itself (for executors that need no files, and tests).
    InPlace,
}

impl SnapshotPolicy {
    /// The snapshot folder a new run's record names: the state root's
    /// `primary` when copying, else the source itself.
    pub(crate) fn planned_dir(&self, primary: Utf8PathBuf, source: &Utf8Path) -> Utf8PathBuf {
        match self {
            Self::Copy { .. } => primary,
            Self::InPlace => source.to_owned(),
        }
    }

    /// Where a job that may change its workspace gets its private copy of
    /// `snapshot`; `None` when it shares the snapshot.
    pub(crate) fn private_dir(&self, snapshot: &Utf8Path, job: &JobSpec) -> Option<Utf8PathBuf> {
        (job.writable_workspace && matches!(self, Self::Copy { .. }))
            .then(|| snapshot.with_file_name(format!("workspace-{}", job.id)))
    }

    /// Whether the snapshot is removed when the run ends.
    pub(crate) fn removes_snapshot(&self) -> bool {
        matches!(self, Self::Copy { keep: false, .. })
    }
}

/// The blocking work on a run's source: git facts, copying trees, removing
/// them. The engine calls it only on tokio's blocking pool; tests replace it.
pub trait Snapshotter: Send + Sync + 'static {
    /// What git says about `source` (all empty outside a git checkout).
    fn git_info(&self, source: &Utf8Path) -> GitInfo;

    /// Copies `source`'s files (leaving out `exclude`) into `dest` and makes
    /// the copy read-only.
    fn snapshot(
        &self,
        source: &Utf8Path,
        dest: &Utf8Path,
        exclude: Option<&Utf8Path>,
    ) -> io::Result<()>;

    /// Copies a whole tree (a writable job's private copy of the snapshot).
    fn copy_tree(&self, from: &Utf8Path, to: &Utf8Path) -> io::Result<()>;

    /// Removes a tree, read-only or not; a missing one is not an error.
    fn remove_tree(&self, dir: &Utf8Path) -> io::Result<()>;
}

/// The real [`Snapshotter`]: `git` and the local disk.
#[derive(Debug, Clone, Copy, Default)]
pub struct DiskSnapshotter;

impl Snapshotter for DiskSnapshotter {
    fn git_info(&self, source: &Utf8Path) -> GitInfo {
        source::git_info(source)
    }

    fn snapshot(
        &self,
        source: &Utf8Path,
        dest: &Utf8Path,
        exclude: Option<&Utf8Path>,
    ) -> io::Result<()> {
        let files = source::snapshot_files(source)?;
        source::copy_snapshot(source, &files, dest, exclude)?;
        source::make_read_only(dest)
    }

    fn copy_tree(&self, from: &Utf8Path, to: &Utf8Path) -> io::Result<()> {
        source::copy_tree(from, to).map(drop)
    }

    fn remove_tree(&self, dir: &Utf8Path) -> io::Result<()> {
        source::remove_tree(dir)
    }
}

/// A [`Snapshotter`] whose every call runs on the blocking pool.
#[derive(Clone)]
pub(crate) struct OffWorker(pub(crate) Arc<dyn Snapshotter>);

impl OffWorker {
    async fn call<T: Send + 'static>(
        &self,
        work: impl FnOnce(&dyn Snapshotter) -> io::Result<T> + Send + 'static,
    ) -> io::Result<T> {
        let tree = Arc::clone(&self.0);
        tokio::task::spawn_blocking(move || work(tree.as_ref()))
            .await
            .map_err(io::Error::other)?
    }

    pub(crate) async fn git_info(&self, source: &Utf8Path) -> GitInfo {
        let source = source.to_owned();
        self.call(move |t| Ok(t.git_info(&source)))
            .await
            .unwrap_or_default()
    }

    pub(crate) async fn copy_tree(&self, from: &Utf8Path, to: &Utf8Path) -> io::Result<()> {
        let (from, to) = (from.to_owned(), to.to_owned());
        self.call(move |t| t.copy_tree(&from, &to)).await
    }

    pub(crate) async fn remove_tree(&self, dir: &Utf8Path) -> io::Result<()> {
        let dir = dir.to_owned();
        self.call(move |t| t.remove_tree(&dir)).await
    }

    /// Makes the run's snapshot as `policy` says: in `primary`, or, when that
    /// fails, in the policy's fallback folder. Returns the folder the jobs
    /// run in; the error is the first failure.
    pub(crate) async fn prepare(
        &self,
        policy: &SnapshotPolicy,
        run_id: &RunId,
        primary: Utf8PathBuf,
        source: &Utf8Path,
    ) -> io::Result<Utf8PathBuf> {
        let SnapshotPolicy::Copy {
            exclude, fallback, ..
        } = policy
        else {
            return Ok(source.to_owned());
        };
        let copy = |dest: Utf8PathBuf| {
            let (source, exclude) = (source.to_owned(), exclude.clone());
            async move {
                let d = dest.clone();
                self.call(move |t| t.snapshot(&source, &d, exclude.as_deref()))
                    .await
                    .map(|()| dest)
            }
        };
        match copy(primary.clone()).await {
            Ok(dir) => Ok(dir),
            Err(first) => {
                // The state root may be unwritable; the jobs can still run
                // from a snapshot in the fallback folder.
                let _ = self.remove_tree(&primary).await;
                match fallback {
                    Some(folder) => copy(folder.join(format!("pikaci-snapshot-{run_id}")))
                        .await
                        .map_err(|_| first),
                    None => Err(first),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    /// Records calls; snapshots into folders under `/broken` fail.
    #[derive(Default)]
    struct Fake(Mutex<Vec<String>>);

    impl Snapshotter for Fake {
        fn git_info(&self, source: &Utf8Path) -> GitInfo {
            self.0.lock().unwrap().push(format!("git {source}"));
            GitInfo::default()
        }
        fn snapshot(&self, s: &Utf8Path, d: &Utf8Path, ex: Option<&Utf8Path>) -> io::Result<()> {
            self.0
                .lock()
                .unwrap()
                .push(format!("snapshot {s} {d} {ex:?}"));
            if d.starts_with("/broken") {
                Err(io::Error::new(
                    io::ErrorKind::ReadOnlyFilesystem,
                    "read-only",
                ))
            } else {
                Ok(())
            }
        }
        fn copy_tree(&self, from: &Utf8Path, to: &Utf8Path) -> io::Result<()> {
            self.0.lock().unwrap().push(format!("copy {from} {to}"));
            Ok(())
        }
        fn remove_tree(&self, dir: &Utf8Path) -> io::Result<()> {
            self.0.lock().unwrap().push(format!("remove {dir}"));
            Ok(())
        }
    }

    fn copy(fallback: Option<&str>) -> SnapshotPolicy {
        SnapshotPolicy::Copy {
            exclude: Some("/src/.pikaci".into()),
            keep: false,
            fallback: fallback.map(Utf8PathBuf::from),
        }
    }

    fn run_id() -> RunId {
        "20260324T161238Z-1a2b3c4d".parse().unwrap()
    }

    async fn prepare(
        policy: &SnapshotPolicy,
        primary: &str,
    ) -> (io::Result<Utf8PathBuf>, Vec<String>) {
        let fake = Arc::new(Fake::default());
        let tree = OffWorker(fake.clone());
        let got = tree
            .prepare(policy, &run_id(), primary.into(), Utf8Path::new("/src"))
            .await;
        let calls = fake.0.lock().unwrap().clone();
        (got, calls)
    }

    #[tokio::test]
    async fn the_snapshot_goes_to_the_state_root() {
        let (got, calls) = prepare(&copy(Some("/tmp")), "/state/snap").await;
        assert_eq!(got.unwrap(), "/state/snap");
        assert_eq!(calls, ["snapshot /src /state/snap Some(\"/src/.pikaci\")"]);
    }

    #[tokio::test]
    async fn an_unwritable_state_root_falls_back_to_the_folder_given() {
        let (got, calls) = prepare(&copy(Some("/tmp")), "/broken/snap").await;
        assert_eq!(
            got.unwrap(),
            "/tmp/pikaci-snapshot-20260324T161238Z-1a2b3c4d"
        );
        assert_eq!(calls[1], "remove /broken/snap");
        assert_eq!(calls.len(), 3);
    }

    #[tokio::test]
    async fn without_a_fallback_or_when_it_fails_too_the_first_error_is_kept() {
        let (got, calls) = prepare(&copy(None), "/broken/snap").await;
        assert_eq!(got.unwrap_err().kind(), io::ErrorKind::ReadOnlyFilesystem);
        assert_eq!(calls.len(), 2);
        let (got, _) = prepare(&copy(Some("/broken/tmp")), "/broken/snap").await;
        assert!(got.is_err());
    }

    #[tokio::test]
    async fn in_place_touches_nothing() {
        let (got, calls) = prepare(&SnapshotPolicy::InPlace, "/state/snap").await;
        assert_eq!(got.unwrap(), "/src");
        assert!(calls.is_empty());
        assert_eq!(
            SnapshotPolicy::InPlace.planned_dir("/state/snap".into(), Utf8Path::new("/src")),
            "/src"
        );
    }

    #[test]
    fn only_writable_jobs_of_a_copied_snapshot_get_a_private_copy() {
        let mut job = crate::pipeline::Pipeline::parse(
            "[[job]]\nid = \"w\"\ncommand = \"x\"\nwritable_workspace = true\n",
            Utf8Path::new("pikaci.toml"),
        )
        .unwrap()
        .jobs
        .remove(0);
        let snap = Utf8Path::new("/state/runs/r/snapshot");
        assert_eq!(
            copy(None).private_dir(snap, &job).unwrap(),
            "/state/runs/r/workspace-w"
        );
        assert_eq!(SnapshotPolicy::InPlace.private_dir(snap, &job), None);
        job.writable_workspace = false;
        assert_eq!(copy(None).private_dir(snap, &job), None);
        assert!(copy(None).removes_snapshot());
        assert!(!SnapshotPolicy::InPlace.removes_snapshot());
    }
}
