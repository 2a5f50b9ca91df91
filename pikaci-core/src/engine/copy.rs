//! Moving a job's output from its pipe into the log file.
//!
//! The job writes into a pipe; a thread moves the bytes into `guest.log` with
//! `splice(2)` (no copy through user space). If the log cannot take more
//! (full disk, I/O error) or reaches its cap (`max_log_bytes`), the thread
//! keeps draining the pipe and drops the rest, so a logging problem never
//! changes the job's own result. At the cap one marker line is written.
//!
//! Each piece moved is reported to the log's [`Arrivals`] (when it keeps a
//! timestamp sidecar): one call per splice, which costs a clock read and, at
//! most once a millisecond, a 16-byte append.

use std::fs::File;
use std::io::{self, PipeReader, Read};
use std::os::unix::fs::FileExt;

use nix::errno::Errno;
use nix::fcntl::{FcntlArg, OFlag, SpliceFFlags, fcntl, splice};

use super::log_cap::{LogCap, truncation_marker};
use crate::log_times::Arrivals;

/// The pipe buffer asked for (the kernel may give less).
pub(crate) const PIPE_BUFFER: usize = 1 << 20;

/// What the copy did.
#[derive(Debug, Default)]
pub(crate) struct CopyReport {
    /// Bytes written to the log.
    pub(crate) written: u64,
    /// Bytes read and dropped after the log failed.
    pub(crate) dropped: u64,
    /// Why the log stopped taking output, if it did.
    pub(crate) error: Option<io::Error>,
    /// Whether output went past the cap (the marker was written).
    pub(crate) cut: bool,
}

/// Grows a pipe's buffer so a chatty job blocks less often.
pub(crate) fn grow_pipe(reader: &PipeReader) {
    let _ = fcntl(reader, FcntlArg::F_SETPIPE_SZ(PIPE_BUFFER as i32));
}

/// Copies everything from `reader` to the end of `file` until the pipe
/// closes, at most what `cap` has left (then the marker naming the cap,
/// then nothing more), telling `arrivals` what arrived when.
pub(crate) fn copy_pipe_to_file(
    reader: PipeReader,
    file: File,
    cap: Option<LogCap>,
    arrivals: Option<Arrivals>,
) -> CopyReport {
    let arrived = |n: usize| {
        if let Some(a) = &arrivals {
            a.advance(n as u64);
        }
    };
    let mut report = CopyReport::default();
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
    let mut remaining = cap.as_ref().map_or(u64::MAX, LogCap::remaining);
    // Whether the last byte copied was a newline (the marker's line start).
    let mut at_line_start = true;
    loop {
        if report.error.is_some() || report.cut {
            match (&reader).read(&mut buf) {
                Ok(0) => break,
                Ok(n) => report.dropped += n as u64,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
            continue;
        }
        // Splicing never sees the bytes: the last stretch before the cap is
        // copied, so the marker knows how the log ends.
        if use_splice && remaining > PIPE_BUFFER as u64 {
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
                    report.written += n as u64;
                    remaining -= n as u64;
                    arrived(n);
                }
                Err(Errno::EINTR | Errno::EAGAIN) => {}
                // A file system without splice support: copy instead.
                Err(Errno::EINVAL) if report.written == 0 => use_splice = false,
                Err(e) => report.error = Some(io::Error::from(e)),
            }
            continue;
        }
        match (&reader).read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                let keep = n.min(usize::try_from(remaining).unwrap_or(usize::MAX));
                match file.write_all_at(&buf[..keep], offset as u64) {
                    Ok(()) => {
                        offset += keep as i64;
                        report.written += keep as u64;
                        remaining -= keep as u64;
                        arrived(keep);
                        if keep > 0 {
                            at_line_start = buf[keep - 1] == b'\n';
                        }
                    }
                    Err(e) => {
                        report.dropped += n as u64;
                        report.error = Some(e);
                        continue;
                    }
                }
                if keep < n {
                    report.dropped += (n - keep) as u64;
                    report.cut = true;
                    let limit = cap.as_ref().map_or(0, LogCap::limit);
                    let marker = truncation_marker(limit, at_line_start);
                    match file.write_all_at(marker.as_bytes(), offset as u64) {
                        Ok(()) => arrived(marker.len()),
                        Err(e) => report.error = Some(e),
                    }
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                report.error = Some(e);
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
    report
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
        let report = copy_pipe_to_file(r, file.try_clone().unwrap(), None, None);
        writer.join().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("header\nline 0\n"));
        assert!(text.ends_with("line 19999\n"));
        assert_eq!(report.written as usize, text.len() - 7);
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
        let report = copy_pipe_to_file(r, file, None, None);
        writer
            .join()
            .expect("the writer finished: the pipe was drained");
        assert!(report.error.is_some());
        assert_eq!(report.written + report.dropped, 64 * 64 * 1024);
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
        let report = copy_pipe_to_file(r, file, Some(LogCap::new(limit)), None);
        writer
            .join()
            .expect("the writer finished: the pipe was drained");
        assert!(report.cut);
        assert_eq!(report.written, limit);
        assert_eq!(report.written + report.dropped, 8 << 20);
        let text = std::fs::read(&path).unwrap();
        let marker = crate::engine::truncation_marker(limit, false);
        assert_eq!(text.len() as u64, limit + marker.len() as u64);
        assert!(text.ends_with(marker.as_bytes()));
        assert!(
            text[..limit as usize]
                .iter()
                .all(|&b| b == b'x' || b == b'\n')
        );
    }

    #[test]
    fn exactly_the_cap_is_not_cut() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let file = std::fs::File::create(&path).unwrap();
        let (r, mut w) = std::io::pipe().unwrap();
        let writer = std::thread::spawn(move || w.write_all(&[b'y'; 5000]).unwrap());
        let report = copy_pipe_to_file(r, file, Some(LogCap::new(5000)), None);
        writer.join().unwrap();
        assert!(!report.cut);
        assert_eq!(std::fs::read(&path).unwrap().len(), 5000);
    }
}
