//! Run records: round trips, the earlier pikaci's format, damage, and torn reads.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use camino::Utf8PathBuf;
use pikaci_core::{ExecutorKind, FailureKind, LogFile, RunId, RunStatus};
use pikaci_store::{Fs, LogRange, MemFs, StateRoot, Store, StoreError};

use crate::support::{record, run_id, running_record};

fn round_trip_and_rewrite<F: Fs>(s: &Store<F>) {
    let mut r = running_record(1);
    s.persist_run_record(&r).unwrap();
    assert_eq!(s.load_run_record(&r.run_id).unwrap(), r);
    r.status = RunStatus::Failed;
    r.failure_kind = Some(FailureKind::Timeout);
    r.jobs[0].status = RunStatus::Failed;
    s.persist_run_record(&r).unwrap();
    let back = s.load_run_record(&r.run_id).unwrap();
    assert_eq!(back, r);
    // On disk it is the contract's snake_case JSON.
    let raw = s
        .fs()
        .read(&s.root().run_json(&r.run_id), u64::MAX)
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&raw).unwrap();
    assert_eq!(v["status"], "failed");
    assert_eq!(v["failure_kind"], "timeout");
}

fn missing_run_is_not_found<F: Fs>(s: &Store<F>) {
    let err = s.load_run_record(&run_id(9)).unwrap_err();
    assert!(matches!(err, StoreError::RunNotFound { .. }), "{err}");
    assert!(err.is_not_found());
}

fn corrupt_records_name_the_run_not_the_path<F: Fs>(s: &Store<F>) {
    let id = run_id(2);
    let path = s.root().run_json(&id);
    for (content, expect) in [
        (&b"{\"run_id\": \"20260324"[..], "EOF"),
        (b"not json at all", "expected"),
        (b"{}", "missing field"),
    ] {
        s.fs().write_atomic(&path, content).unwrap();
        let err = s.load_run_record(&id).unwrap_err();
        assert!(err.is_corrupt(), "{err}");
        let msg = err.to_string();
        assert!(msg.contains(id.as_str()) && msg.contains(expect), "{msg}");
        assert!(
            !msg.contains(s.root().path().as_str()),
            "leaks the path: {msg}"
        );
    }
    // A record that claims to be another run is corrupt too.
    let other = record(3);
    s.fs()
        .write_atomic(&path, &serde_json::to_vec(&other).unwrap())
        .unwrap();
    let err = s.load_run_record(&id).unwrap_err();
    assert!(err.to_string().contains("records run"), "{err}");
}

fn a_failed_write_keeps_the_old_record_on_a_full_disk(s: &Store<MemFs>) {
    let r = record(4);
    s.persist_run_record(&r).unwrap();
    s.fs().set_capacity(Some(1));
    let mut bigger = r.clone();
    bigger.message = Some("x".repeat(10_000));
    let err = s.persist_run_record(&bigger).unwrap_err();
    assert!(err.is_unwritable(), "{err}");
    assert!(err.to_string().contains(r.run_id.as_str()));
    assert_eq!(s.load_run_record(&r.run_id).unwrap(), r);
}

#[test]
fn mem_full_disk_keeps_old_record() {
    let (s, ()) = crate::support::mem_store();
    a_failed_write_keeps_the_old_record_on_a_full_disk(&s);
}

on_both_fs!(
    round_trip_and_rewrite,
    missing_run_is_not_found,
    corrupt_records_name_the_run_not_the_path,
);

fn fixture_root() -> Utf8PathBuf {
    Utf8PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/earlier-pikaci-run")
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dest = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), &dest).unwrap();
        }
    }
}

#[test]
fn loads_the_earlier_pikaci_state_root_as_is() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(fixture_root().as_std_path(), dir.path());
    let store = Store::open(Utf8PathBuf::from_path_buf(dir.path().to_owned()).unwrap());
    let runs = store.list_runs(None, 10).unwrap();
    assert_eq!(runs.len(), 1);
    let run = &runs[0];
    assert_eq!(run.as_str(), "20260324T161238Z-7ee67b97");
    let rec = store.load_run_record(run).unwrap();
    assert_eq!(rec.status, RunStatus::Failed);
    assert_eq!(rec.jobs.len(), 2);
    assert_eq!(rec.jobs[0].executor, ExecutorKind::RemoteLinuxVm);
    let vm = rec.jobs[0].remote_linux_vm_execution.as_ref().unwrap();
    assert_eq!(vm.phases.len(), 3);
    assert_eq!(vm.phases[1].duration_ms, 1_408_000);
    assert_eq!(rec.jobs[1].exit_code, Some(101));
    assert_eq!(rec.changed_files.len(), 3);

    // Logs come from the layout, not from the absolute paths in run.json.
    assert!(rec.jobs[0].guest_log_path.as_str().starts_with("/var/lib/"));
    let dir = store.run(run).unwrap();
    let job = dir.job(None).unwrap();
    assert_eq!(job.id().as_str(), "check-pika-rust");
    let guest = job.log(LogFile::Guest).read(LogRange::Whole).unwrap();
    assert!(guest.text.contains("412 passed"), "{}", guest.text);
    let host = job.log(LogFile::Host).read(LogRange::Whole).unwrap();
    assert!(host.text.contains("[pikaci]"));

    let meta = dir.logs_metadata(&rec).unwrap();
    assert_eq!(meta.jobs.len(), 2);
    assert!(
        meta.jobs
            .iter()
            .all(|j| j.host_log_exists && j.guest_log_exists)
    );
    assert!(meta.jobs[0].guest_log_path.starts_with(store.root().path()));
    assert_eq!(meta.jobs[0].guest_log_size, Some(guest.total_size));

    // A re-save keeps every modelled field.
    let mut again = rec.clone();
    again.message = Some("re-saved".into());
    store.persist_run_record(&again).unwrap();
    assert_eq!(store.load_run_record(run).unwrap(), again);
}

#[test]
fn a_huge_run_json_is_refused_without_reading_it() {
    let (s, _d) = crate::support::disk_store();
    let id = run_id(5);
    let path = s.root().run_json(&id);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let f = std::fs::File::create(&path).unwrap();
    f.set_len(pikaci_store::MAX_RUN_JSON_BYTES + 1).unwrap();
    let err = s.load_run_record(&id).unwrap_err();
    assert!(
        err.is_corrupt() && err.to_string().contains("larger"),
        "{err}"
    );
}

#[test]
fn a_symlinked_run_folder_is_refused() {
    let (s, d) = crate::support::disk_store();
    // A real run somewhere else, and a link to it planted in runs/.
    let elsewhere = Store::open(Utf8PathBuf::from_path_buf(d.path().join("elsewhere")).unwrap());
    let r = record(6);
    elsewhere.persist_run_record(&r).unwrap();
    std::fs::create_dir_all(s.root().runs_dir()).unwrap();
    std::os::unix::fs::symlink(
        elsewhere.root().run_dir(&r.run_id),
        s.root().run_dir(&r.run_id),
    )
    .unwrap();
    let err = s.load_run_record(&r.run_id).unwrap_err();
    assert!(err.is_corrupt(), "{err}");
    // And writing through it is refused as well.
    assert!(s.persist_run_record(&r).is_err());

    let mem = Store::with_fs(MemFs::new(), StateRoot::new("/s"));
    mem.fs().symlink(&mem.root().run_dir(&r.run_id)).unwrap();
    assert!(mem.load_run_record(&r.run_id).unwrap_err().is_corrupt());
    let _ = LogFile::Host;
}

/// One writer rewrites run.json thousands of times while readers load it:
/// every load must see a whole record, old or new.
fn no_torn_reads<F: Fs + Clone + 'static>(s: Store<F>) {
    let s = Arc::new(s);
    let id: RunId = run_id(7);
    s.persist_run_record(&record(7)).unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let loads = Arc::new(AtomicUsize::new(0));
    let readers: Vec<_> = (0..3)
        .map(|_| {
            let (s, id, done, loads) = (s.clone(), id.clone(), done.clone(), loads.clone());
            std::thread::spawn(move || {
                let mut lengths = std::collections::BTreeSet::new();
                while !done.load(Ordering::Relaxed) {
                    let r = s.load_run_record(&id).expect("a whole record every time");
                    lengths.insert(r.message.map_or(0, |m| m.len()));
                    loads.fetch_add(1, Ordering::Relaxed);
                }
                lengths.len()
            })
        })
        .collect();
    for i in 0..3000 {
        let mut r = record(7);
        // Sizes vary so a torn read would show as broken JSON.
        r.message = Some("m".repeat((i * 37) % 5000));
        s.persist_run_record(&r).unwrap();
    }
    done.store(true, Ordering::Relaxed);
    let distinct: usize = readers.into_iter().map(|h| h.join().unwrap()).sum();
    assert!(loads.load(Ordering::Relaxed) > 0);
    assert!(distinct > 1, "readers should have seen several versions");
}

#[test]
fn no_torn_reads_on_disk() {
    let (s, _d) = crate::support::disk_store();
    no_torn_reads(s);
}

#[test]
fn no_torn_reads_in_memory() {
    let (s, ()) = crate::support::mem_store();
    no_torn_reads(s);
}
