//! When each part of a log arrived, kept beside the log without touching its
//! bytes: the format of the `<log>.ts` sidecar and its writer, [`Arrivals`].
//!
//! The sidecar is a 16-byte header ([`MAGIC`]) and then records of 16 bytes,
//! each two little-endian numbers: `end` (u64), the log's size just after a
//! write, and `ms` (i64), the Unix time in milliseconds the write arrived.
//! Records are appended in order, `end` never goes down, and one record
//! covers the bytes between the previous record's `end` and its own. Writes
//! that arrive within the same millisecond share one record, so a log that
//! floods costs at most one record per millisecond (16 bytes: 16 KB a
//! second) however many writes it makes; a quiet one costs one record per
//! write. Nothing is fsynced: the sidecar is as durable as the log.
//!
//! Reading: the time of byte `b` is the `ms` of the first record whose
//! `end > b`; bytes after the last record (written in the millisecond of the
//! last record and not yet recorded, or just now) take the last record's
//! time. A torn last record (a crash mid-write) is ignored.

use std::io::{self, Write};
use std::sync::{Arc, Mutex};

use crate::clock::Clock;

/// The first 16 bytes of every sidecar: its format and version.
pub const MAGIC: [u8; 16] = *b"pikaci-log-ts/1\n";
/// The size of one record.
pub const RECORD_LEN: usize = 16;
/// The sidecar's file name suffix: `guest.log` → `guest.log.ts`.
pub const SUFFIX: &str = ".ts";

/// One record: the bytes up to `end` arrived by Unix millisecond `ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRecord {
    /// The log's size after the write.
    pub end: u64,
    /// When the write arrived, in Unix milliseconds.
    pub ms: i64,
}

impl TimeRecord {
    /// The record's 16 bytes.
    pub fn encode(self) -> [u8; RECORD_LEN] {
        let mut out = [0u8; RECORD_LEN];
        out[..8].copy_from_slice(&self.end.to_le_bytes());
        out[8..].copy_from_slice(&self.ms.to_le_bytes());
        out
    }

    /// A record from its 16 bytes.
    pub fn decode(bytes: &[u8; RECORD_LEN]) -> Self {
        let (end, ms) = bytes.split_at(8);
        Self {
            end: u64::from_le_bytes(end.try_into().expect("8 bytes")),
            ms: i64::from_le_bytes(ms.try_into().expect("8 bytes")),
        }
    }
}

/// Records arrivals into a sidecar: shared (cloned) by everything that writes
/// one log, e.g. a log writer and the thread that splices a job's output
/// into the same file. Each writer says how many bytes it appended
/// ([`Arrivals::advance`]); the time comes from the clock.
///
/// A sidecar that fails to take a record stops being written (the log itself
/// never depends on it). The record held back for the current millisecond is
/// written when the next millisecond's arrives, at [`Arrivals::flush`], or
/// when the last handle is dropped.
#[derive(Clone)]
pub struct Arrivals {
    inner: Arc<Mutex<Inner>>,
}

impl std::fmt::Debug for Arrivals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Arrivals").finish_non_exhaustive()
    }
}

struct Inner {
    out: Option<Box<dyn Write + Send>>,
    clock: Arc<dyn Clock>,
    /// The log's size as far as recorded or held back.
    end: u64,
    /// The millisecond of the last record written.
    last_ms: Option<i64>,
    /// The end of writes in `last_ms` not written yet.
    held: Option<u64>,
}

impl Arrivals {
    /// Records arrivals into `sidecar` for a log that holds `log_len` bytes
    /// now. A new (empty) sidecar needs its header first:
    /// [`Arrivals::create`].
    pub fn resume(sidecar: Box<dyn Write + Send>, log_len: u64, clock: Arc<dyn Clock>) -> Self {
        Self {
            inner: Arc::new(Mutex::new(Inner {
                out: Some(sidecar),
                clock,
                end: log_len,
                last_ms: None,
                held: None,
            })),
        }
    }

    /// Writes the header into a new, empty `sidecar`, then as [`resume`](Self::resume).
    pub fn create(
        mut sidecar: Box<dyn Write + Send>,
        log_len: u64,
        clock: Arc<dyn Clock>,
    ) -> io::Result<Self> {
        sidecar.write_all(&MAGIC)?;
        Ok(Self::resume(sidecar, log_len, clock))
    }

    /// `n` more bytes were appended to the log just now.
    pub fn advance(&self, n: u64) {
        if n == 0 {
            return;
        }
        let mut inner = self.lock();
        let ms = inner.clock.now().as_millisecond();
        inner.end += n;
        let end = inner.end;
        if inner.last_ms == Some(ms) {
            inner.held = Some(end);
            return;
        }
        let mut buf = [0u8; 2 * RECORD_LEN];
        let mut len = 0;
        if let (Some(held), Some(last)) = (inner.held.take(), inner.last_ms) {
            buf[..RECORD_LEN].copy_from_slice(
                &TimeRecord {
                    end: held,
                    ms: last,
                }
                .encode(),
            );
            len = RECORD_LEN;
        }
        buf[len..len + RECORD_LEN].copy_from_slice(&TimeRecord { end, ms }.encode());
        inner.last_ms = Some(ms);
        inner.write(&buf[..len + RECORD_LEN]);
    }

    /// Writes the record held back for the current millisecond, if any.
    pub fn flush(&self) {
        self.lock().flush_held();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // Each update is a few assignments: a panic cannot leave it half done.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Inner {
    fn write(&mut self, bytes: &[u8]) {
        if let Some(out) = &mut self.out
            && out.write_all(bytes).is_err()
        {
            // A sidecar that cannot take a record (full disk) stops here;
            // what it holds stays readable.
            self.out = None;
        }
    }

    fn flush_held(&mut self) {
        if let (Some(end), Some(ms)) = (self.held.take(), self.last_ms) {
            self.write(&TimeRecord { end, ms }.encode());
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.flush_held();
    }
}

/// The time of the byte at `offset` among `records` (sorted by `end`): see
/// the module docs. `None` when there are no records.
pub fn time_of(records: &[TimeRecord], offset: u64) -> Option<i64> {
    let i = records.partition_point(|r| r.end <= offset);
    records.get(i).or(records.last()).map(|r| r.ms)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicI64, Ordering};

    use jiff::Timestamp;

    use super::*;

    struct Ticks(AtomicI64);

    impl Clock for Ticks {
        fn now(&self) -> Timestamp {
            Timestamp::from_millisecond(self.0.load(Ordering::SeqCst)).unwrap()
        }
    }

    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn records(bytes: &[u8]) -> Vec<TimeRecord> {
        assert_eq!(&bytes[..16], &MAGIC);
        bytes[16..]
            .chunks_exact(RECORD_LEN)
            .map(|c| TimeRecord::decode(c.try_into().unwrap()))
            .collect()
    }

    #[test]
    fn one_record_per_millisecond_written_when_the_next_one_comes() {
        let clock = Arc::new(Ticks(AtomicI64::new(1000)));
        let out = Shared::default();
        let a = Arrivals::create(Box::new(out.clone()), 5, clock.clone()).unwrap();
        a.advance(10); // ms 1000: 5..15
        a.advance(3); // still 1000: held back
        assert_eq!(records(&out.0.lock().unwrap()).len(), 1);
        clock.0.store(1007, Ordering::SeqCst);
        let b = a.clone();
        b.advance(2); // ms 1007: the held one, then this
        a.advance(0);
        let r = records(&out.0.lock().unwrap());
        assert_eq!(
            r,
            [
                TimeRecord { end: 15, ms: 1000 },
                TimeRecord { end: 18, ms: 1000 },
                TimeRecord { end: 20, ms: 1007 },
            ]
        );
        b.advance(1); // held back in 1007, written when the last handle goes
        drop(a);
        assert_eq!(records(&out.0.lock().unwrap()).len(), 3);
        drop(b);
        let r = records(&out.0.lock().unwrap());
        assert_eq!(r[3], TimeRecord { end: 21, ms: 1007 });
        // Reading: each byte by the first record that ends after it.
        assert_eq!(time_of(&r, 0), Some(1000));
        assert_eq!(time_of(&r, 17), Some(1000));
        assert_eq!(time_of(&r, 18), Some(1007));
        assert_eq!(time_of(&r, 99), Some(1007), "past the last: the last");
        assert_eq!(time_of(&[], 0), None);
    }

    #[test]
    fn a_failing_sidecar_is_given_up_quietly() {
        struct Full;
        impl Write for Full {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::Error::new(io::ErrorKind::StorageFull, "full"))
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let clock = Arc::new(Ticks(AtomicI64::new(1)));
        assert!(Arrivals::create(Box::new(Full), 0, clock.clone()).is_err());
        let a = Arrivals::resume(Box::new(Full), 0, clock);
        a.advance(5);
        a.advance(5);
        assert!(a.lock().out.is_none());
    }
}
