//! Run records as the server reads them: from the
//! [`RecordCache`](super::record_cache::RecordCache) where it still stands,
//! else from the store (a usual record at once, a large one under a
//! heavy-read permit, up to [`MAX_SERVED_RECORD_BYTES`]), with a run whose
//! pikaci died reported as interrupted and no server path left in it.

use std::sync::Arc;

use pikaci_core::{PreparedOutputs, RunId, RunLogsMetadata, RunRecord};
use pikaci_store::{BoundedRecord, RunDir, StoreError};

use super::ReadFs;
use super::error::ReadError;
use super::heavy::HeavyPermit;
use super::model::{Fresh, Reads, blocking};
use super::record_cache::Cached;

/// Records up to this size are read without a heavy-read permit.
const SMALL_RECORD_BYTES: u64 = 256 * 1024;
/// The largest `run.json` this server reads (a run of thousands of jobs);
/// a larger one is refused (a 500 that says so) without reading it.
pub const MAX_SERVED_RECORD_BYTES: u64 = 4 * 1024 * 1024;

/// A run's record as one request read it.
pub(crate) struct RunRead<F> {
    /// The record, parsed and serialized.
    pub(crate) cached: Cached,
    /// The run folder, when this request checked it (not for a record
    /// found under a watch, which costs no file system call): whoever goes
    /// on to the run's logs starts from it instead of checking it again.
    pub(crate) dir: Option<RunDir<F>>,
    /// The permit a large record was read under, to hold until it is sent.
    pub(crate) permit: Option<HeavyPermit>,
}

/// What the first look at a run found.
enum Cold<F> {
    /// The record, cached or read now.
    Read(Cached, RunDir<F>),
    /// A record too large to read without a permit.
    Large {
        dir: RunDir<F>,
        identity: Option<pikaci_store::FileIdentity>,
        watched: bool,
    },
}

impl<F: ReadFs> Reads<F> {
    /// A record whose pikaci died reads as interrupted. In memory only: the
    /// server never writes to the state root, which lanes can write. Then
    /// its paths become names: what is cached and served names no server
    /// folder.
    fn reconcile(&self, mut record: RunRecord) -> RunRecord {
        if self.orphaned(&record) {
            record.mark_interrupted(self.clock.now());
        }
        self.paths.record(record)
    }

    /// Whether `record` says `running` but its pikaci is gone: by the run
    /// folder's lock when the record says its owner took it (a brief try),
    /// else by its pid.
    pub(super) fn orphaned(&self, record: &RunRecord) -> bool {
        self.store.is_orphaned(record, self.liveness.as_ref())
    }

    /// A cached record whose run folder is watched, if this request's look
    /// at the disk (`fresh`) left it there: no file system call at all. A
    /// record that says `running` is checked for a dead owner.
    pub(super) fn watched_hit(&self, run: &RunId, fresh: Fresh) -> Option<Cached> {
        if !fresh.watching() {
            return None;
        }
        let hit = self.records.get_watched(run)?;
        (!self.orphaned(&hit.record)).then_some(hit)
    }

    /// The record of `dir` if it is at most `SMALL_RECORD_BYTES`, reconciled.
    fn read_small(&self, dir: &RunDir<F>) -> Result<Option<RunRecord>, StoreError> {
        Ok(match dir.record_within(SMALL_RECORD_BYTES)? {
            BoundedRecord::Loaded(r) => Some(self.reconcile(*r)),
            BoundedRecord::TooLarge { .. } => None,
        })
    }

    /// The record of `dir`, however large up to [`MAX_SERVED_RECORD_BYTES`],
    /// under a heavy-read permit.
    async fn read_large(&self, dir: RunDir<F>) -> Result<(RunRecord, HeavyPermit), ReadError> {
        let permit = self.heavy.acquire().await?;
        let (reads, d) = (self.clone(), dir.clone());
        let read = blocking(move || {
            Ok::<_, StoreError>(match d.record_within(MAX_SERVED_RECORD_BYTES)? {
                BoundedRecord::Loaded(r) => Ok(reads.reconcile(*r)),
                BoundedRecord::TooLarge { size } => Err(size),
            })
        })
        .await??;
        match read {
            Ok(record) => Ok((record, permit)),
            Err(size) => Err(ReadError::RecordTooLarge {
                run: dir.id().clone(),
                size,
                max: MAX_SERVED_RECORD_BYTES,
            }),
        }
    }

    /// The reconciled record of `run`, from the cache when it still stands
    /// (its folder watched and no event about it since, or else `run.json`
    /// with the identity it was read at), else read and kept (its folder
    /// watched first, so no later change goes unseen). `fresh` is what this
    /// request's access check saw of the disk. The run folder is checked
    /// once, in the same hop to the blocking pool as the record's identity
    /// and (on a miss) its read. A cached record is the very content read
    /// through every check before (a run folder replaced by a link is
    /// another folder, with another `run.json`).
    pub(crate) async fn record(&self, run: RunId, fresh: Fresh) -> Result<RunRead<F>, ReadError> {
        if let Some(cached) = self.watched_hit(&run, fresh) {
            return Ok(RunRead {
                cached,
                dir: None,
                permit: None,
            });
        }
        let reads = self.clone();
        let cold = blocking(move || {
            let watched = fresh.watching() && reads.watch_run(&run);
            let dir = reads.store.run(&run)?;
            // Unknown (an error, a file system without identities): read.
            let identity = dir.record_identity().ok().flatten();
            let hit = identity
                .as_ref()
                .and_then(|id| reads.records.get(&run, id))
                .filter(|h| !reads.orphaned(&h.record));
            if let Some(hit) = hit {
                return Ok(Cold::Read(hit, dir));
            }
            Ok::<_, StoreError>(match reads.read_small(&dir)? {
                Some(record) => {
                    let cached = reads
                        .records
                        .put(&run, identity, watched, record, || reads.unwatch(false));
                    Cold::Read(cached, dir)
                }
                None => Cold::Large {
                    dir,
                    identity,
                    watched,
                },
            })
        })
        .await??;
        match cold {
            Cold::Read(cached, dir) => Ok(RunRead {
                cached,
                dir: Some(dir),
                permit: None,
            }),
            Cold::Large {
                dir,
                identity,
                watched,
            } => {
                let (record, permit) = self.read_large(dir.clone()).await?;
                let cached = self
                    .records
                    .put(dir.id(), identity, watched, record, || self.unwatch(false));
                Ok(RunRead {
                    cached,
                    dir: Some(dir),
                    permit: Some(permit),
                })
            }
        }
    }

    /// The run's `prepared-outputs.json`, read through the store's bounded,
    /// no-follow path on the blocking pool; `None` when it has none.
    pub(crate) async fn prepared_outputs(
        &self,
        run: RunId,
    ) -> Result<Option<PreparedOutputs>, ReadError> {
        let store = self.store.clone();
        Ok(blocking(move || store.run(&run)?.prepared_outputs()).await??)
    }

    /// The reconciled record of `run`, looking at the disk's changes first
    /// (for a caller that did not).
    pub(crate) async fn run_record(&self, run: RunId) -> Result<Arc<RunRecord>, ReadError> {
        Ok(self.record(run, self.fresh()).await?.cached.record)
    }

    /// A run's record and its logs' metadata from the same (reconciled)
    /// record, so both report one status, read from the disk now; with the
    /// permit a large record was read under.
    pub(crate) async fn record_with_log_metadata(
        &self,
        run: RunId,
    ) -> Result<(RunRecord, RunLogsMetadata, Option<HeavyPermit>), ReadError> {
        let reads = self.clone();
        let (dir, small) = blocking(move || {
            let dir = reads.store.run(&run)?;
            let small = reads.read_small(&dir)?;
            Ok::<_, StoreError>((dir, small))
        })
        .await??;
        let (record, permit) = match small {
            Some(record) => (record, None),
            None => {
                let (record, permit) = self.read_large(dir.clone()).await?;
                (record, Some(permit))
            }
        };
        let (record, meta) = blocking(move || {
            let meta = dir.logs_metadata(&record);
            (record, meta)
        })
        .await?;
        let meta = self.paths.logs_metadata(meta?);
        Ok((record, meta, permit))
    }
}

#[cfg(test)]
mod tests {
    use jiff::Timestamp;
    use pikaci_core::{Liveness, RunOwner, RunStatus};
    use pikaci_store::{MemFs, StateRoot, Store};

    use super::*;

    /// No process on host `h` is alive.
    struct NobodyAlive;
    impl Liveness for NobodyAlive {
        fn this_host(&self) -> &str {
            "h"
        }
        fn is_alive(&self, _: u32) -> bool {
            false
        }
    }

    struct Fixed(Timestamp);
    impl pikaci_core::Clock for Fixed {
        fn now(&self) -> Timestamp {
            self.0
        }
    }

    fn running_record(store: &Store<MemFs>) -> RunRecord {
        let mut record = RunRecord::for_test("20260324T161238Z-1a2b3c4d");
        record.status = RunStatus::Running;
        record.finished_at = None;
        record.owner = Some(RunOwner {
            pid: 4242,
            host: "h".into(),
            start_ticks: None,
            lock: false,
        });
        store.persist_run_record(&record).unwrap();
        record
    }

    #[tokio::test]
    async fn over_memory_a_dead_owners_run_is_interrupted_at_the_models_clock() {
        let store = Store::with_fs(MemFs::new(), StateRoot::new("/srv/state"));
        let record = running_record(&store);
        let at: Timestamp = "2030-01-02T03:04:05Z".parse().unwrap();
        let reads = Reads::over(store.clone())
            .with_liveness(Arc::new(NobodyAlive))
            .with_clock(Arc::new(Fixed(at)));
        let read = reads
            .record(record.run_id.clone(), reads.fresh())
            .await
            .unwrap();
        let served = &read.cached.record;
        assert_eq!(served.status, RunStatus::Failed);
        assert_eq!(served.finished_at, Some(at), "dated by the model's clock");
        assert_eq!(read.cached.json, serde_json::to_vec(&**served).unwrap());
        assert_eq!(served.source_root, "src", "no server path is served");
        assert_eq!(
            read.dir.as_ref().map(|d| d.id()),
            Some(&record.run_id),
            "the run folder checked is handed on"
        );
        // In memory only: the record on disk still says running.
        assert_eq!(
            store.load_run_record(&record.run_id).unwrap().status,
            RunStatus::Running
        );
    }

    #[tokio::test]
    async fn over_memory_a_missing_run_or_job_is_the_stores_not_found() {
        let store = Store::with_fs(MemFs::new(), StateRoot::new("/srv/state"));
        let record = running_record(&store);
        let reads = Reads::over(store);
        let other: RunId = "20260324T161238Z-00000000".parse().unwrap();
        let e = reads.run_record(other).await.unwrap_err();
        assert!(
            matches!(e, ReadError::Store(StoreError::RunNotFound { .. })),
            "{e:?}"
        );
        let e = reads
            .job_logs(
                reads.fresh(),
                record.run_id.clone(),
                Some("nope".parse().unwrap()),
                pikaci_core::LogKind::Both,
                pikaci_store::LogRange::Tail(10),
            )
            .await
            .err()
            .unwrap();
        assert!(
            matches!(e, ReadError::Store(StoreError::JobNotFound { .. })),
            "{e:?}"
        );
    }
}
