//! [`Workers`]: one single-threaded runtime per core, each on its own
//! thread, to drive connections on.
//!
//! Measured on the run route, tokio's work-stealing runtime spent about 15%
//! of the server's time moving work between its threads (futex wake-ups,
//! context switches). The accept loop gives each connection, in turn, to
//! one of these runtimes instead (the way nginx's worker processes share a
//! listener): a connection stays on one thread, and the tasks it starts (a
//! download's reader, a live stream's client) run there too. Blocking work
//! still goes to each runtime's blocking pool.

use std::io;

use tokio::runtime::Handle;
use tokio_util::sync::CancellationToken;

/// How many serving threads to run by default: one per core.
pub(crate) fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// The serving threads and a handle to each one's runtime.
#[derive(Debug)]
pub(crate) struct Workers {
    handles: Vec<Handle>,
    threads: Vec<std::thread::JoinHandle<()>>,
    done: CancellationToken,
    next: usize,
}

impl Workers {
    /// Starts `n` threads (at least one), each running a current-thread
    /// runtime until [`Workers::finish`].
    pub(crate) fn start(n: usize) -> io::Result<Self> {
        let done = CancellationToken::new();
        let mut handles = Vec::new();
        let mut threads = Vec::new();
        for i in 0..n.max(1) {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            handles.push(runtime.handle().clone());
            let done = done.clone();
            threads.push(
                std::thread::Builder::new()
                    .name(format!("pika-news-http-{i}"))
                    .spawn(move || runtime.block_on(done.cancelled_owned()))?,
            );
        }
        Ok(Self {
            handles,
            threads,
            done,
            next: 0,
        })
    }

    /// The runtime the next connection goes to (each in turn).
    pub(crate) fn next(&mut self) -> &Handle {
        let i = self.next % self.handles.len();
        self.next = self.next.wrapping_add(1);
        &self.handles[i]
    }

    /// Stops the runtimes (whatever still runs on them is dropped) and waits
    /// for their threads.
    pub(crate) async fn finish(self) {
        self.done.cancel();
        let threads = self.threads;
        let _ = tokio::task::spawn_blocking(move || {
            for t in threads {
                let _ = t.join();
            }
        })
        .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn tasks_run_on_each_worker_in_turn() {
        let mut w = Workers::start(2).unwrap();
        let mut names = Vec::new();
        for _ in 0..4 {
            let name = w
                .next()
                .spawn(async { std::thread::current().name().map(str::to_owned) })
                .await
                .unwrap();
            names.push(name.unwrap());
        }
        assert_eq!(
            names,
            [
                "pika-news-http-0",
                "pika-news-http-1",
                "pika-news-http-0",
                "pika-news-http-1"
            ]
        );
        w.finish().await;
    }
}
