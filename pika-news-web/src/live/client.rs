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

use crate::reads::ServedFs;
use axum::body::{Body, Bytes};
use pikaci_core::Liveness;
use pikaci_store::{Follow, FollowStep, JobLog, StoreError};
use tokio::sync::{broadcast, mpsc};
use tokio::time::Instant;

use super::hub::{HubEvent, Piece};
use super::sse::{self, StreamEnd, StreamStatus};
use super::text::{LineTimes, TextCursor};
use super::timed::{PieceTimes, Timed};
use super::{LiveLogs, Settings};

/// Where a stream starts.
#[derive(Debug)]
pub(crate) struct StreamStart {
    /// The log followed.
    pub(crate) log: JobLog<ServedFs>,
    /// The byte offset to start from.
    pub(crate) from: u64,
    /// Whether the byte at `from` starts a line (for timestamps).
    pub(crate) at_line_start: bool,
    /// Whether lines are prefixed with their arrival time.
    pub(crate) timestamps: bool,
    /// The job's status when the stream starts.
    pub(crate) status: StreamStatus,
}

/// The stream of `start` as a response body.
pub(crate) fn stream(live: Arc<LiveLogs>, liveness: Arc<dyn Liveness>, start: StreamStart) -> Body {
    let settings = live.settings();
    let (tx, rx) = mpsc::channel::<Bytes>(settings.client_queue.max(1));
    let client = Client {
        file: Some(FileSide {
            text: TextCursor::new(start.from, start.at_line_start),
            timed: start.timestamps.then(|| Timed::new(start.log.clone())),
            follow: None,
        }),
        status: start.status,
        log: start.log,
        tx,
        last_sent: Instant::now(),
        settings,
        liveness,
    };
    let closing = live.closing().clone();
    tokio::spawn(async move {
        let ran = tokio::select! {
            ran = client.run(live) => ran,
            () = closing.cancelled() => Err(Stop::Closing),
        };
        if let Err(stop) = ran {
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
    /// Reading the log failed (logged, and told to the client in an
    /// `error` event).
    Failed(String),
    /// The server is stopping.
    Closing,
}

/// What catching up found.
enum Caught {
    /// Everything written so far is sent; the job runs on.
    Live,
    /// The job has finished and everything is sent.
    End(StreamStatus),
}

impl Caught {
    fn ended(self) -> Option<StreamStatus> {
        match self {
            Self::Live => None,
            Self::End(status) => Some(status),
        }
    }
}

/// What this client knows of the file: where its text is, its times, and
/// its own follow (moved to the blocking pool for each step).
struct FileSide {
    text: TextCursor,
    timed: Option<Timed>,
    follow: Option<Follow<ServedFs>>,
}

/// What one blocking step of a client's own follow gave.
enum Read {
    Text(String),
    Wait,
    /// The end, with the last bytes of a character the log never completed.
    End(String),
}

impl FileSide {
    /// One step of the follow from where the text is, rendered (blocking).
    fn step(
        &mut self,
        log: &JobLog<ServedFs>,
        liveness: &Arc<dyn Liveness>,
        settings: &Settings,
    ) -> Result<Read, StoreError> {
        let from = self.text.read();
        let follow = match self.follow.take() {
            Some(f) if f.offset() == from => self.follow.insert(f),
            _ => self
                .follow
                .insert(super::follow(log.clone(), from, liveness.clone(), settings)),
        };
        match follow.step()? {
            FollowStep::Chunk(c) => {
                let times = self.timed.as_mut().map(|t| {
                    t.refresh();
                    t as &mut dyn LineTimes
                });
                Ok(Read::Text(self.text.push(&c.bytes, times)))
            }
            FollowStep::Wait => Ok(Read::Wait),
            FollowStep::End => {
                let times = self.timed.as_mut().map(|t| t as &mut dyn LineTimes);
                Ok(Read::End(self.text.finish(times)))
            }
        }
    }
}

struct Client {
    /// `None` only while a step runs on the blocking pool.
    file: Option<FileSide>,
    status: StreamStatus,
    log: JobLog<ServedFs>,
    tx: mpsc::Sender<Bytes>,
    last_sent: Instant,
    settings: Settings,
    liveness: Arc<dyn Liveness>,
}

impl Client {
    fn file(&mut self) -> &mut FileSide {
        self.file
            .as_mut()
            .expect("the file side is back after each step")
    }

    async fn run(mut self, live: Arc<LiveLogs>) -> Result<(), Stop> {
        let ran = self.follow_log(live).await;
        if let Err(Stop::Failed(message)) = &ran {
            // Said, so a client knows not to reconnect and wait again.
            let _ = self.send(sse::error_event(message)).await;
        }
        ran
    }

    async fn follow_log(&mut self, live: Arc<LiveLogs>) -> Result<(), Stop> {
        self.send(sse::status_event(&self.status)).await?;
        let mut rx = live.subscribe(&self.log, &self.liveness);
        if let Some(status) = self.catch_up().await?.ended() {
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
                // The client left: let go of the hub now, not at the next
                // heartbeat, so a hub without clients ends at once.
                () = self.tx.closed() => return Err(Stop::Gone),
            };
            let caught = match event {
                Ok(event) => match &*event {
                    // The hub starts past this client (it missed bytes) or
                    // before it (the log was truncated or replaced since this
                    // client read it, which its own follow tells): the file.
                    HubEvent::Start(from) if *from != self.file().text.read() => {
                        Some(self.catch_up().await?)
                    }
                    HubEvent::Start(_) => None,
                    HubEvent::Bytes(piece) => self.bytes(piece).await?,
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
            if let Some(status) = caught.and_then(Caught::ended) {
                return self.end(status).await;
            }
        }
    }

    /// Bytes from the hub: the part this client has not had yet, or, if
    /// the hub is ahead of it (it missed some), a catch-up from the file.
    async fn bytes(&mut self, piece: &Piece) -> Result<Option<Caught>, Stop> {
        let Piece {
            start,
            bytes,
            line_times,
            plain,
            stamped,
        } = piece;
        let start = *start;
        let file = self.file();
        let rendered = if file.timed.is_some() { stamped } else { plain };
        if (file.text.sent(), file.text.read()) == rendered.before {
            // In step with the hub: its rendering is this client's.
            file.text = rendered.after.clone();
            if !rendered.event.is_empty() {
                self.send(rendered.event.clone()).await?;
            }
            return Ok(None);
        }
        let read = self.file().text.read();
        let end = start + bytes.len() as u64;
        if end <= read {
            return Ok(None);
        }
        if start > read {
            return Ok(Some(self.catch_up().await?));
        }
        let skip = (read - start) as usize;
        let file = self.file();
        let mut piece = PieceTimes(line_times);
        let times = file
            .timed
            .is_some()
            .then_some(&mut piece as &mut dyn LineTimes);
        let text = file.text.push(&bytes[skip..], times);
        self.log_event(text).await?;
        Ok(None)
    }

    /// Reads the log from where this client is until it has caught up with
    /// the job (or the job has finished and everything is sent).
    async fn catch_up(&mut self) -> Result<Caught, Stop> {
        loop {
            let mut file = self.file.take().expect("the file side is here");
            let (log, liveness, settings) =
                (self.log.clone(), self.liveness.clone(), self.settings);
            let (file, read) = tokio::task::spawn_blocking(move || {
                let read = file.step(&log, &liveness, &settings);
                (file, read)
            })
            .await
            .map_err(|_| Stop::Failed("a read task failed".into()))?;
            let status = file
                .follow
                .as_ref()
                .and_then(Follow::last_record)
                .map(|r| StreamStatus::of(r, &self.status.job));
            self.file = Some(file);
            match read {
                Ok(Read::Text(text)) => self.log_event(text).await?,
                Ok(Read::Wait) => {
                    if let Some(s) = status {
                        self.set_status(s).await?;
                    }
                    return Ok(Caught::Live);
                }
                Ok(Read::End(rest)) => {
                    self.log_event(rest).await?;
                    return Ok(Caught::End(status.unwrap_or_else(|| self.status.clone())));
                }
                Err(e) => {
                    tracing::error!(error = %e, "reading a log for a stream failed");
                    // The store's messages name the run and file, never a path.
                    return Err(Stop::Failed(e.to_string()));
                }
            }
        }
    }

    async fn log_event(&mut self, text: String) -> Result<(), Stop> {
        if text.is_empty() {
            return Ok(());
        }
        let sent = self.file().text.sent();
        self.send(sse::log_event(&text, sent)).await
    }

    async fn set_status(&mut self, status: StreamStatus) -> Result<(), Stop> {
        if status == self.status {
            return Ok(());
        }
        self.status = status;
        self.send(sse::status_event(&self.status)).await
    }

    /// The job has finished and its log is all sent: the last status, then `end`.
    async fn end(&mut self, status: StreamStatus) -> Result<(), Stop> {
        self.set_status(status).await?;
        let end = StreamEnd {
            job: self.status.job.clone(),
            status: self.status.status,
            failure_kind: self.status.failure_kind,
            run_status: self.status.run_status,
            offset: self.file().text.sent(),
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
