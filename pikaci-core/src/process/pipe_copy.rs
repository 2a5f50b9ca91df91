//! Moving a job's output from its pipe into the log file.
//!
//! The job writes into a pipe; a thread moves the bytes into `guest.log` with
//! `splice(2)` (no copy through user space). If the log cannot take more
//! (full disk, I/O error) or reaches its cap (`max_log_bytes`), the thread
//! keeps draining the pipe and drops the rest, so a logging problem never
//! changes the job's own result. The cap is cut by its own rule,
//! [`LogCap::write`], as the `CappedSink` writes: splicing only
//! while more than a pipe's worth fits, then reading and cutting the last
//! stretch, so the one marker line knows how the log ends.
//!
//! Each piece moved is reported to the log's [`Arrivals`] (when it keeps a
//! timestamp sidecar): one call per splice, which costs a clock read and, at
//! most once a millisecond, a 16-byte append.

use std::fs::File;
use std::io::{self, PipeReader, Read};
use std::os::unix::fs::FileExt;

use nix::errno::Errno;
use nix::fcntl::{FcntlArg, OFlag, SpliceFFlags, fcntl, splice};

use super::log_cap::LogCap;
use crate::log_times::Arrivals;

/// The pipe buffer asked for (the kernel may give less).
pub(crate) const PIPE_BUFFER: usize = 1 << 20;

/// What the copy did.
#[derive(Debug)]
pub(crate) struct CopyReport {
    /// The log's cap, with what was written and dropped counted in.
    pub(crate) cap: LogCap,
    /// Why the log stopped taking output, if it did.
    pub(crate) error: Option<io::Error>,
}

/// Grows a pipe's buffer so a chatty job blocks less often.
pub(crate) fn grow_pipe(reader: &PipeReader) {
    let _ = fcntl(reader, FcntlArg::F_SETPIPE_SZ(PIPE_BUFFER as i32));
}

/// Copies everything from `reader` to the end of `file` until the pipe
/// closes, cut by `cap`'s rule ([`LogCap::write`]: what fits, then the
/// marker, then nothing more), telling `arrivals` what arrived when. The
/// cap comes back in the report with what was written and dropped.
pub(crate) fn copy_pipe_to_file(
    reader: PipeReader,
    file: File,
    mut cap: LogCap,
    arrivals: Option<Arrivals>,
) -> CopyReport {
    let arrived = |n: usize| {
        if let Some(a) = &arrivals {
            a.advance(n as u64);
        }
    };
    let mut error = None;
    let mut offset = file.metadata().map_or(0, |m| m.len()) as i64;
    // splice(2) refuses files opened for appending; write at explicit offsets
    // instead (nobody else writes this log while the job runs).
    let flags = fcntl(&file, FcntlArg::F_GETFL)
        .ok()
        .map(OFlag::from_bits_truncate);
    if let Some(f) = flags {
        let _ = fcntl(&file, FcntlArg::F_SETFL(f - OFlag::O_APPEND));
    }
    let mut use_splice = true;
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        if error.is_some() || cap.truncated() {
            match (&reader).read(&mut buf) {
                Ok(0) => break,
                Ok(n) if error.is_some() => cap.discarded(n as u64),
                Ok(n) => {
                    cap.admit(&buf[..n]);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
            continue;
        }
        // Splicing never sees the bytes: the last stretch before the cap is
        // read and cut by the cap's rule, so the marker knows how the log
        // ends.
        if use_splice && cap.remaining() > PIPE_BUFFER as u64 {
            match splice(
                &reader,
                None,
                &file,
                Some(&mut offset),
                PIPE_BUFFER,
                SpliceFFlags::SPLICE_F_MOVE,
            ) {
                Ok(0) => break,
                Ok(n) => {
                    cap.spliced(n as u64);
                    arrived(n);
                }
                Err(Errno::EINTR | Errno::EAGAIN) => {}
                // A file system without splice support: copy instead.
                Err(Errno::EINVAL) if cap.written() == 0 => use_splice = false,
                Err(e) => error = Some(io::Error::from(e)),
            }
            continue;
        }
        match (&reader).read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                let at = &mut offset;
                let written = cap.write(&buf[..n], |bytes| {
                    file.write_all_at(bytes, *at as u64)?;
                    *at += bytes.len() as i64;
                    Ok(())
                });
                match written {
                    Ok(written) => {
                        arrived(written.bytes);
                        error = written.marker_error;
                    }
                    Err(e) => error = Some(e),
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                error = Some(e);
                break;
            }
        }
    }
    if let Some(f) = flags {
        let _ = fcntl(&file, FcntlArg::F_SETFL(f));
    }
    if let Some(a) = &arrivals {
        a.flush();
    }
    CopyReport { cap, error }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn copies_everything_after_what_the_file_already_holds() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .unwrap();
        (&file).write_all(b"header\n").unwrap();
        let (r, mut w) = std::io::pipe().unwrap();
        grow_pipe(&r);
        let writer = std::thread::spawn(move || {
            for i in 0..20_000 {
                writeln!(w, "line {i}").unwrap();
            }
        });
        let report = copy_pipe_to_file(r, file.try_clone().unwrap(), LogCap::new(u64::MAX), None);
        writer.join().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("header\nline 0\n"));
        assert!(text.ends_with("line 19999\n"));
        assert_eq!(report.cap.written() as usize, text.len() - 7);
        assert!(report.error.is_none());
        // The file is appending again afterwards.
        (&file).write_all(b"tail\n").unwrap();
        assert!(
            std::fs::read_to_string(&path)
                .unwrap()
                .ends_with("line 19999\ntail\n")
        );
    }

    #[test]
    fn a_log_that_fails_is_drained_so_the_writer_never_blocks() {
        let dir = tempfile::tempdir().unwrap();
        // A read-only handle: every write fails.
        let path = dir.path().join("log");
        std::fs::write(&path, "").unwrap();
        let file = File::open(&path).unwrap();
        let (r, mut w) = std::io::pipe().unwrap();
        let writer = std::thread::spawn(move || {
            let chunk = vec![b'x'; 64 * 1024];
            for _ in 0..64 {
                w.write_all(&chunk).unwrap();
            }
        });
        let report = copy_pipe_to_file(r, file, LogCap::new(u64::MAX), None);
        writer
            .join()
            .expect("the writer finished: the pipe was drained");
        assert!(report.error.is_some());
        assert_eq!(report.cap.written() + report.cap.dropped(), 64 * 64 * 1024);
    }

    #[test]
    fn the_cap_cuts_the_log_with_one_marker_and_the_pipe_is_still_drained() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .unwrap();
        let (r, mut w) = std::io::pipe().unwrap();
        grow_pipe(&r);
        // 8 MiB of lines, far past a 3 MiB + 5 byte cap (and past the pipe).
        let limit = 3 * (1 << 20) + 5;
        let writer = std::thread::spawn(move || {
            let line = [b'x'; 1023];
            for _ in 0..8 * 1024 {
                w.write_all(&line).unwrap();
                w.write_all(b"\n").unwrap();
            }
        });
        let report = copy_pipe_to_file(r, file, LogCap::new(limit), None);
        writer
            .join()
            .expect("the writer finished: the pipe was drained");
        assert!(report.cap.truncated());
        assert_eq!(report.cap.written(), limit);
        assert_eq!(report.cap.written() + report.cap.dropped(), 8 << 20);
        let text = std::fs::read(&path).unwrap();
        let marker = crate::process::truncation_marker(limit, false);
        assert_eq!(text.len() as u64, limit + marker.len() as u64);
        assert!(text.ends_with(marker.as_bytes()));
        assert!(
            text[..limit as usize]
                .iter()
                .all(|&b| b == b'x' || b == b'\n')
        );
    }
}
