//! [`HttpLimits`]: `[http]` of `pika-news.toml`.

use std::time::Duration;

/// File descriptors kept for everything but client connections: the
/// database, lanes' pipes and logs, git, the state root.
pub const RESERVED_FDS: u64 = 64;

/// Connection timeouts and limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpLimits {
    /// How long a client has to send a whole request head, from the moment
    /// the server waits for it (a new connection, or the end of the previous
    /// response on a kept-alive one).
    pub header_read_timeout: Duration,
    /// How long a kept-alive connection may sit with no request in flight
    /// after its last response. hyper's header clock also runs meanwhile,
    /// so the lower of the two applies between requests.
    pub idle_timeout: Duration,
    /// The most connections served at once (also kept under the open-file
    /// limit, less [`RESERVED_FDS`]). At the cap, a new connection replaces
    /// the oldest one with no request in flight.
    pub max_connections: usize,
    /// How long an answer being sent may make no progress (the client
    /// reads none of it) before its connection is closed, which frees
    /// what the answer holds (a heavy-read permit, its buffers). A live
    /// stream sends a heartbeat well within it.
    pub send_timeout: Duration,
    /// How long, on shutdown, requests in flight get to finish.
    pub shutdown_grace: Duration,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(30),
            max_connections: 1024,
            send_timeout: Duration::from_secs(60),
            shutdown_grace: Duration::from_secs(5),
        }
    }
}

impl HttpLimits {
    /// From the configuration file's values (defaults for what is left out;
    /// zeros are raised to the smallest useful value).
    pub fn from_settings(
        header_read_timeout_secs: Option<u64>,
        idle_timeout_secs: Option<u64>,
        max_connections: Option<usize>,
        send_timeout_secs: Option<u64>,
    ) -> Self {
        let d = Self::default();
        Self {
            header_read_timeout: header_read_timeout_secs
                .map_or(d.header_read_timeout, |s| Duration::from_secs(s.max(1))),
            idle_timeout: idle_timeout_secs
                .map_or(d.idle_timeout, |s| Duration::from_secs(s.max(1))),
            max_connections: max_connections.map_or(d.max_connections, |n| n.max(1)),
            send_timeout: send_timeout_secs
                .map_or(d.send_timeout, |s| Duration::from_secs(s.max(1))),
            shutdown_grace: d.shutdown_grace,
        }
    }

    /// The connection cap under an open-file limit of `nofile` (`None`:
    /// unknown): never more than the descriptors left after
    /// [`RESERVED_FDS`], and at least 1.
    pub fn connection_cap(&self, nofile: Option<u64>) -> usize {
        let by_files = nofile.map_or(usize::MAX, |n| {
            usize::try_from(n.saturating_sub(RESERVED_FDS)).unwrap_or(usize::MAX)
        });
        self.max_connections.min(by_files).max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_stays_under_the_file_limit() {
        let l = HttpLimits::default();
        assert_eq!(l.connection_cap(None), 1024);
        assert_eq!(l.connection_cap(Some(256)), 192);
        assert_eq!(l.connection_cap(Some(10)), 1);
        assert_eq!(l.connection_cap(Some(1 << 20)), 1024);
        let l = HttpLimits::from_settings(Some(0), Some(2), Some(0), Some(0));
        assert_eq!(l.header_read_timeout, Duration::from_secs(1));
        assert_eq!(l.send_timeout, Duration::from_secs(1));
        assert_eq!(l.idle_timeout, Duration::from_secs(2));
        assert_eq!(l.max_connections, 1);
    }
}
