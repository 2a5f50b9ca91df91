//! `pikaci list`, `pikaci status` and `pikaci logs`.

use std::io::Write;
use std::time::Duration;

use pikaci_core::Clock;
use pikaci_core::SystemClock;
use std::sync::Arc;

use pikaci_core::{JobId, JobReader, Liveness, LogFile, LogKind, RunId, RunRecord, SystemLiveness};
use pikaci_store::{FollowStep, JobLog, LogRange, LogReader, MAX_READ_BYTES, Store, StoreError};

use crate::args::{KindArg, ListOpts, ListOutput, LogsOpts, PreparedOutputsOpts, StatusOpts};
use crate::context::{Context, parse_id};
use crate::exit::outln;
use crate::exit::{CliError, EXIT_OK};
use crate::runs::resolve_run;
use crate::show;
use crate::tail::last_lines_start;

/// How often `logs --follow` looks for more output.
const FOLLOW_POLL: Duration = Duration::from_millis(200);
/// How much one read takes while printing a log.
const CHUNK: usize = 1 << 20;

/// This host's liveness check, made once (it reads the host name).
static LIVENESS: std::sync::LazyLock<Arc<SystemLiveness>> =
    std::sync::LazyLock::new(|| Arc::new(SystemLiveness::new()));

/// Loads a run, reporting it interrupted (and saving that) when its owner
/// on this host is gone.
fn load(store: &Store, run: &RunId) -> Result<RunRecord, StoreError> {
    let record = store.run(run)?.record()?;
    Ok(store.reconcile_record(record, &**LIVENESS, SystemClock.now()))
}

fn internal(what: &str) -> impl FnOnce(std::io::Error) -> CliError + '_ {
    move |source| CliError::Internal {
        what: what.to_owned(),
        source,
    }
}

/// `pikaci list`.
pub(crate) fn list(ctx: &Context, opts: &ListOpts) -> Result<u8, CliError> {
    let store = ctx.store();
    let ids = store.list_runs(None, opts.limit)?;
    let mut out = std::io::stdout().lock();
    if opts.json {
        let records: Vec<serde_json::Value> = ids
            .iter()
            .map(|id| match load(&store, id) {
                Ok(r) => serde_json::to_value(r).unwrap_or_default(),
                Err(e) => serde_json::json!({ "run_id": id, "error": e.to_string() }),
            })
            .collect();
        let text = serde_json::to_string_pretty(&records).unwrap_or_default();
        writeln!(out, "{text}").map_err(internal("printing"))?;
        return Ok(EXIT_OK);
    }
    if ids.is_empty() {
        writeln!(out, "no runs in {}", ctx.state_root).map_err(internal("printing"))?;
        return Ok(EXIT_OK);
    }
    let now = SystemClock.now();
    writeln!(out, "{}", show::list_header()).map_err(internal("printing"))?;
    for id in ids {
        let row = show::list_row(&id, &load(&store, &id), now);
        writeln!(out, "{row}").map_err(internal("printing"))?;
    }
    Ok(EXIT_OK)
}

/// `pikaci status RUN_ID`.
pub(crate) fn status(ctx: &Context, opts: &StatusOpts) -> Result<u8, CliError> {
    let store = ctx.store();
    let run = resolve_run(&store, &opts.run_id, |id| load(&store, id))?;
    let r = load(&store, &run)?;
    let mut out = std::io::stdout().lock();
    if opts.json {
        let text = serde_json::to_string_pretty(&r).unwrap_or_default();
        writeln!(out, "{text}").map_err(internal("printing"))?;
        return Ok(EXIT_OK);
    }
    let text = show::status_text(&r);
    out.write_all(text.as_bytes())
        .map_err(internal("printing"))?;
    Ok(EXIT_OK)
}

/// `pikaci prepared-outputs RUN`.
pub(crate) fn prepared_outputs(ctx: &Context, opts: &PreparedOutputsOpts) -> Result<u8, CliError> {
    let store = ctx.store();
    let run = resolve_run(&store, &opts.run_id, |id| load(&store, id))?;
    let prepared = store
        .run(&run)?
        .prepared_outputs()?
        .ok_or_else(|| CliError::NoPreparedOutputs { run: run.clone() })?;
    let text = match opts.output {
        ListOutput::Json => format!(
            "{}\n",
            serde_json::to_string_pretty(&prepared).unwrap_or_default()
        ),
        ListOutput::Human => show::prepared_outputs_text(&run, &prepared),
    };
    std::io::stdout()
        .write_all(text.as_bytes())
        .map_err(crate::exit::printing)?;
    Ok(EXIT_OK)
}

/// `pikaci logs RUN_ID`.
pub(crate) async fn logs(ctx: &Context, opts: &LogsOpts) -> Result<u8, CliError> {
    let store = ctx.store();
    let run = resolve_run(&store, &opts.run_id, |id| load(&store, id))?;
    let job: Option<JobId> = opts
        .job
        .as_deref()
        .map(|j| parse_id("job id", j))
        .transpose()?;
    // --tail counts lines: the byte range rule sees it as a tail too.
    let range = LogRange::from_parts(opts.tail.or(opts.tail_bytes), opts.offset, opts.limit)?;
    let dir = store.run(&run)?;
    let record = store.reconcile_record(dir.record()?, &**LIVENESS, SystemClock.now());
    if opts.metadata_json {
        let meta = dir.logs_metadata(&record)?;
        outln!(
            "{}",
            serde_json::to_string_pretty(&meta).unwrap_or_default()
        );
        return Ok(EXIT_OK);
    }
    // No job named: a person at a terminal reads the one that failed.
    let job = job.or_else(|| record.default_job(JobReader::Terminal).cloned());
    let job = dir.job_of(&record, job.as_ref())?;
    if opts.follow {
        let file = match opts.kind {
            Some(KindArg::Host) => LogFile::Host,
            Some(KindArg::Guest) | None => LogFile::Guest,
            Some(KindArg::Both) => {
                return Err(CliError::Usage(
                    "--follow follows one log: use --kind host or --kind guest".into(),
                ));
            }
        };
        // clap keeps --tail and --limit away from --follow: --offset resumes.
        return follow(&store, &run, job.log(file), opts.offset.unwrap_or(0)).await;
    }
    let kind = match opts.kind {
        Some(KindArg::Host) => LogKind::Host,
        Some(KindArg::Guest) => LogKind::Guest,
        Some(KindArg::Both) | None => LogKind::Both,
    };
    let mut out = std::io::stdout().lock();
    for &file in kind.files() {
        if kind == LogKind::Both {
            writeln!(out, "==> {} <==", file.file_name()).map_err(internal("printing"))?;
        }
        let log = job.log(file);
        match (opts.tail, range) {
            (Some(lines), _) => print_last_lines(&log, lines, &mut out)?,
            (None, LogRange::Whole) => print_whole(&log, &mut out, 0)?,
            (None, range) => out
                .write_all(log.read(range)?.text.as_bytes())
                .map_err(internal("printing"))?,
        }
    }
    Ok(EXIT_OK)
}

/// Prints the last `lines` lines of a log, from the start of a line (at most
/// [`MAX_READ_BYTES`] of it, like any range).
fn print_last_lines(log: &JobLog, lines: u64, out: &mut impl Write) -> Result<(), CliError> {
    let Some(reader) = log.open()? else {
        return Ok(());
    };
    let start = last_lines_start(&reader, lines, MAX_READ_BYTES)?;
    print_from(&reader, out, start)
}

/// Prints a whole log as it is now from byte `from`, in pieces through one
/// buffer (never all of it in memory, nothing allocated per piece).
fn print_whole(log: &JobLog, out: &mut impl Write, from: u64) -> Result<(), CliError> {
    let Some(reader) = log.open()? else {
        return Ok(());
    };
    print_from(&reader, out, from)
}

fn print_from(reader: &LogReader, out: &mut impl Write, from: u64) -> Result<(), CliError> {
    let end = reader.size()?;
    let mut buf = vec![0u8; CHUNK];
    let mut offset = from;
    while offset < end {
        let want = (end - offset).min(CHUNK as u64) as usize;
        let n = reader.read_at(&mut buf[..want], offset)?;
        if n == 0 {
            break;
        }
        out.write_all(&buf[..n]).map_err(internal("printing"))?;
        offset += n as u64;
    }
    Ok(())
}

/// Prints the log from byte `from` and keeps printing what the job writes,
/// until its record says it finished (or its owner died).
async fn follow(store: &Store, run: &RunId, log: JobLog, from: u64) -> Result<u8, CliError> {
    let job = log.job().id().clone();
    let liveness: Arc<dyn Liveness> = LIVENESS.clone();
    let mut follow = log.follow(from, liveness).max_chunk(CHUNK);
    let mut out = std::io::stdout();
    loop {
        match follow.step()? {
            FollowStep::Chunk(chunk) => {
                out.write_all(&chunk.bytes)
                    .and_then(|()| out.flush())
                    .map_err(internal("printing"))?;
            }
            FollowStep::Wait => tokio::time::sleep(FOLLOW_POLL).await,
            FollowStep::End => {
                // The job's status, as `run` prints it, closes the output.
                let status = match load(store, run)
                    .map(|r| r.job(&job).map(|j| (j.status, j.message.clone())))
                {
                    Ok(Some((status, message))) => format!(
                        "{status}{}",
                        message
                            .map(|m| format!(": {}", pikaci_core::escape_controls(&m)))
                            .unwrap_or_default()
                    ),
                    _ => "finished".to_owned(),
                };
                let mut err = std::io::stderr();
                let _ = writeln!(
                    err,
                    "==> job {} {status} <==",
                    pikaci_core::escape_controls(job.as_str())
                );
                return Ok(EXIT_OK);
            }
        }
    }
}
