//! Run records as the API reads them: through the
//! [`RecordCache`](super::record_cache::RecordCache) where it still stands,
//! else from the store (a usual record at once, a large one under a
//! heavy-read permit, up to [`MAX_SERVED_RECORD_BYTES`]), with a run whose
//! pikaci died reported as interrupted.

use std::sync::Arc;

use pikaci_core::{RunId, RunLogsMetadata, RunRecord};
use pikaci_store::{BoundedRecord, FileIdentity, Fs as _, RunDir, StoreError};

use super::answer_paths::ServerPaths;
use super::heavy::HeavyPermit;
use super::record_cache::Cached;
use crate::error::ApiError;
use crate::state::{AppState, Fresh};

/// Records up to this size are read without a heavy-read permit.
const SMALL_RECORD_BYTES: u64 = 256 * 1024;
/// The largest `run.json` this server reads (a run of thousands of jobs);
/// a larger one is answered with a 500 that says so, without reading it.
pub const MAX_SERVED_RECORD_BYTES: u64 = 4 * 1024 * 1024;

/// Runs `f` on the blocking pool: every read of the state root goes there,
/// never on a runtime worker (a branch's CI code writes those files).
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::Internal(format!("a read task failed: {e}")))
}

/// A run's reconciled record, the run folder it came from, and the permit
/// it was read under (a large record).
pub(crate) struct LoadedRun {
    pub(crate) record: RunRecord,
    pub(crate) dir: RunDir,
    pub(crate) permit: Option<HeavyPermit>,
}

/// A record whose pikaci died reads as interrupted. In memory only: the
/// server never writes to the state root, which lanes can write. Then its
/// paths become names ([`ServerPaths::record`]): what is cached and served
/// names no server folder.
fn reconcile(state: &AppState, mut record: RunRecord) -> RunRecord {
    if orphaned(state, &record) {
        record.mark_interrupted(jiff::Timestamp::now());
    }
    server_paths(state).record(record)
}

/// The server folders no answer names.
fn server_paths(state: &AppState) -> ServerPaths {
    ServerPaths {
        state_root: state.store.root().path().to_owned(),
        data_dir: state.data_dir.as_ref().map(|d| d.root().to_owned()),
    }
}

/// Whether `record` says `running` but its pikaci is gone: by the run
/// folder's lock when the record says its owner took it (a brief try, on
/// the blocking pool where the caller is), else by its pid.
pub(crate) fn orphaned(state: &AppState, record: &RunRecord) -> bool {
    state.store.is_orphaned(record, state.liveness.as_ref())
}

/// Loads a run, reporting a run whose pikaci died as interrupted.
pub(crate) async fn load_run(state: &AppState, run: RunId) -> Result<Arc<RunRecord>, ApiError> {
    Ok(load_cached_record(state, run, None).await?.0.record)
}

/// Loads a run: a usual record (a few KiB) at once; a large one under a
/// heavy-read permit, up to [`MAX_SERVED_RECORD_BYTES`].
pub(crate) async fn load(state: &AppState, run: RunId) -> Result<LoadedRun, ApiError> {
    let (store, st) = (state.store.clone(), state.clone());
    let (dir, first) = blocking(move || {
        let dir = store.run(&run)?;
        let first = match dir.record_within(SMALL_RECORD_BYTES)? {
            BoundedRecord::Loaded(r) => Some(reconcile(&st, *r)),
            BoundedRecord::TooLarge { .. } => None,
        };
        Ok::<_, StoreError>((dir, first))
    })
    .await??;
    if let Some(record) = first {
        return Ok(LoadedRun {
            record,
            dir,
            permit: None,
        });
    }
    let permit = state.heavy.acquire().await?;
    let (d, st) = (dir.clone(), state.clone());
    let read = blocking(move || {
        Ok::<_, StoreError>(match d.record_within(MAX_SERVED_RECORD_BYTES)? {
            BoundedRecord::Loaded(r) => Ok(reconcile(&st, *r)),
            BoundedRecord::TooLarge { size } => Err(size),
        })
    })
    .await??;
    match read {
        Ok(record) => Ok(LoadedRun {
            record,
            dir,
            permit: Some(permit),
        }),
        Err(size) => Err(ApiError::Internal(format!(
            "the record of run {} is {size} bytes, more than the {MAX_SERVED_RECORD_BYTES} bytes this server reads; `pikaci status {}` on the CI host shows it",
            dir.id(),
            dir.id()
        ))),
    }
}

/// Loads a run and its logs' metadata from the same (reconciled) record, so
/// both report one status; with the permit a large record was read under.
pub(crate) async fn load_run_with_log_metadata(
    state: &AppState,
    run: RunId,
) -> Result<(RunRecord, RunLogsMetadata, Option<HeavyPermit>), ApiError> {
    let loaded = load(state, run).await?;
    let (record, dir) = (loaded.record, loaded.dir);
    let (record, meta) = blocking(move || {
        let meta = dir.logs_metadata(&record);
        (record, meta)
    })
    .await?;
    let meta = server_paths(state).logs_metadata(meta?);
    Ok((record, meta, loaded.permit))
}

/// The identity of a run's `run.json` now (one `lstat`: blocking pool), if
/// it has one.
fn record_identity(state: &AppState, run: &RunId) -> Option<FileIdentity> {
    state
        .store
        .fs()
        .identity(&state.store.root().run_json(run))
        .ok()
        .flatten()
}

/// A cached record whose run folder is watched, if this request's look at
/// the disk (`fresh`) left it there: no file system call at all. A record
/// that says `running` is checked for a dead owner (a try of its folder's
/// lock, or a look at its pid for an older record).
pub(crate) fn watched_hit(state: &AppState, run: &RunId, fresh: Fresh) -> Option<Cached> {
    if !fresh.watching() {
        return None;
    }
    let hit = state.records.get_watched(run)?;
    (!orphaned(state, &hit.record)).then_some(hit)
}

/// The reconciled record of a run, from the
/// [`RecordCache`](super::record_cache::RecordCache) when it still stands
/// (its folder watched and no event about it since, or else `run.json` with
/// the identity it was read at), else read as [`load`] reads it (after the
/// folder is watched, so no later change goes unseen) and kept. With the
/// permit a large record was read under. `fresh` is what this request's
/// access check saw of the disk (`None`: look now). A cached record is the
/// very content read through every check before (a run folder replaced by
/// a link is another folder, with another `run.json`).
pub(crate) async fn load_cached_record(
    state: &AppState,
    run: RunId,
    fresh: Option<Fresh>,
) -> Result<(Cached, Option<HeavyPermit>), ApiError> {
    let fresh = fresh.unwrap_or_else(|| state.fresh());
    if let Some(hit) = watched_hit(state, &run, fresh) {
        return Ok((hit, None));
    }
    let (st, r) = (state.clone(), run.clone());
    let (watched, identity, hit) = blocking(move || {
        let watched = fresh.watching() && st.watch_run(&r);
        let identity = record_identity(&st, &r);
        let hit = identity
            .as_ref()
            .and_then(|id| st.records.get(&r, id))
            .filter(|h| !orphaned(&st, &h.record));
        (watched, identity, hit)
    })
    .await?;
    if let Some(hit) = hit {
        return Ok((hit, None));
    }
    let loaded = load(state, run.clone()).await?;
    let cached = state
        .records
        .put(&run, identity, watched, loaded.record, || {
            state.unwatch(false)
        });
    Ok((cached, loaded.permit))
}
