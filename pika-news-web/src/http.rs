//! [`serve_http`]: the router served by one single-threaded runtime per
//! core, each with its own share of the connections.
//!
//! Measured on the run route, tokio's work-stealing runtime spent about 15%
//! of the server's time moving work between its threads (futex wake-ups,
//! context switches). Here the caller's runtime only accepts connections
//! and hands them, in turn, to `workers` threads that each run a
//! current-thread runtime serving the same router (the way nginx's worker
//! processes share a listener): a connection stays on one thread, and its
//! tasks (a download's reader, a live stream's client) run there too. Blocking
//! work still goes to each runtime's blocking pool.

use std::future::Future;
use std::io;
use std::net::SocketAddr;

use axum::Router;
use axum::serve::Listener;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Connections waiting to be taken by one worker.
const HANDOFF_QUEUE: usize = 1024;

/// How many serving threads to run by default: one per core.
pub(crate) fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// A worker's side of the hand-off: connections accepted by the caller's
/// runtime, registered with this worker's runtime as they are taken.
struct Handoff {
    rx: mpsc::Receiver<std::net::TcpStream>,
    local: SocketAddr,
}

impl Listener for Handoff {
    type Io = TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (TcpStream, SocketAddr) {
        loop {
            let Some(std_stream) = self.rx.recv().await else {
                // No more connections will come (shutting down): graceful
                // shutdown ends the server while this waits.
                std::future::pending::<()>().await;
                unreachable!("pending never resolves");
            };
            let peer = std_stream.peer_addr();
            match (TcpStream::from_std(std_stream), peer) {
                (Ok(stream), Ok(peer)) => return (stream, peer),
                // The client left already: take the next one.
                _ => continue,
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.local)
    }
}

/// Serves `app` on `listener` until `shutdown` completes, on `workers`
/// threads (at least one); then stops accepting, lets each worker finish
/// what it is answering, and returns once all have.
pub(crate) async fn serve_http(
    mut listener: TcpListener,
    app: Router,
    workers: usize,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let local = listener.local_addr()?;
    let stop = CancellationToken::new();
    let mut queues = Vec::new();
    let mut threads = Vec::new();
    for i in 0..workers.max(1) {
        let (tx, rx) = mpsc::channel(HANDOFF_QUEUE);
        let (app, stop) = (app.clone(), stop.clone());
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let thread = std::thread::Builder::new()
            .name(format!("pika-news-http-{i}"))
            .spawn(move || {
                runtime.block_on(async move {
                    axum::serve(Handoff { rx, local }, app)
                        .with_graceful_shutdown(stop.cancelled_owned())
                        .await
                })
            })?;
        queues.push(tx);
        threads.push(thread);
    }
    tokio::pin!(shutdown);
    let mut next = 0;
    loop {
        let (stream, _) = tokio::select! {
            () = &mut shutdown => break,
            accepted = Listener::accept(&mut listener) => accepted,
        };
        // Out of this runtime's reactor, into the worker's when it takes it.
        let Ok(std_stream) = stream.into_std() else {
            continue;
        };
        // A worker whose queue is full is passed over for the next.
        let mut handoff = Some(std_stream);
        for _ in 0..queues.len() {
            let tx = &queues[next % queues.len()];
            next = next.wrapping_add(1);
            match tx.try_send(handoff.take().expect("put back when not sent")) {
                Ok(()) => break,
                Err(mpsc::error::TrySendError::Full(s) | mpsc::error::TrySendError::Closed(s)) => {
                    handoff = Some(s);
                }
            }
        }
        // Every worker full: the connection is closed (dropped).
    }
    stop.cancel();
    drop(queues);
    let joined = tokio::task::spawn_blocking(move || {
        threads.into_iter().map(|t| t.join()).collect::<Vec<_>>()
    })
    .await
    .map_err(io::Error::other)?;
    for result in joined {
        match result {
            Ok(served) => served?,
            Err(_) => return Err(io::Error::other("an HTTP worker thread panicked")),
        }
    }
    Ok(())
}
