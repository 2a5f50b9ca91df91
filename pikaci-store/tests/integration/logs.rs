//! Job logs through the read handles: streaming, ranges, whole reads,
//! following, the default job, and link refusal.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use camino::Utf8Path;
use pikaci_core::{JobId, LogFile, RunStatus};
use pikaci_store::{
    EntryKind, FollowStep, Fs, LogRange, MemFs, ReadAt, StateRoot, Store, StoreError,
};

use crate::support::{build_job, default_guest_log, record, running_record};

fn streamed_logs_are_readable_while_written<F: Fs + Clone>(s: &Store<F>) {
    let r = record(1);
    s.persist_run_record(&r).unwrap();
    let job = build_job();
    let mut guest = s.open_job_log(&r.run_id, &job, LogFile::Guest).unwrap();
    guest.write_all(b"line 1\n").unwrap();
    let dir = s.run(&r.run_id).unwrap().job(Some(&job)).unwrap();
    let log = dir.log(LogFile::Guest);
    assert_eq!(log.read(LogRange::Whole).unwrap().text, "line 1\n");
    guest.write_all(b"line 2\n").unwrap();
    let g = log.read(LogRange::Whole).unwrap();
    assert_eq!(g.text, "line 1\nline 2\n");
    assert_eq!((g.total_size, g.truncated, g.exists), (14, false, true));
    let h = dir.log(LogFile::Host).read(LogRange::Whole).unwrap();
    assert!(!h.exists && h.text.is_empty());
    assert_eq!(log.size().unwrap(), Some(14));
    assert_eq!(dir.log(LogFile::Host).size().unwrap(), None);
    assert!(dir.log(LogFile::Host).open().unwrap().is_none());

    // A whole read through a reused buffer, and the reader sees appends.
    let reader = log.open().unwrap().unwrap();
    let mut buf = [0u8; 4];
    assert_eq!(reader.read_at(&mut buf, 7).unwrap(), 4);
    assert_eq!(&buf, b"line");
    guest.write_all(b"line 3\n").unwrap();
    assert_eq!(reader.size().unwrap(), 21);
    assert_eq!(reader.read_at(&mut buf, 19).unwrap(), 2);
    assert_eq!(reader.read_at(&mut buf, 21).unwrap(), 0);
}

fn ranges_at_the_edges<F: Fs + Clone>(s: &Store<F>) {
    let r = record(2);
    s.persist_run_record(&r).unwrap();
    let job = build_job();
    // An empty log.
    s.open_job_log(&r.run_id, &job, LogFile::Host).unwrap();
    let dir = s.run(&r.run_id).unwrap().job(Some(&job)).unwrap();
    let empty = dir.log(LogFile::Host).read(LogRange::Tail(10)).unwrap();
    assert_eq!(
        (empty.text.as_str(), empty.exists, empty.truncated),
        ("", true, false)
    );

    s.open_job_log(&r.run_id, &job, LogFile::Guest)
        .unwrap()
        .write_all(b"0123456789")
        .unwrap();
    let read = |range| dir.log(LogFile::Guest).read(range).unwrap();
    // Tail larger than the log: the whole log, not truncated.
    let g = read(LogRange::Tail(100));
    assert_eq!(
        (g.text.as_str(), g.offset, g.truncated),
        ("0123456789", 0, false)
    );
    // A real tail.
    let g = read(LogRange::Tail(3));
    assert_eq!(
        (g.text.as_str(), g.offset, g.len, g.truncated),
        ("789", 7, 3, true)
    );
    // Offset past the end: empty, not an error.
    let g = read(LogRange::Span {
        offset: 50,
        limit: 5,
    });
    assert_eq!((g.text.as_str(), g.offset, g.total_size), ("", 10, 10));
    // A middle span.
    let g = read(LogRange::Span {
        offset: 2,
        limit: 3,
    });
    assert_eq!((g.text.as_str(), g.truncated), ("234", true));
}

fn invalid_utf8_is_decoded_lossily_and_tails_start_on_a_character<F: Fs + Clone>(s: &Store<F>) {
    let r = record(3);
    s.persist_run_record(&r).unwrap();
    let job = build_job();
    let mut w = s.open_job_log(&r.run_id, &job, LogFile::Guest).unwrap();
    w.write_all(b"ok \xff\xfe bad\n").unwrap();
    w.write_all("€uro".as_bytes()).unwrap();
    let log = default_guest_log(s, &r.run_id);
    let whole = log.read(LogRange::Whole).unwrap();
    assert!(whole.text.starts_with("ok \u{fffd}\u{fffd} bad\n"));
    // A tail of 5 bytes would begin inside '€' (3 bytes): it starts after it instead.
    let g = log.read(LogRange::Tail(5)).unwrap();
    assert_eq!(g.text, "uro");
    assert_eq!(g.offset + g.len, g.total_size);
}

fn unknown_jobs_and_runs<F: Fs + Clone>(s: &Store<F>) {
    let r = record(4);
    s.persist_run_record(&r).unwrap();
    let ghost: JobId = "ghost".parse().unwrap();
    let err = s.run(&r.run_id).unwrap().job(Some(&ghost)).unwrap_err();
    assert!(matches!(err, StoreError::JobNotFound { .. }), "{err}");
    assert!(err.to_string().contains("ghost"));
    let err = s.run(&record(5).run_id).unwrap_err();
    assert!(matches!(err, StoreError::RunNotFound { .. }));
}

/// Follows a log on each file system: the job writes and finishes while the
/// follower waits (the wait is where the job acts, so nothing sleeps).
fn following_a_running_job_returns_everything_then_ends<F: Fs + Clone>(s: &Store<F>) {
    let mut r = running_record(6);
    r.jobs[0].status = RunStatus::Running;
    s.persist_run_record(&r).unwrap();
    let job = build_job();
    let log = default_guest_log(s, &r.run_id);
    let mut turns = 0;
    let mut writer = None;
    let chunks: Vec<_> = log
        .follow(0, Arc::new(pikaci_core::SystemLiveness::new()))
        .max_chunk(5)
        .blocking(|| {
            turns += 1;
            match turns {
                1 => writer = Some(s.open_job_log(&r.run_id, &job, LogFile::Guest).unwrap()),
                2..=4 => writeln!(writer.as_mut().unwrap(), "line {turns}").unwrap(),
                _ => {
                    let mut done = r.clone();
                    done.status = RunStatus::Passed;
                    done.jobs[0].status = RunStatus::Passed;
                    s.persist_run_record(&done).unwrap();
                }
            }
        })
        .collect::<Result<_, _>>()
        .unwrap();
    let text: Vec<u8> = chunks.iter().flat_map(|c| c.bytes.clone()).collect();
    assert_eq!(text, b"line 2\nline 3\nline 4\n");
    assert!(chunks.iter().all(|c| c.bytes.len() <= 5));
    assert_eq!(chunks.last().unwrap().offset, 21);

    // Resuming from the last offset of a finished job ends at once.
    let log = default_guest_log(s, &r.run_id);
    let mut f = log.follow(21, Arc::new(pikaci_core::SystemLiveness::new()));
    assert_eq!(f.step().unwrap(), FollowStep::End);
}

on_both_fs!(
    streamed_logs_are_readable_while_written,
    ranges_at_the_edges,
    invalid_utf8_is_decoded_lossily_and_tails_start_on_a_character,
    unknown_jobs_and_runs,
    following_a_running_job_returns_everything_then_ends,
);

#[test]
fn planted_links_in_a_run_are_never_followed() {
    let (s, d) = crate::support::disk_store();
    let r = record(8);
    s.persist_run_record(&r).unwrap();
    let secret = d.path().join("secret");
    std::fs::write(&secret, "do not read me").unwrap();
    let job = build_job();
    // A log that is a link to a file outside the state root.
    let log = s.root().job_log(&r.run_id, &job, LogFile::Guest);
    std::fs::create_dir_all(log.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(&secret, &log).unwrap();
    let dir = s.run(&r.run_id).unwrap();
    let guest = dir.job(Some(&job)).unwrap().log(LogFile::Guest);
    for err in [
        guest.read(LogRange::Whole).unwrap_err(),
        guest.open().unwrap_err(),
        guest.size().unwrap_err(),
        dir.logs_metadata(&r).unwrap_err(),
    ] {
        assert!(err.is_corrupt(), "{err}");
        assert!(
            !err.to_string().contains(d.path().to_str().unwrap()),
            "{err}"
        );
    }

    // A job folder that is a link to a folder outside.
    let other: JobId = "other".parse().unwrap();
    std::os::unix::fs::symlink(d.path(), s.root().job_dir(&r.run_id, &other)).unwrap();
    std::fs::write(d.path().join("host.log"), "outside").unwrap();
    let err = dir.job(Some(&other)).unwrap_err();
    assert!(err.is_corrupt(), "{err}");

    let mem = crate::support::mem_store().0;
    mem.persist_run_record(&r).unwrap();
    mem.fs()
        .symlink(&mem.root().job_log(&r.run_id, &job, LogFile::Host))
        .unwrap();
    let host = mem
        .run(&r.run_id)
        .unwrap()
        .job(Some(&job))
        .unwrap()
        .log(LogFile::Host);
    assert!(host.read(LogRange::Whole).unwrap_err().is_corrupt());
}

#[test]
fn a_fifo_planted_as_a_log_is_refused_without_blocking() {
    let (s, _d) = crate::support::disk_store();
    let r = record(9);
    s.persist_run_record(&r).unwrap();
    let job = build_job();
    let log = s.root().job_log(&r.run_id, &job, LogFile::Guest);
    std::fs::create_dir_all(log.parent().unwrap()).unwrap();
    nix_free_mkfifo(&log);
    let guest = default_guest_log(&s, &r.run_id);
    assert!(guest.read(LogRange::Whole).unwrap_err().is_corrupt());
    assert!(guest.open().unwrap_err().is_corrupt());
}

/// `mkfifo(1)`, so the test needs no FFI.
fn nix_free_mkfifo(path: &Utf8Path) {
    let ok = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("mkfifo runs (coreutils)")
        .success();
    assert!(ok, "mkfifo {path}");
}

/// A file system that counts how often the run folder is inspected.
#[derive(Clone)]
struct Counting {
    inner: MemFs,
    run_dir: camino::Utf8PathBuf,
    run_dir_checks: Arc<AtomicUsize>,
}

impl Fs for Counting {
    fn hold_shared(&self, path: &Utf8Path) -> std::io::Result<pikaci_store::FolderHold> {
        self.inner.hold_shared(path)
    }
    fn try_hold_exclusive(&self, path: &Utf8Path) -> std::io::Result<pikaci_store::FolderHold> {
        self.inner.try_hold_exclusive(path)
    }
    fn kind(&self, path: &Utf8Path) -> std::io::Result<Option<EntryKind>> {
        if path == self.run_dir {
            self.run_dir_checks.fetch_add(1, Ordering::SeqCst);
        }
        self.inner.kind(path)
    }
    fn write_atomic(&self, path: &Utf8Path, bytes: &[u8]) -> std::io::Result<()> {
        self.inner.write_atomic(path, bytes)
    }
    fn read(&self, path: &Utf8Path, max: u64) -> std::io::Result<Vec<u8>> {
        self.inner.read(path, max)
    }
    fn open_read(&self, path: &Utf8Path) -> std::io::Result<Box<dyn ReadAt>> {
        self.inner.open_read(path)
    }
    fn size(&self, path: &Utf8Path) -> std::io::Result<Option<u64>> {
        self.inner.size(path)
    }
    fn open_append(
        &self,
        path: &Utf8Path,
    ) -> std::io::Result<Box<dyn pikaci_core::process::LogSink>> {
        self.inner.open_append(path)
    }
    fn list_dir(&self, path: &Utf8Path) -> std::io::Result<Vec<String>> {
        self.inner.list_dir(path)
    }
    fn create_dir_all(&self, path: &Utf8Path) -> std::io::Result<()> {
        self.inner.create_dir_all(path)
    }
    fn create_dir(&self, path: &Utf8Path) -> std::io::Result<()> {
        self.inner.create_dir(path)
    }
    fn rename(&self, from: &Utf8Path, to: &Utf8Path) -> std::io::Result<()> {
        self.inner.rename(from, to)
    }
    fn remove_dir_all(&self, path: &Utf8Path) -> std::io::Result<()> {
        self.inner.remove_dir_all(path)
    }
}

#[test]
fn reading_both_logs_of_the_default_job_checks_the_run_folder_once() {
    let r = record(10);
    let root = StateRoot::new("/state");
    let fs = Counting {
        inner: MemFs::new(),
        run_dir: root.run_dir(&r.run_id),
        run_dir_checks: Arc::default(),
    };
    let s = Store::with_fs(fs.clone(), root);
    s.persist_run_record(&r).unwrap();
    for file in LogFile::ALL {
        s.open_job_log(&r.run_id, &build_job(), file)
            .unwrap()
            .write_all(b"x\n")
            .unwrap();
    }
    fs.run_dir_checks.store(0, Ordering::SeqCst);

    // What `GET .../logs/RUN?kind=both` does.
    let job = s.run(&r.run_id).unwrap().job(None).unwrap();
    for file in LogFile::ALL {
        assert_eq!(job.log(file).read(LogRange::Tail(10)).unwrap().text, "x\n");
    }
    assert_eq!(fs.run_dir_checks.load(Ordering::SeqCst), 1);
}
