//! One follower per followed log, shared by every stream of that log.
//!
//! A hub is a task that follows the log from its end at the time the first
//! client came (with the store's [`Follow`](pikaci_store::Follow), stepped on
//! the blocking pool, waiting on a tokio timer) and broadcasts what it reads:
//! new bytes, status changes, the end. A thousand clients of one job cost
//! one look at the file per poll, not a thousand. The broadcast keeps a
//! bounded number of events; a client that falls behind it reads the file
//! itself from its own offset (the file is the truth, the hub only a
//! shortcut), so a slow client never makes the hub hold more.

use std::sync::{Arc, Weak};

use axum::body::Bytes;
use pikaci_core::{JobId, Liveness, LogFile, RunId};
use pikaci_store::{FollowStep, JobLog};
use tokio::sync::broadcast;

use super::sse::StreamStatus;
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
    },
    /// The job's status changed.
    Status(StreamStatus),
    /// The job has finished and the hub has read its log to the end.
    End,
}

pub(crate) type Sender = broadcast::Sender<Arc<HubEvent>>;

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
    let start = {
        let log = log.clone();
        tokio::task::spawn_blocking(move || log.size())
            .await
            .ok()
            .and_then(Result::ok)
            .flatten()
            .unwrap_or(0)
    };
    let mut follow = Some(log.follow(start, liveness));
    let mut status: Option<StreamStatus> = None;
    let job = key.1.clone();
    loop {
        if tx.receiver_count() == 0 && retire(&registry, &key, &tx) {
            return;
        }
        let mut f = follow
            .take()
            .expect("the follow is put back after each step");
        let Ok((f, step)) = tokio::task::spawn_blocking(move || {
            let step = f.step();
            (f, step)
        })
        .await
        else {
            break;
        };
        let now = f.last_record().map(|r| StreamStatus::of(r, &job));
        follow = Some(f);
        if let Some(now) = now
            && status.as_ref() != Some(&now)
        {
            status = Some(now.clone());
            let _ = tx.send(Arc::new(HubEvent::Status(now)));
        }
        match step {
            Ok(FollowStep::Chunk(c)) => {
                let start = c.offset - c.bytes.len() as u64;
                let bytes = Bytes::from(c.bytes);
                // No client is an error here: the next turn retires the hub.
                let _ = tx.send(Arc::new(HubEvent::Bytes { start, bytes }));
            }
            Ok(FollowStep::Wait) => tokio::time::sleep(settings.poll).await,
            Ok(FollowStep::End) => {
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
