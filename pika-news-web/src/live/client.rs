//! One client's stream: catch up from its offset with its own follow, then
//! take the hub's broadcast, and go back to the file whenever it missed
//! something (it fell behind the broadcast, or the hub stopped).
//!
//! The events go to the response body through a queue of
//! [`Settings::client_queue`] events; a client that takes nothing for
//! [`Settings::stall_limit`] is dropped (the stream ends without `end`), and
//! comes back with `Last-Event-ID`.

use std::convert::Infallible;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use pikaci_core::Liveness;
use pikaci_store::{Follow, FollowStep, JobLog};
use tokio::sync::{broadcast, mpsc};
use tokio::time::Instant;

use super::hub::HubEvent;
use super::sse::{self, StreamEnd, StreamStatus};
use super::text::TextCursor;
use super::{LiveLogs, Settings};

/// Where a stream starts.
#[derive(Debug)]
pub(crate) struct StreamStart {
    /// The log followed.
    pub(crate) log: JobLog,
    /// The byte offset to start from.
    pub(crate) from: u64,
    /// The job's status when the stream starts.
    pub(crate) status: StreamStatus,
}

/// The stream of `start` as a response body.
pub(crate) fn stream(live: Arc<LiveLogs>, liveness: Arc<dyn Liveness>, start: StreamStart) -> Body {
    let settings = live.settings();
    let (tx, rx) = mpsc::channel::<Bytes>(settings.client_queue.max(1));
    let client = Client {
        text: TextCursor::new(start.from, start.from == 0),
        status: start.status,
        log: start.log,
        follow: None,
        tx,
        last_sent: Instant::now(),
        settings,
        liveness,
    };
    tokio::spawn(async move {
        if let Err(stop) = client.run(live).await {
            tracing::debug!(?stop, "a log stream stopped");
        }
    });
    let events = super::receiver_stream(rx);
    Body::from_stream(futures::StreamExt::map(events, Ok::<_, Infallible>))
}

/// Why a stream stopped before its end.
#[derive(Debug)]
enum Stop {
    /// The client went away.
    Gone,
    /// The client took nothing for the stall limit.
    Stalled,
    /// Reading the log failed (logged).
    Failed,
}

/// What catching up found.
enum Caught {
    /// Everything written so far is sent; the job runs on.
    Live,
    /// The job has finished and everything is sent.
    End(StreamStatus),
}

struct Client {
    text: TextCursor,
    status: StreamStatus,
    log: JobLog,
    follow: Option<Follow<pikaci_store::DiskFs>>,
    tx: mpsc::Sender<Bytes>,
    last_sent: Instant,
    settings: Settings,
    liveness: Arc<dyn Liveness>,
}

impl Client {
    async fn run(mut self, live: Arc<LiveLogs>) -> Result<(), Stop> {
        self.send(sse::status_event(&self.status)).await?;
        let mut rx = live.subscribe(&self.log, &self.liveness);
        if let Caught::End(status) = self.catch_up().await? {
            return self.end(status).await;
        }
        loop {
            let quiet_until = self.last_sent + self.settings.heartbeat;
            let event = tokio::select! {
                event = rx.recv() => event,
                () = tokio::time::sleep_until(quiet_until) => {
                    self.send(sse::heartbeat()).await?;
                    continue;
                }
            };
            let caught = match event {
                Ok(event) => match &*event {
                    HubEvent::Bytes { start, bytes } => self.bytes(*start, bytes).await?,
                    HubEvent::Status(status) => {
                        self.set_status(status.clone()).await?;
                        None
                    }
                    // Whatever is left is on disk: read it, which also ends.
                    HubEvent::End => Some(self.catch_up().await?),
                },
                Err(broadcast::error::RecvError::Lagged(_)) => Some(self.catch_up().await?),
                Err(broadcast::error::RecvError::Closed) => {
                    rx = live.subscribe(&self.log, &self.liveness);
                    Some(self.catch_up().await?)
                }
            };
            if let Some(Caught::End(status)) = caught {
                return self.end(status).await;
            }
        }
    }

    /// Bytes from the hub: the part this client has not had yet, or, if
    /// the hub is ahead of it (it missed some), a catch-up from the file.
    async fn bytes(&mut self, start: u64, bytes: &Bytes) -> Result<Option<Caught>, Stop> {
        let read = self.text.read();
        let end = start + bytes.len() as u64;
        if end <= read {
            return Ok(None);
        }
        if start > read {
            return Ok(Some(self.catch_up().await?));
        }
        let skip = (read - start) as usize;
        self.emit(&bytes[skip..]).await?;
        Ok(None)
    }

    /// Reads the log from where this client is until it has caught up with
    /// the job (or the job has finished and everything is sent).
    async fn catch_up(&mut self) -> Result<Caught, Stop> {
        let from = self.text.read();
        let mut follow = match self.follow.take() {
            Some(f) if f.offset() == from => f,
            _ => self.log.clone().follow(from, self.liveness.clone()),
        };
        loop {
            let (f, step) = tokio::task::spawn_blocking(move || {
                let step = follow.step();
                (follow, step)
            })
            .await
            .map_err(|_| Stop::Failed)?;
            follow = f;
            let status = follow
                .last_record()
                .map(|r| StreamStatus::of(r, &self.status.job));
            match step {
                Ok(FollowStep::Chunk(c)) => self.emit(&c.bytes).await?,
                Ok(FollowStep::Wait) => {
                    if let Some(s) = status {
                        self.set_status(s).await?;
                    }
                    self.follow = Some(follow);
                    return Ok(Caught::Live);
                }
                Ok(FollowStep::End) => {
                    return Ok(Caught::End(status.unwrap_or_else(|| self.status.clone())));
                }
                Err(e) => {
                    tracing::error!(error = %e, "reading a log for a stream failed");
                    return Err(Stop::Failed);
                }
            }
        }
    }

    async fn emit(&mut self, bytes: &[u8]) -> Result<(), Stop> {
        let text = self.text.push(bytes, None);
        if text.is_empty() {
            return Ok(());
        }
        self.send(sse::log_event(&text, self.text.sent())).await
    }

    async fn set_status(&mut self, status: StreamStatus) -> Result<(), Stop> {
        if status == self.status {
            return Ok(());
        }
        self.status = status;
        self.send(sse::status_event(&self.status)).await
    }

    async fn end(mut self, status: StreamStatus) -> Result<(), Stop> {
        let rest = self.text.finish(None);
        if !rest.is_empty() {
            self.send(sse::log_event(&rest, self.text.sent())).await?;
        }
        self.set_status(status).await?;
        let end = StreamEnd {
            job: self.status.job.clone(),
            status: self.status.status,
            failure_kind: self.status.failure_kind,
            run_status: self.status.run_status,
            offset: self.text.sent(),
        };
        self.send(sse::end_event(&end)).await
    }

    /// Queues one event; a client that takes nothing for the stall limit is
    /// dropped.
    async fn send(&mut self, event: Bytes) -> Result<(), Stop> {
        match tokio::time::timeout(self.settings.stall_limit, self.tx.send(event)).await {
            Ok(Ok(())) => {
                self.last_sent = Instant::now();
                Ok(())
            }
            Ok(Err(_)) => Err(Stop::Gone),
            Err(_) => Err(Stop::Stalled),
        }
    }
}
