//! Live logs: a job's log followed as Server-Sent Events.
//!
//! - [`LiveLogs`]: the hubs of the logs being followed now (one per log,
//!   `hub`), shared by every stream.
//! - `client`: one stream: it reads the log from the client's offset with
//!   its own follow until it has caught up, then takes the hub's broadcast,
//!   falling back to the file whenever it missed something.
//! - `text`: bytes → text on character boundaries, with optional times
//!   (`timed`: from the log's sidecar, or from what a hub worked out).
//! - [`sse`]: the events, encoded.
//!
//! Every read of the file goes through `pikaci-store`'s one follow
//! primitive, stepped on the blocking pool; waiting is a tokio timer, so
//! tests move time instead of sleeping.

mod client;
mod hub;
pub(crate) mod sse;
pub(crate) mod text;
pub(crate) mod timed;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::reads::ServedFs;
use pikaci_core::Liveness;
use pikaci_store::{Follow, JobLog};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

pub(crate) use crate::reads::starts_line;
pub(crate) use client::{StreamStart, stream};
use hub::{HubEvent, HubKey, Sender};

/// The items of a channel as a stream, ending when every sender is gone.
pub(crate) fn receiver_stream<T: Send + 'static>(
    rx: tokio::sync::mpsc::Receiver<T>,
) -> impl futures::Stream<Item = T> + Send + 'static {
    futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    })
}

/// The follow of `log` from `from` a stream or a hub steps: its record
/// read only up to [`Settings::record_bound`].
pub(crate) fn follow(
    log: JobLog<ServedFs>,
    from: u64,
    liveness: Arc<dyn Liveness>,
    settings: &Settings,
) -> Follow<ServedFs> {
    log.follow(from, liveness)
        .record_bound(settings.record_bound)
}

/// How live streams behave. The defaults suit a server; tests shorten them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// How often a followed log is looked at while its job is quiet: the
    /// longest a new line waits before it is sent (besides the network).
    pub poll: Duration,
    /// How long a stream stays silent before it sends a heartbeat comment.
    pub heartbeat: Duration,
    /// How long a client may refuse data (its queue full) before it is
    /// dropped; it can come back with `Last-Event-ID`.
    pub stall_limit: Duration,
    /// Events queued for one client: with the hub's bounded broadcast, what
    /// bounds the memory a client can make the server hold.
    pub client_queue: usize,
    /// Events a hub's broadcast keeps for clients that are a little behind.
    pub hub_capacity: usize,
    /// The largest `run.json` a stream reads to learn the job's status
    /// (the API's [`MAX_SERVED_RECORD_BYTES`](crate::MAX_SERVED_RECORD_BYTES)
    /// by default): a longer one ends the stream with an `error` event,
    /// unread.
    pub record_bound: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            poll: Duration::from_millis(25),
            heartbeat: Duration::from_secs(15),
            stall_limit: Duration::from_secs(30),
            client_queue: 16,
            hub_capacity: 64,
            record_bound: 4 * 1024 * 1024,
        }
    }
}

/// The logs followed now, one hub each.
#[derive(Debug, Default)]
pub(crate) struct LiveLogs {
    hubs: Mutex<HashMap<HubKey, Sender>>,
    settings: Settings,
    closing: CancellationToken,
}

impl LiveLogs {
    /// No hubs yet, with these settings.
    pub(crate) fn new(settings: Settings) -> Self {
        Self {
            hubs: Mutex::default(),
            settings,
            closing: CancellationToken::new(),
        }
    }

    /// Ends every stream (the server is stopping): each closes without an
    /// `end` event, so its client reconnects and resumes by offset. Streams
    /// opened afterwards close at once.
    pub(crate) fn close(&self) {
        self.closing.cancel();
    }

    /// Cancelled when the streams are to close.
    pub(crate) fn closing(&self) -> &CancellationToken {
        &self.closing
    }

    /// The settings streams use.
    pub(crate) fn settings(&self) -> Settings {
        self.settings
    }

    /// How many logs are followed now.
    pub(crate) fn followed(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<HubKey, Sender>> {
        // Each change is one insert or remove: a panic cannot leave it half done.
        self.hubs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Listens to the hub of `log`, starting one if none runs.
    pub(crate) fn subscribe(
        self: &Arc<Self>,
        log: &JobLog<ServedFs>,
        liveness: &Arc<dyn Liveness>,
    ) -> broadcast::Receiver<Arc<HubEvent>> {
        let key: HubKey = (
            log.job().run().id().clone(),
            log.job().id().clone(),
            log.file(),
        );
        let mut hubs = self.lock();
        if let Some(tx) = hubs.get(&key) {
            return tx.subscribe();
        }
        let (tx, rx) = broadcast::channel(self.settings.hub_capacity.max(1));
        hubs.insert(key.clone(), tx.clone());
        tokio::spawn(hub::run(
            key,
            tx,
            log.clone(),
            liveness.clone(),
            Arc::downgrade(self),
            self.settings,
        ));
        rx
    }
}
