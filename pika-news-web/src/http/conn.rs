//! The accept loop ([`serve_router`]) and the life of one connection.
//!
//! - Connections are handed, in turn, to one of several single-threaded
//!   runtimes ([`Workers`]), one per core.
//! - Every connection is driven by hyper's HTTP/1.1 connection with a
//!   header-read timeout (hyper times the request head from the moment it
//!   waits for one).
//! - A watchdog per connection closes it once it has had no request in
//!   flight for the idle timeout (or, before its first request, for the
//!   header-read timeout: a second line of defence behind hyper's), and
//!   once an answer being sent has made no progress for the send timeout
//!   (hyper takes no more of its body because the client reads nothing):
//!   closing it frees what the answer holds.
//! - A registry counts connections. At the cap a new connection replaces
//!   the one most worth losing: the oldest that never sent a whole request,
//!   else the one idle longest. When every connection has a request in
//!   flight, new clients wait in the listen backlog. Running out of file
//!   descriptors while accepting evicts the same way.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt as _;

use super::limits::HttpLimits;
use super::workers::Workers;

/// One connection, as the registry and its watchdog see it.
struct ConnState {
    id: u64,
    accepted: Instant,
    in_flight: AtomicUsize,
    served: AtomicBool,
    /// When the last response ended, in milliseconds after `accepted`.
    last_done_ms: AtomicU64,
    /// Response bodies being sent.
    sending: AtomicUsize,
    /// Bumped when a body begins and each time hyper takes a piece of it
    /// (a count, not a time: no clock read on the request path).
    progress: AtomicU64,
    /// The watchdog's last look at `progress`: the count it saw, and when
    /// (milliseconds after `accepted`) it first saw that count.
    seen_progress: AtomicU64,
    seen_progress_ms: AtomicU64,
    evict: CancellationToken,
}

impl ConnState {
    fn idle(&self) -> bool {
        self.in_flight.load(Ordering::Acquire) == 0
    }

    fn served(&self) -> bool {
        self.served.load(Ordering::Acquire)
    }

    /// Since when the connection has been waiting for a request.
    fn waiting_since(&self) -> Instant {
        self.accepted + Duration::from_millis(self.last_done_ms.load(Ordering::Acquire))
    }

    /// Milliseconds from `accepted` to `at`.
    fn ms_at(&self, at: Instant) -> u64 {
        let since = at.saturating_duration_since(self.accepted);
        u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
    }

    /// Notes that a body made progress (began, or hyper took a piece).
    fn progressed(&self) {
        self.progress.fetch_add(1, Ordering::Release);
    }

    /// Whether an answer is being sent and the watchdog has seen it make no
    /// progress for the send timeout (measured from the watchdog's first
    /// look after the last progress: at most a tick late).
    fn stalled(&self, now: Instant, limits: &HttpLimits) -> bool {
        let count = self.progress.load(Ordering::Acquire);
        let now_ms = self.ms_at(now);
        if self.seen_progress.swap(count, Ordering::AcqRel) != count {
            self.seen_progress_ms.store(now_ms, Ordering::Release);
            return false;
        }
        if self.sending.load(Ordering::Acquire) == 0 {
            return false;
        }
        let since = self.seen_progress_ms.load(Ordering::Acquire);
        Duration::from_millis(now_ms.saturating_sub(since)) >= limits.send_timeout
    }

    fn expired(&self, now: Instant, limits: &HttpLimits) -> bool {
        if !self.idle() {
            return self.stalled(now, limits);
        }
        let limit = if self.served() {
            limits.idle_timeout
        } else {
            limits.header_read_timeout
        };
        now.saturating_duration_since(self.waiting_since()) >= limit
    }
}

/// Counts a request in flight until the response body is done or dropped.
struct InFlight(Arc<ConnState>);

impl InFlight {
    fn begin(state: Arc<ConnState>) -> Self {
        state.served.store(true, Ordering::Release);
        state.in_flight.fetch_add(1, Ordering::AcqRel);
        Self(state)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0
            .last_done_ms
            .store(self.0.ms_at(Instant::now()), Ordering::Release);
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Counts a body as being sent while it lives.
struct Sending(Arc<ConnState>);

impl Sending {
    fn begin(state: Arc<ConnState>) -> Self {
        state.progressed();
        state.sending.fetch_add(1, Ordering::AcqRel);
        Self(state)
    }
}

impl Drop for Sending {
    fn drop(&mut self) {
        self.0.sending.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A response body that keeps its request counted until it is sent, and
/// notes each piece hyper takes of it.
struct Tracked {
    inner: Body,
    sending: Sending,
    _in_flight: InFlight,
}

impl http_body::Body for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(Some(Ok(_)))) {
            this.sending.0.progressed();
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The connections being served.
#[derive(Default)]
struct Registry {
    conns: Mutex<BTreeMap<u64, Arc<ConnState>>>,
    next_id: AtomicU64,
    freed: Notify,
}

impl Registry {
    fn add(&self) -> Arc<ConnState> {
        let state = Arc::new(ConnState {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            accepted: Instant::now(),
            in_flight: AtomicUsize::new(0),
            served: AtomicBool::new(false),
            last_done_ms: AtomicU64::new(0),
            sending: AtomicUsize::new(0),
            progress: AtomicU64::new(0),
            seen_progress: AtomicU64::new(0),
            seen_progress_ms: AtomicU64::new(0),
            evict: CancellationToken::new(),
        });
        self.lock().insert(state.id, state.clone());
        state
    }

    fn remove(&self, id: u64) {
        self.lock().remove(&id);
        self.freed.notify_one();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Arc<ConnState>>> {
        self.conns.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Connections not already being evicted.
    fn live(&self) -> usize {
        self.lock()
            .values()
            .filter(|c| !c.evict.is_cancelled())
            .count()
    }

    /// Whether some connection has no request in flight.
    fn any_idle(&self) -> bool {
        self.lock()
            .values()
            .any(|c| !c.evict.is_cancelled() && c.idle())
    }

    /// Closes the connection most worth losing (see the module's comment);
    /// `false` when every connection has a request in flight.
    fn evict_one(&self) -> bool {
        let conns = self.lock();
        let victim = conns
            .values()
            .filter(|c| !c.evict.is_cancelled() && c.idle())
            .min_by_key(|c| (c.served(), c.waiting_since()));
        match victim {
            Some(c) => {
                c.evict.cancel();
                true
            }
            None => false,
        }
    }
}

/// Whether an accept failed for want of descriptors or memory.
fn out_of_resources(e: &std::io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}

/// Serves `app` on `listener` under `limits`, at most `cap` connections at
/// once, until `shutdown` completes; then stops accepting, lets requests in
/// flight finish for [`HttpLimits::shutdown_grace`] and closes the rest.
/// Connections are driven on `workers` single-threaded runtimes, each in
/// turn (see `Workers`); this runtime only accepts.
pub async fn serve_router(
    listener: TcpListener,
    app: Router,
    limits: HttpLimits,
    cap: usize,
    workers: usize,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let mut workers = Workers::start(workers)?;
    let registry = Arc::new(Registry::default());
    let stop = CancellationToken::new();
    let mut tasks = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        while tasks.try_join_next().is_some() {}
        if registry.live() >= cap && !registry.any_idle() {
            // Every slot has a request in flight: new clients wait in the backlog.
            tokio::select! {
                () = &mut shutdown => break,
                () = registry.freed.notified() => {}
                () = tokio::time::sleep(Duration::from_millis(100)) => {}
            }
            continue;
        }
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, _)) => {
                if registry.live() >= cap {
                    registry.evict_one();
                }
                // Out of this runtime's reactor, into the worker's.
                let Ok(stream) = stream.into_std() else {
                    continue;
                };
                let state = registry.add();
                let (app, limits, stop, registry) =
                    (app.clone(), limits.clone(), stop.clone(), registry.clone());
                tasks.spawn_on(
                    async move {
                        match TcpStream::from_std(stream) {
                            Ok(stream) => drive(stream, app, state, limits, stop, registry).await,
                            Err(_) => registry.remove(state.id),
                        }
                    },
                    workers.next(),
                );
            }
            Err(e) if out_of_resources(&e) => {
                tracing::warn!(error = %e, "out of descriptors accepting a connection");
                registry.evict_one();
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Err(e) => {
                tracing::debug!(error = %e, "accepting a connection failed");
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
    }
    drop(listener);
    stop.cancel();
    let drain = async { while tasks.join_next().await.is_some() {} };
    if tokio::time::timeout(limits.shutdown_grace, drain)
        .await
        .is_err()
    {
        tasks.abort_all();
        while tasks.join_next().await.is_some() {}
    }
    workers.finish().await;
    Ok(())
}

/// Serves one connection until it ends, times out, is evicted or the
/// server stops.
async fn drive(
    stream: TcpStream,
    app: Router,
    state: Arc<ConnState>,
    limits: HttpLimits,
    stop: CancellationToken,
    registry: Arc<Registry>,
) {
    let _ = stream.set_nodelay(true);
    let for_requests = state.clone();
    let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
        let in_flight = InFlight::begin(for_requests.clone());
        let call = app.clone().oneshot(req.map(Body::new));
        async move {
            let response = match call.await {
                Ok(r) => r,
                Err(never) => match never {},
            };
            Ok::<_, Infallible>(response.map(|inner| {
                Body::new(Tracked {
                    inner,
                    sending: Sending::begin(in_flight.0.clone()),
                    _in_flight: in_flight,
                })
            }))
        }
    });
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true);
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    let tick = (limits
        .header_read_timeout
        .min(limits.idle_timeout)
        .min(limits.send_timeout)
        / 4)
    .clamp(Duration::from_millis(50), Duration::from_secs(1));
    let mut stopping = false;
    loop {
        tokio::select! {
            _ = conn.as_mut() => break,
            () = state.evict.cancelled() => break,
            () = stop.cancelled(), if !stopping => {
                stopping = true;
                conn.as_mut().graceful_shutdown();
            }
            () = tokio::time::sleep(tick) => {
                if state.expired(Instant::now(), &limits) {
                    break;
                }
            }
        }
    }
    registry.remove(state.id);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn eviction_takes_the_oldest_connection_that_never_sent_a_request() {
        let r = Registry::default();
        let served = r.add();
        InFlight::begin(served.clone());
        tokio::time::advance(Duration::from_secs(1)).await;
        let old_unserved = r.add();
        tokio::time::advance(Duration::from_secs(1)).await;
        let new_unserved = r.add();
        let busy = r.add();
        let _request = InFlight::begin(busy.clone());
        assert_eq!(r.live(), 4);
        assert!(r.evict_one());
        assert!(old_unserved.evict.is_cancelled());
        assert!(r.evict_one());
        assert!(new_unserved.evict.is_cancelled());
        assert!(r.evict_one(), "then the idle kept-alive one");
        assert!(served.evict.is_cancelled());
        assert!(!r.evict_one(), "never one with a request in flight");
        assert!(!busy.evict.is_cancelled());
        assert_eq!(r.live(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn an_answer_that_makes_no_progress_for_the_send_timeout_expires() {
        let limits = HttpLimits {
            send_timeout: Duration::from_secs(5),
            ..HttpLimits::default()
        };
        let r = Registry::default();
        let c = r.add();
        let _request = InFlight::begin(c.clone());
        // A handler still working is not a stalled answer.
        tokio::time::advance(Duration::from_secs(30)).await;
        assert!(!c.expired(Instant::now(), &limits));
        let sending = Sending::begin(c.clone());
        // The watchdog looks every tick; a body that began is progress.
        assert!(!c.expired(Instant::now(), &limits));
        tokio::time::advance(Duration::from_secs(4)).await;
        assert!(!c.expired(Instant::now(), &limits));
        // hyper takes a piece: the clock starts again at the next look.
        c.progressed();
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(!c.expired(Instant::now(), &limits));
        tokio::time::advance(Duration::from_secs(4)).await;
        assert!(!c.expired(Instant::now(), &limits));
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(
            c.expired(Instant::now(), &limits),
            "5 s without the client taking anything"
        );
        drop(sending);
        assert!(!c.expired(Instant::now(), &limits), "nothing being sent");
    }

    #[tokio::test(start_paused = true)]
    async fn idle_and_header_timeouts() {
        let limits = HttpLimits {
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(3),
            ..HttpLimits::default()
        };
        let r = Registry::default();
        let c = r.add();
        tokio::time::advance(Duration::from_secs(9)).await;
        assert!(!c.expired(Instant::now(), &limits));
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(
            c.expired(Instant::now(), &limits),
            "no whole request in 10 s"
        );
        let request = InFlight::begin(c.clone());
        tokio::time::advance(Duration::from_secs(60)).await;
        assert!(
            !c.expired(Instant::now(), &limits),
            "a request in flight never expires"
        );
        drop(request);
        tokio::time::advance(Duration::from_secs(2)).await;
        assert!(!c.expired(Instant::now(), &limits));
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(
            c.expired(Instant::now(), &limits),
            "idle 3 s after its response"
        );
    }
}
