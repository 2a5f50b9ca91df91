//! Listing and garbage collection keep exactly what they should.

use std::time::Duration;

use jiff::Timestamp;
use pikaci_core::{RunId, SystemLiveness};
use pikaci_store::{Fs, GcPolicy, Store};

use crate::support::{record, run_id, running_record};

const HOUR: u64 = 3600;

/// Runs 0..10, one per hour from the fixed day's midnight; `running` ones as asked.
fn ten_runs<F: Fs>(s: &Store<F>, running: &[u32]) -> Vec<RunId> {
    (0..10)
        .map(|i| {
            let n = i * HOUR as u32;
            let r = if running.contains(&i) {
                running_record(n)
            } else {
                record(n)
            };
            s.persist_run_record(&r).unwrap();
            r.run_id
        })
        .collect()
}

fn at_hour(h: u64) -> Timestamp {
    run_id(0).timestamp().unwrap() + Duration::from_secs(h * HOUR)
}

fn list_is_newest_first_with_before_and_limit<F: Fs>(s: &Store<F>) {
    let ids = ten_runs(s, &[]);
    // Junk in runs/ is ignored.
    s.fs()
        .create_dir_all(&s.root().runs_dir().join("not-a-run"))
        .unwrap();
    s.fs()
        .write_atomic(&s.root().runs_dir().join(".tmp"), b"x")
        .unwrap();
    let newest: Vec<_> = ids.iter().rev().cloned().collect();
    assert_eq!(s.list_runs(None, 100).unwrap(), newest);
    assert_eq!(s.list_runs(None, 3).unwrap(), newest[..3]);
    assert_eq!(
        s.list_runs(Some(&ids[5]), 2).unwrap(),
        vec![ids[4].clone(), ids[3].clone()]
    );
    assert_eq!(s.list_runs(Some(&ids[0]), 5).unwrap(), Vec::<RunId>::new());
    assert!(s.list_runs(None, 0).unwrap().is_empty());
}

fn empty_root_lists_nothing<F: Fs>(s: &Store<F>) {
    assert!(s.list_runs(None, 10).unwrap().is_empty());
    let report = s
        .gc_runs(
            &GcPolicy {
                keep_runs: Some(1),
                ..GcPolicy::default()
            },
            &SystemLiveness::new(),
            at_hour(0),
            false,
        )
        .unwrap();
    assert!(report.deleted.is_empty());
}

fn keep_newest_n<F: Fs>(s: &Store<F>) {
    let ids = ten_runs(s, &[]);
    let policy = GcPolicy {
        keep_runs: Some(3),
        ..GcPolicy::default()
    };
    let dry = s
        .gc_runs(&policy, &SystemLiveness::new(), at_hour(10), true)
        .unwrap();
    assert_eq!(dry.deleted.len(), 7);
    assert_eq!(
        s.list_runs(None, 100).unwrap().len(),
        10,
        "dry run deletes nothing"
    );
    let report = s
        .gc_runs(&policy, &SystemLiveness::new(), at_hour(10), false)
        .unwrap();
    assert_eq!(report.deleted, dry.deleted);
    assert_eq!(
        s.list_runs(None, 100).unwrap(),
        vec![ids[9].clone(), ids[8].clone(), ids[7].clone()]
    );
    assert_eq!(report.kept, s.list_runs(None, 100).unwrap());
    assert!(s.load_run_record(&ids[0]).unwrap_err().is_not_found());
    // Nothing of a deleted run is left anywhere under the root.
    assert!(s.fs().list_dir(&s.root().trash_dir()).unwrap().is_empty());
}

fn older_than<F: Fs>(s: &Store<F>) {
    let ids = ten_runs(s, &[]);
    // At hour 10, runs 0..=4 are more than 5h old.
    let policy = GcPolicy {
        older_than: Some(Duration::from_secs(5 * HOUR)),
        ..GcPolicy::default()
    };
    let report = s
        .gc_runs(&policy, &SystemLiveness::new(), at_hour(10), false)
        .unwrap();
    let mut deleted = report.deleted.clone();
    deleted.sort();
    assert_eq!(deleted, ids[..5]);
    assert_eq!(s.list_runs(None, 100).unwrap().len(), 5);
}

fn running_runs_survive_unless_stale<F: Fs>(s: &Store<F>) {
    let ids = ten_runs(s, &[1, 8]);
    let policy = GcPolicy {
        keep_runs: Some(0),
        older_than: None,
        stale_running_after: Duration::from_secs(5 * HOUR),
    };
    let report = s
        .gc_runs(&policy, &SystemLiveness::new(), at_hour(10), false)
        .unwrap();
    // Run 8 is running and 2h old: kept. Run 1 is running but 9h old: stale, deleted.
    assert_eq!(report.skipped_running, vec![ids[8].clone()]);
    assert!(report.deleted.contains(&ids[1]));
    assert_eq!(s.list_runs(None, 100).unwrap(), vec![ids[8].clone()]);
}

fn no_limit_deletes_nothing<F: Fs>(s: &Store<F>) {
    ten_runs(s, &[]);
    let report = s
        .gc_runs(
            &GcPolicy::default(),
            &SystemLiveness::new(),
            at_hour(1000),
            false,
        )
        .unwrap();
    assert!(report.deleted.is_empty());
    assert_eq!(report.kept.len(), 10);
}

on_both_fs!(
    list_is_newest_first_with_before_and_limit,
    empty_root_lists_nothing,
    keep_newest_n,
    older_than,
    running_runs_survive_unless_stale,
    no_limit_deletes_nothing,
);

/// Two gcs at once on a real disk: neither fails, every run is deleted once,
/// and what one took is not an error for the other.
#[test]
fn concurrent_gcs_do_not_fail_and_share_the_work() {
    let (s, _guard) = crate::support::disk_store();
    for round in 0..5 {
        let ids: Vec<RunId> = (0..150)
            .map(|i| {
                let r = record(round * 1000 + i);
                s.persist_run_record(&r).unwrap();
                for file in [pikaci_core::LogFile::Host, pikaci_core::LogFile::Guest] {
                    use std::io::Write;
                    let mut log = s.open_job_log(&r.run_id, &r.jobs[0].id, file).unwrap();
                    log.write_all(b"some output\n").unwrap();
                }
                r.run_id
            })
            .collect();
        let policy = GcPolicy {
            keep_runs: Some(0),
            ..GcPolicy::default()
        };
        let barrier = std::sync::Barrier::new(2);
        let reports = std::thread::scope(|scope| {
            let gc = || {
                barrier.wait();
                s.gc_runs(&policy, &SystemLiveness::new(), at_hour(10), false)
            };
            let a = scope.spawn(gc);
            let b = scope.spawn(gc);
            [a.join().unwrap(), b.join().unwrap()]
        });
        let mut deleted = Vec::new();
        for report in reports {
            let report = report.unwrap_or_else(|e| panic!("round {round}: a gc failed: {e}"));
            deleted.extend(report.deleted);
        }
        deleted.sort();
        let mut want = ids;
        want.sort();
        assert_eq!(
            deleted, want,
            "round {round}: each run deleted exactly once"
        );
        assert!(s.list_runs(None, 10).unwrap().is_empty());
    }
}
