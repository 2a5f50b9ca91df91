//! A lane's output: its log opened safely, pikaci's stdout and stderr
//! copied into it (events rendered as readable lines, the raw JSONL beside
//! them), and the events it announces vetted before the lane takes them.

use std::fs::File;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt as _;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::ChildStdout;
use tokio::sync::mpsc;

use super::events_log::{LaneEvent, MAX_EVENT_LINE, PathWords, Rendered, StdoutRenderer};
use super::run_claim::RunClaims;

/// Opens (creating) a lane log, or a lane's events file, for appending. Never through a link and
/// never blocking on a FIFO (`O_NOFOLLOW | O_NONBLOCK`: opening a FIFO
/// without a reader fails at once): a lane running as the service could
/// have put either in its place during an earlier attempt. Whatever is
/// there and is not a regular file is removed (the folder is the
/// service's) and a fresh log made.
pub fn open_lane_log(path: &camino::Utf8Path) -> std::io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options
        .create(true)
        .append(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    for _ in 0..3 {
        match options.open(path) {
            Ok(f) if f.metadata()?.is_file() => return Ok(f),
            Ok(_) => {}
            Err(e) if matches!(e.raw_os_error(), Some(libc::ELOOP | libc::ENXIO)) => {}
            Err(e) => return Err(e),
        }
        std::fs::remove_file(path)?;
    }
    Err(std::io::Error::other(
        "something keeps replacing the lane log with what is not a file",
    ))
}

/// Passes on the events a lane's child announces, but a `run_started` only
/// when its run is the lane's own (see [`super::run_claim`]); a refused one
/// is logged, in the lane log too, and dropped.
pub(super) async fn vet_event(
    ev: LaneEvent,
    claims: Option<&Arc<Mutex<RunClaims>>>,
    log: &File,
) -> Option<LaneEvent> {
    let (LaneEvent::PikaciRunStarted(run), Some(claims)) = (&ev, claims) else {
        return Some(ev);
    };
    let (claims, run) = (claims.clone(), run.clone());
    let shown = run.clone();
    let checked = tokio::task::spawn_blocking(move || {
        claims.lock().unwrap_or_else(|e| e.into_inner()).claim(&run)
    })
    .await;
    match checked {
        Ok(Ok(())) => Some(ev),
        Ok(Err(e)) => {
            tracing::warn!(run = %shown, error = %e, "a lane announced a run that is not its own; not recorded");
            let _ = writeln!(
                &mut &*log,
                "[pika-news] ignored run_started for {shown}: {e}"
            );
            None
        }
        Err(e) => {
            tracing::warn!(run = %shown, error = %e, "checking a lane's run failed; not recorded");
            None
        }
    }
}

/// Copies pikaci's stderr into the lane log a line at a time (a longer
/// line in pieces of [`MAX_EVENT_LINE`]), the lane's worktree and the state
/// root named by their words: the lane log is served, and no answer names a
/// server path.
pub(super) async fn pump_stderr(
    stderr: tokio::process::ChildStderr,
    log: Option<std::fs::File>,
    words: PathWords,
) {
    use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _};
    let Some(mut log) = log else { return };
    let mut stderr = tokio::io::BufReader::new(stderr);
    let mut line = Vec::new();
    loop {
        line.clear();
        let limit = u64::try_from(MAX_EVENT_LINE).unwrap_or(u64::MAX);
        match (&mut stderr).take(limit).read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                let _ = log.write_all(&words.apply(&line));
            }
        }
    }
}

/// Copies pikaci's stdout into the lane log, its events rendered as
/// readable lines, and as is into the events file; sends the events it
/// announces; ends at end of file.
pub(super) async fn pump_stdout(
    mut stdout: ChildStdout,
    log: Option<File>,
    raw: Option<File>,
    target: Option<String>,
    words: PathWords,
    tx: mpsc::Sender<LaneEvent>,
) {
    let mut buf = vec![0u8; 64 * 1024];
    let mut renderer = StdoutRenderer::new(target).with_words(words);
    // Written off the runtime's threads: a slow disk must not stall other tasks.
    let mut log = log.map(tokio::fs::File::from_std);
    let mut raw = raw.map(tokio::fs::File::from_std);
    'read: loop {
        let n = match stdout.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        // A full disk must not stop the lane or its events.
        if let Some(f) = &mut raw
            && f.write_all(&buf[..n]).await.is_err()
        {
            raw = None;
        }
        let mut out = Rendered::default();
        renderer.push(&buf[..n], &mut out);
        if let Some(l) = &mut log
            && l.write_all(&out.log).await.is_err()
        {
            log = None;
        }
        for ev in out.events {
            if tx.send(ev).await.is_err() {
                break 'read;
            }
        }
    }
    let mut out = Rendered::default();
    renderer.finish(&mut out);
    // Before the channel closes, so the lane's closing line comes after this output.
    if let Some(l) = &mut log {
        let _ = l.write_all(&out.log).await;
        let _ = l.flush().await;
    }
    if let Some(f) = &mut raw {
        let _ = f.flush().await;
    }
}
