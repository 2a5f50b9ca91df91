//! Job logs: streaming, moving into place, ranges, metadata and link refusal.

use std::io::Write;

use pikaci_core::{JobId, LogFile, LogKind};
use pikaci_store::{Fs, LogRange, MemFs, Store, StoreError};

use crate::support::{build_job, record};

fn streamed_logs_are_readable_while_written<F: Fs>(s: &Store<F>) {
    let r = record(1);
    s.persist_run_record(&r).unwrap();
    let job = build_job();
    let mut guest = s.open_job_log(&r.run_id, &job, LogFile::Guest).unwrap();
    guest.write_all(b"line 1\n").unwrap();
    let first = s
        .load_logs(&r.run_id, Some(&job), LogKind::Guest, LogRange::Whole)
        .unwrap();
    assert_eq!(first.guest.as_ref().unwrap().text, "line 1\n");
    assert!(first.host.is_none(), "host was not asked for");
    guest.write_all(b"line 2\n").unwrap();
    let both = s
        .load_logs(&r.run_id, None, LogKind::Both, LogRange::Whole)
        .unwrap();
    let g = both.guest.unwrap();
    assert_eq!(g.text, "line 1\nline 2\n");
    assert_eq!((g.total_size, g.truncated, g.exists), (14, false, true));
    let h = both.host.unwrap();
    assert!(!h.exists && h.text.is_empty());
    assert_eq!(
        s.read_log_bytes(&r.run_id, &job, LogFile::Guest, 7, 100)
            .unwrap(),
        b"line 2\n"
    );
    assert_eq!(
        s.log_size(&r.run_id, &job, LogFile::Guest).unwrap(),
        Some(14)
    );
    assert_eq!(s.log_size(&r.run_id, &job, LogFile::Host).unwrap(), None);
}

fn ranges_at_the_edges<F: Fs>(s: &Store<F>) {
    let r = record(2);
    s.persist_run_record(&r).unwrap();
    let job = build_job();
    // An empty log.
    s.open_job_log(&r.run_id, &job, LogFile::Host).unwrap();
    let read = |range| {
        s.load_logs(&r.run_id, Some(&job), LogKind::Both, range)
            .unwrap()
    };
    let empty = read(LogRange::Tail(10)).host.unwrap();
    assert_eq!(
        (empty.text.as_str(), empty.exists, empty.truncated),
        ("", true, false)
    );

    s.open_job_log(&r.run_id, &job, LogFile::Guest)
        .unwrap()
        .write_all(b"0123456789")
        .unwrap();
    // Tail larger than the log: the whole log, not truncated.
    let g = read(LogRange::Tail(100)).guest.unwrap();
    assert_eq!(
        (g.text.as_str(), g.offset, g.truncated),
        ("0123456789", 0, false)
    );
    // A real tail.
    let g = read(LogRange::Tail(3)).guest.unwrap();
    assert_eq!(
        (g.text.as_str(), g.offset, g.len, g.truncated),
        ("789", 7, 3, true)
    );
    // Offset past the end: empty, not an error.
    let g = read(LogRange::Span {
        offset: 50,
        limit: 5,
    })
    .guest
    .unwrap();
    assert_eq!((g.text.as_str(), g.offset, g.total_size), ("", 10, 10));
    // A middle span.
    let g = read(LogRange::Span {
        offset: 2,
        limit: 3,
    })
    .guest
    .unwrap();
    assert_eq!((g.text.as_str(), g.truncated), ("234", true));
}

fn invalid_utf8_is_decoded_lossily_and_tails_start_on_a_character<F: Fs>(s: &Store<F>) {
    let r = record(3);
    s.persist_run_record(&r).unwrap();
    let job = build_job();
    let mut w = s.open_job_log(&r.run_id, &job, LogFile::Guest).unwrap();
    w.write_all(b"ok \xff\xfe bad\n").unwrap();
    w.write_all("€uro".as_bytes()).unwrap();
    let whole = s
        .load_logs(&r.run_id, None, LogKind::Guest, LogRange::Whole)
        .unwrap();
    assert!(
        whole
            .guest
            .unwrap()
            .text
            .starts_with("ok \u{fffd}\u{fffd} bad\n")
    );
    // A tail of 5 bytes would begin inside '€' (3 bytes): it starts after it instead.
    let tail = s
        .load_logs(&r.run_id, None, LogKind::Guest, LogRange::Tail(5))
        .unwrap();
    let g = tail.guest.unwrap();
    assert_eq!(g.text, "uro");
    assert_eq!(g.offset + g.len, g.total_size);
}

fn unknown_jobs_and_runs<F: Fs>(s: &Store<F>) {
    let r = record(4);
    s.persist_run_record(&r).unwrap();
    let ghost: JobId = "ghost".parse().unwrap();
    let err = s
        .load_logs(&r.run_id, Some(&ghost), LogKind::Both, LogRange::Whole)
        .unwrap_err();
    assert!(matches!(err, StoreError::JobNotFound { .. }), "{err}");
    assert!(err.to_string().contains("ghost"));
    let err = s
        .load_logs(&record(5).run_id, None, LogKind::Both, LogRange::Whole)
        .unwrap_err();
    assert!(matches!(err, StoreError::RunNotFound { .. }));
    let err = s
        .read_log_bytes(&r.run_id, &ghost, LogFile::Host, 0, 10)
        .unwrap_err();
    assert!(matches!(err, StoreError::LogNotFound { .. }));
}

fn persist_job_logs_moves_and_leaves_in_place_alone<F: Fs>(s: &Store<F>) {
    let r = record(6);
    s.persist_run_record(&r).unwrap();
    let job = build_job();
    let tmp = s.root().path().join("incoming/guest.log");
    s.fs().write_atomic(&tmp, b"from elsewhere").unwrap();
    s.persist_job_logs(&r.run_id, &job, None, Some(&tmp))
        .unwrap();
    assert_eq!(s.fs().size(&tmp).unwrap(), None, "moved, not copied");
    let dest = s.root().job_log(&r.run_id, &job, LogFile::Guest);
    assert_eq!(s.fs().read(&dest).unwrap(), b"from elsewhere");
    // Already in place: nothing happens.
    s.persist_job_logs(&r.run_id, &job, None, Some(&dest))
        .unwrap();
    assert_eq!(s.fs().read(&dest).unwrap(), b"from elsewhere");
    // A missing source is an error naming the run and job.
    let err = s
        .persist_job_logs(&r.run_id, &job, Some(&s.root().path().join("nope")), None)
        .unwrap_err();
    assert!(
        err.to_string().contains("host.log") && err.to_string().contains("build"),
        "{err}"
    );
}

on_both_fs!(
    streamed_logs_are_readable_while_written,
    ranges_at_the_edges,
    invalid_utf8_is_decoded_lossily_and_tails_start_on_a_character,
    unknown_jobs_and_runs,
    persist_job_logs_moves_and_leaves_in_place_alone,
);

#[test]
fn persist_job_logs_renames_on_disk_so_cost_does_not_grow_with_size() {
    use std::os::unix::fs::MetadataExt;
    let (s, _d) = crate::support::disk_store();
    let r = record(7);
    s.persist_run_record(&r).unwrap();
    let src = s.root().path().join("big.log");
    let f = std::fs::File::create(&src).unwrap();
    f.set_len(1 << 30).unwrap();
    let inode = f.metadata().unwrap().ino();
    s.persist_job_logs(&r.run_id, &build_job(), Some(&src), None)
        .unwrap();
    let dest = s.root().job_log(&r.run_id, &build_job(), LogFile::Host);
    let meta = std::fs::metadata(&dest).unwrap();
    assert_eq!(
        (meta.ino(), meta.len()),
        (inode, 1 << 30),
        "same file, not a copy"
    );
}

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
    let err = s
        .load_logs(&r.run_id, Some(&job), LogKind::Guest, LogRange::Whole)
        .unwrap_err();
    assert!(err.is_corrupt(), "{err}");
    assert!(
        !err.to_string().contains(d.path().to_str().unwrap()),
        "{err}"
    );
    assert!(
        s.read_log_bytes(&r.run_id, &job, LogFile::Guest, 0, 100)
            .is_err()
    );
    assert!(s.load_logs_metadata(&r.run_id).is_err());

    // A job folder that is a link to a folder outside.
    let other: JobId = "other".parse().unwrap();
    std::os::unix::fs::symlink(d.path(), s.root().job_dir(&r.run_id, &other)).unwrap();
    std::fs::write(d.path().join("host.log"), "outside").unwrap();
    let err = s
        .load_logs(&r.run_id, Some(&other), LogKind::Host, LogRange::Whole)
        .unwrap_err();
    assert!(err.is_corrupt(), "{err}");

    let mem = crate::support::mem_store().0;
    mem.persist_run_record(&r).unwrap();
    mem.fs()
        .symlink(&mem.root().job_log(&r.run_id, &job, LogFile::Host))
        .unwrap();
    assert!(
        mem.load_logs(&r.run_id, Some(&job), LogKind::Host, LogRange::Whole)
            .unwrap_err()
            .is_corrupt()
    );
    let _: Option<MemFs> = None;
}
