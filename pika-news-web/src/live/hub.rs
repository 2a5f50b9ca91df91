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

use axum::body::Bytes;
use pikaci_core::{JobId, Liveness, LogFile, RunId};
use pikaci_store::{DiskFs, Follow, FollowStep, JobLog, StoreError};
use tokio::sync::broadcast;

use super::sse::StreamStatus;
use super::text::LineTimes as _;
use super::timed::{Timed, line_starts};
use super::{LiveLogs, Settings};

/// Which log a hub follows.
pub(crate) type HubKey = (RunId, JobId, LogFile);

/// What a hub broadcasts.
#[derive(Debug)]
pub(crate) enum HubEvent {
    /// New bytes of the log, the first at byte `start`.
    Bytes {
        /// The offset of the first byte.
        start: u64,
        /// The bytes.
        bytes: Bytes,
        /// When each line that starts in them arrived, `(offset, ms)`, as
        /// far as the log's sidecar says (empty without one).
        line_times: Vec<(u64, i64)>,
    },
    /// The job's status changed.
    Status(StreamStatus),
    /// The job has finished and the hub has read its log to the end.
    End,
}

pub(crate) type Sender = broadcast::Sender<Arc<HubEvent>>;

/// The hub's side of the file: its follow, and the times of the lines it reads.
struct Reader {
    follow: Follow<DiskFs>,
    timed: Timed,
    at_line_start: bool,
}

enum Step {
    Bytes(HubEvent),
    Wait,
    End,
}

impl Reader {
    /// Starts at the log's end (blocking: file reads).
    fn at_end(log: JobLog, liveness: Arc<dyn Liveness>) -> Self {
        let start = log.size().ok().flatten().unwrap_or(0);
        Self {
            at_line_start: super::starts_line(&log, start),
            timed: Timed::new(log.clone()),
            follow: log.follow(start, liveness),
        }
    }

    /// One step of the follow, with the times of the lines in what it read
    /// (blocking: file reads).
    fn step(&mut self) -> Result<Step, StoreError> {
        match self.follow.step()? {
            FollowStep::Chunk(c) => {
                let start = c.offset - c.bytes.len() as u64;
                self.timed.refresh();
                let line_times = line_starts(&c.bytes, start, self.at_line_start)
                    .into_iter()
                    .filter_map(|o| self.timed.time_at(o).map(|ms| (o, ms)))
                    .collect();
                self.at_line_start = c.bytes.last() == Some(&b'\n');
                Ok(Step::Bytes(HubEvent::Bytes {
                    start,
                    bytes: Bytes::from(c.bytes),
                    line_times,
                }))
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
    log: JobLog,
    liveness: Arc<dyn Liveness>,
    registry: Weak<LiveLogs>,
    settings: Settings,
) {
    let Ok(reader) = tokio::task::spawn_blocking(move || Reader::at_end(log, liveness)).await
    else {
        force_retire(&registry, &key, &tx);
        return;
    };
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
            Ok(Step::Wait) => tokio::time::sleep(settings.poll).await,
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
