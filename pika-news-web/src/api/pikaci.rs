//! `/news/api/forge/pikaci/...`: a pikaci run's record and logs.
//!
//! Every read goes through the store's handles: the run folder is checked once
//! (`Store::run`), then the record, the job (`RunDir::job`, the default-job
//! rule) and its logs (`JobDir::log`, `JobLog::read`) are read from it.
//! Records come through the [`RecordCache`](super::record_cache::RecordCache)
//! where a route can: one that still stands is answered without touching
//! the disk.

use axum::extract::{Path, Query, State};
use axum::response::Response;
use pikaci_core::{JobId, LogFile, LogKind, RunId, RunLogsMetadata, RunRecord};
use pikaci_store::{BoundedRecord, FileIdentity, Fs as _, LogChunk, LogRange, RunDir, StoreError};

use super::dto::{LogPart, LogsResponse};
use super::encoded::{ANSWER_BUDGET, read_fitted};
use super::heavy::{HeavyPermit, bytes_answer, json_answer};
use super::query::{self, Params, parse_run_id};
use super::raw::raw_url;
use super::record_cache::Cached;
use crate::auth::ReadAccess;
use crate::error::ApiError;
use crate::state::{AppState, Fresh};

/// Records up to this size are read without a heavy-read permit.
const SMALL_RECORD_BYTES: u64 = 256 * 1024;
/// The largest `run.json` this server reads (a run of thousands of jobs);
/// a larger one is answered with a 500 that says so, without reading it.
pub const MAX_SERVED_RECORD_BYTES: u64 = 4 * 1024 * 1024;
/// Log ranges up to this many bytes are read without a heavy-read permit.
const SMALL_LOG_BYTES: u64 = 256 * 1024;

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
/// server never writes to the state root, which lanes can write.
fn reconcile(state: &AppState, mut record: RunRecord) -> RunRecord {
    if state.liveness.is_orphaned(&record) {
        record.mark_interrupted(jiff::Timestamp::now());
    }
    record
}

/// Loads a run, reporting a run whose pikaci died as interrupted.
pub(crate) async fn load_run(state: &AppState, run: RunId) -> Result<RunRecord, ApiError> {
    Ok((*load_cached_record(state, run, None).await?.0.record).clone())
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
    Ok((record, meta?, loaded.permit))
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
/// that says `running` is checked for a dead owner (a `kill(pid, 0)`).
pub(crate) fn watched_hit(state: &AppState, run: &RunId, fresh: Fresh) -> Option<Cached> {
    if !fresh.watching() {
        return None;
    }
    let hit = state.records.get_watched(run)?;
    (!state.liveness.is_orphaned(&hit.record)).then_some(hit)
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
            .filter(|h| !st.liveness.is_orphaned(&h.record));
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

/// `GET /news/api/forge/pikaci/run/{run_id}`: the `RunRecord`, as the bytes
/// serialized when it was read.
pub(crate) async fn run(
    access: ReadAccess,
    State(state): State<AppState>,
    Path(run_id): Path<String>,
) -> Result<Response, ApiError> {
    let run = parse_run_id(&run_id)?;
    let (cached, permit) = load_cached_record(&state, run, Some(access.fresh())).await?;
    Ok(bytes_answer(cached.json, permit))
}

/// The text of a chunk and what part of the log it is; a truncated part
/// names the raw route, which serves the rest.
fn split(
    chunk: Option<LogChunk>,
    run: &RunId,
    job: &JobId,
    file: LogFile,
) -> (Option<String>, Option<LogPart>) {
    match chunk {
        None => (None, None),
        Some(c) => {
            let mut part = LogPart::from(&c);
            if part.truncated {
                part.raw_url = Some(raw_url(run, job, file));
            }
            (Some(c.text), Some(part))
        }
    }
}

/// The chunk of a log that does not exist (yet).
pub(crate) fn missing_log() -> LogChunk {
    LogChunk {
        text: String::new(),
        offset: 0,
        len: 0,
        total_size: 0,
        truncated: false,
        exists: false,
    }
}

/// Whether a range reads so little that it needs no heavy-read permit.
pub(crate) fn small_range(range: LogRange) -> bool {
    match range {
        LogRange::Tail(n) | LogRange::Span { limit: n, .. } => n <= SMALL_LOG_BYTES,
        LogRange::Whole => false,
    }
}

/// `GET /news/api/forge/pikaci/logs/{run_id}?job=&kind=host|guest|both&offset=&limit=&tail=`.
///
/// The logs' text is at most [`ANSWER_BUDGET`] bytes once encoded, all
/// logs together (`both`: the host log gets at most half, the guest log the
/// rest); what is left out is reported by each log's `truncated`, `offset`
/// and `len`.
pub(crate) async fn logs(
    access: ReadAccess,
    State(state): State<AppState>,
    Path(run_id): Path<String>,
    Query(params): Query<Params>,
) -> Result<Response, ApiError> {
    let run = parse_run_id(&run_id)?;
    let job: Option<JobId> = query::id(&params, "job")?;
    let kind = match params.get("kind") {
        None => LogKind::Both,
        Some(k) => k
            .parse()
            .map_err(|e| ApiError::BadRequest(format!("invalid kind: {e}")))?,
    };
    let range = query::range(&params)?;
    let permit = if small_range(range) {
        None
    } else {
        Some(state.heavy.acquire().await?)
    };
    let record = load_cached_record(&state, run.clone(), Some(access.fresh()))
        .await?
        .0
        .record;
    let store = state.store.clone();
    let (job, host, guest) = blocking(move || {
        let job = store.run(&run)?.job_of(&record, job.as_ref())?;
        let files = kind.files();
        let mut remaining = ANSWER_BUDGET;
        let mut read = |file: LogFile| -> Result<Option<LogChunk>, StoreError> {
            if !files.contains(&file) {
                return Ok(None);
            }
            let Some(reader) = job.log(file).open()? else {
                return Ok(Some(missing_log()));
            };
            let share = if files.len() > 1 && file == LogFile::Host {
                remaining / 2
            } else {
                remaining
            };
            let (chunk, cost) = read_fitted(reader.size()?, range, share, |buf, at| {
                reader.read_at(buf, at)
            })?;
            remaining -= cost;
            Ok(Some(chunk))
        };
        let (host, guest) = (read(LogFile::Host)?, read(LogFile::Guest)?);
        Ok::<_, StoreError>((job, host, guest))
    })
    .await??;
    // Most logs are text that encodes about as long as it is.
    let hint = [&host, &guest]
        .iter()
        .filter_map(|c| c.as_ref().map(|c| c.text.len()))
        .sum::<usize>();
    let (run, job_id) = (job.run().id(), job.id());
    let (host, host_log) = split(host, run, job_id, LogFile::Host);
    let (guest, guest_log) = split(guest, run, job_id, LogFile::Guest);
    let answer = LogsResponse {
        run_id: job.run().id().clone(),
        job: job.id().clone(),
        host,
        guest,
        host_log,
        guest_log,
    };
    json_answer(&answer, permit, hint)
}
