//! One follower per followed log, shared by every stream of that log.
//!
//! A hub is a task that follows the log from its end at the time the first
//! client came (with the store's [`Follow`], stepped on the blocking pool,
//! waiting on a tokio timer) and broadcasts what it reads: new bytes with the
//! arrival times of the lines in them, status changes, the end. A thousand
//! clients of one job cost one look at the file per poll, not a thousand.
//! The broadcast keeps a bounded number of events; a client that falls
//! behind it reads the file itself from its own offset (the file is the
//! truth, the hub only a shortcut), so a slow client never makes the hub
//! hold more.

use std::sync::{Arc, Weak};

use crate::reads::ServedFs;
use axum::body::Bytes;
use pikaci_core::{JobId, Liveness, LogFile, RunId};
use pikaci_store::{Follow, FollowStep, JobLog, StoreError};
use tokio::sync::broadcast;

use super::sse::StreamStatus;
use super::text::{LineTimes, TextCursor};
use super::timed::{PieceTimes, Timed, line_starts};
use super::{LiveLogs, Settings};

/// Which log a hub follows.
pub(crate) type HubKey = (RunId, JobId, LogFile);

/// What a hub broadcasts.
#[derive(Debug)]
pub(crate) enum HubEvent {
    /// The hub follows the log from this offset: a client that subscribed
    /// before the hub looked at the log, and has read less than this, reads
    /// the rest from the file (the hub will never send it).
    Start(u64),
    /// New bytes of the log.
    Bytes(Box<Piece>),
    /// The job's status changed.
    Status(StreamStatus),
    /// The job has finished and the hub has read its log to the end.
    End,
}

pub(crate) type Sender = broadcast::Sender<Arc<HubEvent>>;

/// New bytes of the log, the first at byte `start`.
#[derive(Debug)]
pub(crate) struct Piece {
    /// The offset of the first byte.
    pub(crate) start: u64,
    /// The bytes.
    pub(crate) bytes: Bytes,
    /// When each line that starts in them arrived, `(offset, ms)`, as far
    /// as the log's sidecar says (empty without one).
    pub(crate) line_times: Vec<(u64, i64)>,
    /// The `log` event for a client exactly where the hub was before these
    /// bytes, without times.
    pub(crate) plain: Rendered,
    /// As `plain`, with each line's time.
    pub(crate) stamped: Rendered,
}

/// A piece rendered once for every client in step with the hub: such a
/// client sends `event` (if not empty) and takes `after` as its cursor.
#[derive(Debug)]
pub(crate) struct Rendered {
    /// The cursor the client must have had: the same `sent` and `read`.
    pub(crate) before: (u64, u64),
    /// The `log` event (empty when all of it waits for a character's end).
    pub(crate) event: Bytes,
    /// The cursor after it.
    pub(crate) after: TextCursor,
}

impl Rendered {
    fn of(cursor: &mut TextCursor, bytes: &[u8], times: Option<&mut dyn LineTimes>) -> Self {
        let before = (cursor.sent(), cursor.read());
        let text = cursor.push(bytes, times);
        let event = if text.is_empty() {
            Bytes::new()
        } else {
            super::sse::log_event(&text, cursor.sent())
        };
        Self {
            before,
            event,
            after: cursor.clone(),
        }
    }
}

/// The hub's side of the file: its follow, the times of the lines it reads,
/// and the text of a client in step with it, without and with times.
struct Reader {
    follow: Follow<ServedFs>,
    timed: Timed,
    at_line_start: bool,
    plain: TextCursor,
    stamped: TextCursor,
}

enum Step {
    Bytes(HubEvent),
    Wait,
    End,
}

impl Reader {
    /// Starts at the log's end (blocking: file reads).
    fn at_end(log: JobLog<ServedFs>, liveness: Arc<dyn Liveness>, settings: &Settings) -> Self {
        let start = log.size().ok().flatten().unwrap_or(0);
        let at_line_start = super::starts_line(&log, start);
        Self {
            at_line_start,
            plain: TextCursor::new(start, at_line_start),
            stamped: TextCursor::new(start, at_line_start),
            timed: Timed::new(log.clone()),
            follow: super::follow(log, start, liveness, settings),
        }
    }

    /// One step of the follow, with the times of the lines in what it read
    /// (blocking: file reads).
    fn step(&mut self) -> Result<Step, StoreError> {
        match self.follow.step()? {
            FollowStep::Chunk(c) => {
                let start = c.offset - c.bytes.len() as u64;
                self.timed.refresh();
                let line_times: Vec<(u64, i64)> = line_starts(&c.bytes, start, self.at_line_start)
                    .into_iter()
                    .filter_map(|o| self.timed.time_at(o).map(|ms| (o, ms)))
                    .collect();
                self.at_line_start = c.bytes.last() == Some(&b'\n');
                let plain = Rendered::of(&mut self.plain, &c.bytes, None);
                let stamped = Rendered::of(
                    &mut self.stamped,
                    &c.bytes,
                    Some(&mut PieceTimes(&line_times)),
                );
                Ok(Step::Bytes(HubEvent::Bytes(Box::new(Piece {
                    start,
                    bytes: Bytes::from(c.bytes),
                    line_times,
                    plain,
                    stamped,
                }))))
            }
            FollowStep::Wait => Ok(Step::Wait),
            FollowStep::End => Ok(Step::End),
        }
    }
}

/// Follows `log` and broadcasts on `tx` until the job ends, an error stops
/// it, or no client listens; then takes itself out of `registry`.
pub(crate) async fn run(
    key: HubKey,
    tx: Sender,
    log: JobLog<ServedFs>,
    liveness: Arc<dyn Liveness>,
    registry: Weak<LiveLogs>,
    settings: Settings,
) {
    let Ok(reader) =
        tokio::task::spawn_blocking(move || Reader::at_end(log, liveness, &settings)).await
    else {
        force_retire(&registry, &key, &tx);
        return;
    };
    let _ = tx.send(Arc::new(HubEvent::Start(reader.follow.offset())));
    let mut reader = Some(reader);
    let mut status: Option<StreamStatus> = None;
    let job = key.1.clone();
    loop {
        if tx.receiver_count() == 0 && retire(&registry, &key, &tx) {
            return;
        }
        let mut r = reader
            .take()
            .expect("the reader is put back after each step");
        if registry
            .upgrade()
            .is_none_or(|live| live.closing().is_cancelled())
        {
            break;
        }
        let Ok((r, step)) = tokio::task::spawn_blocking(move || {
            let step = r.step();
            (r, step)
        })
        .await
        else {
            break;
        };
        let now = r
            .follow
            .last_record()
            .map(|rec| StreamStatus::of(rec, &job));
        reader = Some(r);
        if let Some(now) = now
            && status.as_ref() != Some(&now)
        {
            status = Some(now.clone());
            let _ = tx.send(Arc::new(HubEvent::Status(now)));
        }
        match step {
            // No client is not an error here: the next turn retires the hub.
            Ok(Step::Bytes(event)) => {
                let _ = tx.send(Arc::new(event));
            }
            // The last client leaving ends the wait, and so the hub, at once.
            Ok(Step::Wait) => tokio::select! {
                () = tokio::time::sleep(settings.poll) => {}
                () = tx.closed() => {}
            },
            Ok(Step::End) => {
                let _ = tx.send(Arc::new(HubEvent::End));
                break;
            }
            Err(e) => {
                tracing::error!(error = %e, run = %key.0, job = %key.1, "following a log failed");
                break;
            }
        }
    }
    // Clients see the channel close and read the file themselves.
    force_retire(&registry, &key, &tx);
}

/// Takes the hub out of the registry if still nobody listens (checked under
/// the registry's lock, so a client subscribing meanwhile keeps it).
fn retire(registry: &Weak<LiveLogs>, key: &HubKey, tx: &Sender) -> bool {
    let Some(live) = registry.upgrade() else {
        return true;
    };
    let mut hubs = live.lock();
    if tx.receiver_count() > 0 {
        return false;
    }
    if hubs.get(key).is_some_and(|t| t.same_channel(tx)) {
        hubs.remove(key);
    }
    true
}

fn force_retire(registry: &Weak<LiveLogs>, key: &HubKey, tx: &Sender) {
    if let Some(live) = registry.upgrade() {
        let mut hubs = live.lock();
        if hubs.get(key).is_some_and(|t| t.same_channel(tx)) {
            hubs.remove(key);
        }
    }
}
