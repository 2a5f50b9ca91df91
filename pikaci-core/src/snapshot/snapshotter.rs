//! Where jobs run relative to the source: the [`SnapshotPolicy`], and the
//! [`Snapshotter`] seam that does the blocking git and copy work, always on
//! tokio's blocking pool so no async worker waits on the disk or on git.

use std::io;
use std::sync::Arc;

use camino::{Utf8Path, Utf8PathBuf};

use super::kept_disk;
use super::source::{self, GitInfo};
use crate::ids::RunId;
use crate::pipeline::JobSpec;
use crate::snapshot::kept::{KeptLayout, PendingObjects};

/// Where jobs run relative to the source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SnapshotPolicy {
    /// Copy the source (tracked + untracked-not-ignored files) into the run's
    /// snapshot folder; read-only jobs share it (made read-only), writable
    /// jobs get a private copy. `exclude` keeps a folder inside the source
    /// (the state root) out; `keep` keeps the snapshot for reruns (gc deletes
    /// it with the run): as a manifest of shared objects where the store
    /// gives a [`KeptLayout`] (the folder is then removed when the run
    /// ends), else as the folder itself.
    Copy {
        /// A folder inside the source to leave out.
        exclude: Option<Utf8PathBuf>,
        /// Keep the run's snapshot when the run ends, so the run can be
        /// rerun on the same bytes. A snapshot made in the fallback folder is
        /// never kept (nothing there would ever delete it).
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
}

/// The folder a run's jobs run in, and whose it is: that decides where a
/// writable job's private copy goes and whether the folder is removed when
/// the run ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Workspace {
    /// The source folder itself ([`SnapshotPolicy::InPlace`]).
    Source(Utf8PathBuf),
    /// The run's own snapshot, in its run folder.
    Own(Utf8PathBuf),
    /// The run's own snapshot, in its run folder, whose bytes are kept
    /// elsewhere (a manifest and the shared objects): the folder itself is
    /// removed when the run ends.
    Made(Utf8PathBuf),
    /// The run's own snapshot, in the fallback folder.
    Fallback(Utf8PathBuf),
    /// An earlier run's kept snapshot (a rerun): shared read-only, never
    /// changed or removed by this run.
    Kept {
        /// The earlier run's snapshot folder.
        dir: Utf8PathBuf,
        /// This run's folder, where its writable jobs' private copies go.
        run_folder: Utf8PathBuf,
    },
}

impl Workspace {
    /// The folder.
    pub(crate) fn dir(&self) -> &Utf8Path {
        match self {
            Self::Source(d)
            | Self::Own(d)
            | Self::Made(d)
            | Self::Fallback(d)
            | Self::Kept { dir: d, .. } => d,
        }
    }

    /// Where a job that may change its workspace gets its private copy;
    /// `None` when it shares the workspace. The copy is always this run's:
    /// `workspace-<job>` in its run folder, or beside a fallback snapshot;
    /// never beside another run's snapshot.
    pub(crate) fn private_dir(&self, job: &JobSpec) -> Option<Utf8PathBuf> {
        if !job.writable_workspace {
            return None;
        }
        let name = format!("workspace-{}", job.id);
        match self {
            Self::Source(_) => None,
            Self::Own(dir) | Self::Made(dir) => Some(dir.with_file_name(name)),
            Self::Kept { run_folder, .. } => Some(run_folder.join(name)),
            Self::Fallback(dir) => {
                let name = dir.file_name().unwrap_or("pikaci-snapshot");
                Some(dir.with_file_name(format!("{name}-workspace-{}", job.id)))
            }
        }
    }

    /// Whether the folder is removed when the run ends: the run's own
    /// snapshot unless the policy keeps it; one in the fallback folder always.
    pub(crate) fn removed_at_end(&self, policy: &SnapshotPolicy) -> bool {
        match self {
            Self::Own(_) => matches!(policy, SnapshotPolicy::Copy { keep: false, .. }),
            Self::Fallback(_) | Self::Made(_) => true,
            Self::Source(_) | Self::Kept { .. } => false,
        }
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

    /// Copies `source`'s files into `dest` as [`snapshot`](Self::snapshot)
    /// does, and keeps them for reruns as `kept` says: the manifest goes to
    /// the run's folder now; the bytes not stored yet are returned, for the
    /// engine to store into the shared objects folder while the jobs run
    /// (and before it removes `dest`). By default a plain snapshot that
    /// keeps nothing.
    fn snapshot_kept(
        &self,
        source: &Utf8Path,
        dest: &Utf8Path,
        exclude: Option<&Utf8Path>,
        kept: &KeptLayout,
    ) -> io::Result<PendingObjects> {
        let _ = kept;
        self.snapshot(source, dest, exclude)
            .map(|()| PendingObjects::none())
    }

    /// Makes the snapshot `kept` describes again in `dest` (read-only),
    /// exactly its bytes, or fails.
    fn materialize(&self, kept: &KeptLayout, dest: &Utf8Path) -> io::Result<()> {
        let _ = (kept, dest);
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "this snapshotter keeps no snapshots",
        ))
    }

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

    fn snapshot_kept(
        &self,
        source: &Utf8Path,
        dest: &Utf8Path,
        exclude: Option<&Utf8Path>,
        kept: &KeptLayout,
    ) -> io::Result<PendingObjects> {
        kept_disk::snapshot_kept(source, dest, exclude, kept)
    }

    fn materialize(&self, kept: &KeptLayout, dest: &Utf8Path) -> io::Result<()> {
        kept_disk::materialize(kept, dest)
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

    /// Makes a kept snapshot again in `dest` (a rerun's own folder).
    pub(crate) async fn materialize(
        &self,
        kept: &KeptLayout,
        dest: &Utf8Path,
    ) -> io::Result<Workspace> {
        let (kept, d) = (kept.clone(), dest.to_owned());
        self.call(move |t| t.materialize(&kept, &d)).await?;
        Ok(Workspace::Made(dest.to_owned()))
    }

    /// Makes the run's snapshot as `policy` says: in `primary` (kept as
    /// `kept` says when the policy keeps snapshots and the store can keep
    /// them), or, when that fails, in the policy's fallback folder. Returns
    /// the folder the jobs run in and the objects still to store; the error
    /// is the first failure.
    pub(crate) async fn prepare(
        &self,
        policy: &SnapshotPolicy,
        run_id: &RunId,
        primary: Utf8PathBuf,
        kept: Option<KeptLayout>,
        source: &Utf8Path,
    ) -> io::Result<(Workspace, PendingObjects)> {
        let SnapshotPolicy::Copy {
            exclude,
            fallback,
            keep,
        } = policy
        else {
            return Ok((Workspace::Source(source.to_owned()), PendingObjects::none()));
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
        let first = match kept.filter(|_| *keep) {
            Some(kept) => {
                let (source, exclude, d) = (source.to_owned(), exclude.clone(), primary.clone());
                self.call(move |t| t.snapshot_kept(&source, &d, exclude.as_deref(), &kept))
                    .await
                    .map(|pending| (Workspace::Made(primary.clone()), pending))
            }
            None => copy(primary.clone())
                .await
                .map(|dir| (Workspace::Own(dir), PendingObjects::none())),
        };
        match first {
            Ok(made) => Ok(made),
            Err(first) => {
                // The state root may be unwritable; the jobs can still run
                // from a snapshot in the fallback folder.
                let _ = self.remove_tree(&primary).await;
                match fallback {
                    Some(folder) => copy(folder.join(format!("pikaci-snapshot-{run_id}")))
                        .await
                        .map(|dir| (Workspace::Fallback(dir), PendingObjects::none()))
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
    ) -> (io::Result<Workspace>, Vec<String>) {
        let fake = Arc::new(Fake::default());
        let tree = OffWorker(fake.clone());
        let got = tree
            .prepare(
                policy,
                &run_id(),
                primary.into(),
                None,
                Utf8Path::new("/src"),
            )
            .await
            .map(|(ws, pending)| {
                assert!(pending.is_empty(), "nothing kept, nothing to store");
                ws
            });
        let calls = fake.0.lock().unwrap().clone();
        (got, calls)
    }

    #[tokio::test]
    async fn the_snapshot_goes_to_the_state_root() {
        let (got, calls) = prepare(&copy(Some("/tmp")), "/state/snap").await;
        assert_eq!(got.unwrap(), Workspace::Own("/state/snap".into()));
        assert_eq!(calls, ["snapshot /src /state/snap Some(\"/src/.pikaci\")"]);
    }

    #[tokio::test]
    async fn an_unwritable_state_root_falls_back_to_the_folder_given() {
        let (got, calls) = prepare(&copy(Some("/tmp")), "/broken/snap").await;
        assert_eq!(
            got.unwrap(),
            Workspace::Fallback("/tmp/pikaci-snapshot-20260324T161238Z-1a2b3c4d".into())
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
        assert_eq!(got.unwrap(), Workspace::Source("/src".into()));
        assert!(calls.is_empty());
    }

    #[test]
    fn private_copies_are_always_the_runs_own() {
        let mut job = JobSpec {
            writable_workspace: true,
            ..JobSpec::for_test("w", "x")
        };
        let own = Workspace::Own("/state/runs/r/snapshot".into());
        assert_eq!(own.private_dir(&job).unwrap(), "/state/runs/r/workspace-w");
        // A rerun's copy of the kept snapshot goes into the rerun's folder.
        let kept = Workspace::Kept {
            dir: "/state/runs/original/snapshot".into(),
            run_folder: "/state/runs/r".into(),
        };
        assert_eq!(kept.private_dir(&job).unwrap(), "/state/runs/r/workspace-w");
        let fallback = Workspace::Fallback("/tmp/pikaci-snapshot-r".into());
        assert_eq!(
            fallback.private_dir(&job).unwrap(),
            "/tmp/pikaci-snapshot-r-workspace-w"
        );
        assert_eq!(Workspace::Source("/src".into()).private_dir(&job), None);
        job.writable_workspace = false;
        assert_eq!(own.private_dir(&job), None);
    }

    #[test]
    fn only_the_runs_own_snapshots_are_removed_and_a_kept_one_only_in_the_fallback() {
        let keep = |keep| SnapshotPolicy::Copy {
            exclude: None,
            keep,
            fallback: None,
        };
        let own = Workspace::Own("/s".into());
        assert!(own.removed_at_end(&keep(false)));
        assert!(!own.removed_at_end(&keep(true)));
        assert!(Workspace::Fallback("/t".into()).removed_at_end(&keep(true)));
        let kept = Workspace::Kept {
            dir: "/k".into(),
            run_folder: "/r".into(),
        };
        assert!(!kept.removed_at_end(&keep(false)));
        assert!(!Workspace::Source("/src".into()).removed_at_end(&keep(false)));
        assert_eq!(
            SnapshotPolicy::InPlace.planned_dir("/state/snap".into(), Utf8Path::new("/src")),
            "/src"
        );
    }
}
