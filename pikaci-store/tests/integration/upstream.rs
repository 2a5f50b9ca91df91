//! A state root written by the earlier pikaci (upstream's) reads completely:
//! guest logs in `artifacts/`, every key it wrote kept through a rewrite,
//! its executor and phase names, and run ids that carry no time.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use pikaci_core::{ExecutorKind, JobId, Liveness, LogFile, RunId, RunStatus};
use pikaci_store::testing::{
    UNMODELLED_JOB_KEYS, UNMODELLED_RUN_KEYS, UPSTREAM_VM_PHASES, UpstreamJob, UpstreamRun,
};
use pikaci_store::{FollowStep, Fs, GcPolicy, LogPlace, LogRange, Store};
use serde_json::Value;

use crate::support::{record, run_id};

const ID: &str = "pikaci-run-123";

fn id(s: &str) -> RunId {
    s.parse().unwrap()
}

fn job(s: &str) -> JobId {
    s.parse().unwrap()
}

/// Nobody is alive: a record with an owner would be reconciled.
struct NoneAlive;

impl Liveness for NoneAlive {
    fn this_host(&self) -> &str {
        "here"
    }
    fn is_alive(&self, _pid: u32) -> bool {
        false
    }
}

fn write_upstream<F: Fs>(s: &Store<F>, run: &UpstreamRun) -> Value {
    run.write(s.fs(), s.root()).unwrap()
}

fn the_record_loads_with_upstreams_vocabulary<F: Fs + Clone>(s: &Store<F>) {
    write_upstream(s, &UpstreamRun::new(ID));
    let rec = s.run(&id(ID)).unwrap().record().unwrap();
    assert_eq!(rec.run_id.as_str(), ID);
    assert_eq!(rec.status, RunStatus::Failed);
    assert_eq!(rec.rerun_of, None, "null optionals read as absent");
    assert_eq!(
        rec.created_at.to_string(),
        "2026-03-24T16:22:38.512034117Z",
        "+00:00 times are read"
    );
    assert_eq!(rec.jobs[0].executor, ExecutorKind::RemoteLinuxVm);
    assert_eq!(rec.jobs[1].executor.as_str(), "host_local");
    let vm = rec.jobs[0].remote_linux_vm_execution.as_ref().unwrap();
    let phases: Vec<&str> = vm.phases.iter().map(|p| p.phase.as_str()).collect();
    assert_eq!(phases, UPSTREAM_VM_PHASES);
    assert!(vm.extra.contains_key("incus_image"));
    assert_eq!(rec.jobs[1].remote_linux_vm_execution, None);
    for key in UNMODELLED_RUN_KEYS {
        assert!(rec.extra.contains_key(*key), "{key}");
    }
    for key in UNMODELLED_JOB_KEYS {
        assert!(rec.jobs[0].extra.contains_key(*key), "{key}");
    }
}

fn unknown_keys_survive_a_rewrite_value_for_value<F: Fs + Clone>(s: &Store<F>) {
    let written = write_upstream(s, &UpstreamRun::new(ID).running());
    let mut rec = s.load_run_record(&id(ID)).unwrap();
    assert!(rec.mark_interrupted(rec.created_at + Duration::from_secs(60)));
    s.persist_run_record(&rec).unwrap();

    let bytes = s.fs().read(&s.root().run_json(&id(ID)), u64::MAX).unwrap();
    let saved: Value = serde_json::from_slice(&bytes).unwrap();
    let same = |a: &Value, b: &Value, what: &str| {
        assert_eq!(
            serde_json::to_string(a).unwrap(),
            serde_json::to_string(b).unwrap(),
            "{what}"
        );
    };
    for key in UNMODELLED_RUN_KEYS {
        same(&saved[key], &written[key], key);
    }
    for (i, job) in written["jobs"].as_array().unwrap().iter().enumerate() {
        for key in UNMODELLED_JOB_KEYS {
            same(&saved["jobs"][i][key], &job[key], key);
        }
        let vm = &job["remote_linux_vm_execution"];
        if !vm.is_null() {
            let back = &saved["jobs"][i]["remote_linux_vm_execution"];
            same(&back["incus_image"], &vm["incus_image"], "incus_image");
            same(&back["backend"], &vm["backend"], "backend");
            for (p, phase) in vm["phases"].as_array().unwrap().iter().enumerate() {
                same(&back["phases"][p]["phase"], &phase["phase"], "phase");
            }
        }
        same(&saved["jobs"][i]["executor"], &job["executor"], "executor");
    }
    assert_eq!(saved["status"], "failed");
    assert_eq!(saved["failure_kind"], "interrupted");
    // And it reads back the same.
    assert_eq!(s.load_run_record(&id(ID)).unwrap(), rec);
}

fn the_guest_log_is_read_from_artifacts<F: Fs + Clone>(s: &Store<F>) {
    let run = UpstreamRun::new(ID).jobs(vec![
        UpstreamJob::new("vm")
            .remote_vm()
            .guest_log(Some(b"line one\nline two\n")),
        UpstreamJob::new("no-guest").guest_log(None),
    ]);
    write_upstream(s, &run);
    let dir = s.run(&id(ID)).unwrap();
    let vm = dir.job(None).unwrap();
    assert_eq!(vm.id().as_str(), "vm");
    let guest = vm.log(LogFile::Guest);
    assert_eq!(guest.size().unwrap(), Some(18));
    assert_eq!(
        guest.read(LogRange::Whole).unwrap().text,
        "line one\nline two\n"
    );
    assert_eq!(guest.read(LogRange::Tail(9)).unwrap().text, "line two\n");
    let reader = guest.open().unwrap().unwrap();
    let mut buf = [0u8; 4];
    assert_eq!(reader.read_at(&mut buf, 5).unwrap(), 4);
    assert_eq!(&buf, b"one\n");
    // The host log stays where it always was.
    assert!(
        vm.log(LogFile::Host)
            .read(LogRange::Whole)
            .unwrap()
            .text
            .contains("[pikaci]")
    );

    // Following a finished job returns the log, then ends.
    let mut follow = vm.log(LogFile::Guest).follow(0, Arc::new(NoneAlive));
    match follow.step().unwrap() {
        FollowStep::Chunk(c) => assert_eq!(c.bytes, b"line one\nline two\n"),
        other => panic!("{other:?}"),
    }
    assert_eq!(follow.step().unwrap(), FollowStep::End);

    let rec = dir.record().unwrap();
    let meta = dir.logs_metadata(&rec).unwrap();
    assert!(meta.jobs[0].guest_log_exists);
    assert_eq!(meta.jobs[0].guest_log_size, Some(18));
    assert_eq!(
        meta.jobs[0].guest_log_path,
        s.root()
            .job_log_at(&id(ID), &job("vm"), LogFile::Guest, LogPlace::Artifacts)
    );
    assert!(meta.jobs[0].host_log_exists);
    assert!(!meta.jobs[1].guest_log_exists);
    assert_eq!(meta.jobs[1].guest_log_size, None);
    assert_eq!(
        meta.jobs[1].guest_log_path,
        s.root().job_log(&id(ID), &job("no-guest"), LogFile::Guest)
    );
}

fn our_guest_log_wins_over_the_artifacts_one<F: Fs + Clone>(s: &Store<F>) {
    write_upstream(s, &UpstreamRun::new(ID));
    let j = job("check-pika-rust");
    s.open_job_log(&id(ID), &j, LogFile::Guest)
        .unwrap()
        .write_all(b"ours\n")
        .unwrap();
    let guest = s
        .run(&id(ID))
        .unwrap()
        .job(Some(&j))
        .unwrap()
        .log(LogFile::Guest);
    assert_eq!(guest.read(LogRange::Whole).unwrap().text, "ours\n");
}

fn a_linked_artifacts_folder_or_log_is_refused<F: Fs + Clone>(
    s: &Store<F>,
    link: impl Fn(&camino::Utf8Path),
) {
    let run = UpstreamRun::new(ID).jobs(vec![
        UpstreamJob::new("a").guest_log(None),
        UpstreamJob::new("b").guest_log(None),
    ]);
    write_upstream(s, &run);
    let root = s.root();
    // `a`: the artifacts folder is a link; `b`: the guest log in it is.
    let folder = root
        .job_log_folder(&id(ID), &job("a"), LogPlace::Artifacts)
        .unwrap();
    s.fs().remove_dir_all(&folder).unwrap();
    link(&folder);
    link(&root.job_log_at(&id(ID), &job("b"), LogFile::Guest, LogPlace::Artifacts));
    let dir = s.run(&id(ID)).unwrap();
    for (j, file) in [
        ("a", "jobs/a/artifacts"),
        ("b", "jobs/b/artifacts/guest.log"),
    ] {
        let guest = dir.job(Some(&job(j))).unwrap().log(LogFile::Guest);
        for err in [
            guest.read(LogRange::Whole).unwrap_err(),
            guest.size().unwrap_err(),
            guest.open().unwrap_err(),
        ] {
            assert!(err.is_corrupt(), "{err}");
            assert!(err.to_string().contains(file), "{err}");
            assert!(!err.to_string().contains(root.path().as_str()), "{err}");
        }
    }
    let rec = dir.record().unwrap();
    assert!(dir.logs_metadata(&rec).unwrap_err().is_corrupt());
}

fn mixed_ids_list_by_time<F: Fs + Clone>(s: &Store<F>) {
    // Our runs at 00:00:00, 00:00:10 and 00:00:20 of the fixed day; an
    // upstream run `pikaci-run-123` created in between (00:00:15), and a
    // folder named like a run but without a record (not a run).
    let ours: Vec<RunId> = [0, 10, 20]
        .iter()
        .map(|&n| {
            let r = record(n);
            s.persist_run_record(&r).unwrap();
            r.run_id
        })
        .collect();
    let mut upstream = pikaci_core::RunRecord::for_test(ID);
    upstream.created_at = "2026-03-24T00:00:15.5+00:00".parse().unwrap();
    s.persist_run_record(&upstream).unwrap();
    s.fs()
        .create_dir_all(&s.root().runs_dir().join("stray-folder"))
        .unwrap();

    let newest = vec![ours[2].clone(), id(ID), ours[1].clone(), ours[0].clone()];
    assert_eq!(s.list_runs(None, 10).unwrap(), newest);
    assert_eq!(s.list_runs(None, 2).unwrap(), newest[..2]);
    assert_eq!(s.list_runs(Some(&id(ID)), 10).unwrap(), newest[2..]);
    assert_eq!(s.list_runs(Some(&ours[2]), 1).unwrap(), newest[1..2]);

    // gc counts and ages it by its record's time too.
    let report = s
        .gc_runs(
            &GcPolicy {
                older_than: Some(Duration::from_secs(13)),
                ..GcPolicy::default()
            },
            &pikaci_core::SystemLiveness::new(),
            run_id(0).timestamp().unwrap() + Duration::from_secs(28),
            true,
        )
        .unwrap();
    assert_eq!(report.kept, newest[..2]);
    assert_eq!(report.deleted, newest[2..]);
    let report = s
        .gc_runs(
            &GcPolicy {
                keep_runs: Some(1),
                ..GcPolicy::default()
            },
            &pikaci_core::SystemLiveness::new(),
            run_id(0).timestamp().unwrap(),
            false,
        )
        .unwrap();
    assert_eq!(report.deleted, newest[1..]);
    assert_eq!(s.list_runs(None, 10).unwrap(), newest[..1]);
    assert!(s.fs().kind(&s.root().run_dir(&id(ID))).unwrap().is_none());
}

on_both_fs!(
    the_record_loads_with_upstreams_vocabulary,
    unknown_keys_survive_a_rewrite_value_for_value,
    the_guest_log_is_read_from_artifacts,
    our_guest_log_wins_over_the_artifacts_one,
    mixed_ids_list_by_time,
);

#[test]
fn a_linked_artifacts_folder_or_log_is_refused_on_disk() {
    let (s, d) = crate::support::disk_store();
    let secret = d.path().join("secret");
    std::fs::create_dir_all(&secret).unwrap();
    std::fs::write(secret.join("guest.log"), "do not read me").unwrap();
    let target = secret.clone();
    a_linked_artifacts_folder_or_log_is_refused(&s, move |path| {
        let to = if path.as_str().ends_with("guest.log") {
            target.join("guest.log")
        } else {
            target.clone()
        };
        std::os::unix::fs::symlink(to, path).unwrap();
    });
}

#[test]
fn a_linked_artifacts_folder_or_log_is_refused_in_memory() {
    let (s, ()) = crate::support::mem_store();
    let fs = s.fs().clone();
    a_linked_artifacts_folder_or_log_is_refused(&s, move |path| fs.symlink(path).unwrap());
}
