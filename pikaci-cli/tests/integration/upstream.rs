//! A state root the earlier pikaci wrote reads through the `pikaci` binary:
//! its run ids, its records and its guest logs in `jobs/<job>/artifacts/`.

use pikaci_core::{LogFile, RunLogsMetadata, RunRecord, RunStatus};
use pikaci_store::testing::{UNMODELLED_RUN_KEYS, UpstreamJob, UpstreamRun};
use pikaci_store::{DiskFs, LogPlace};

use crate::support::{TestEnv, stderr, stdout};

const ID: &str = "pikaci-run-123";

fn env_with_upstream_run() -> TestEnv {
    let env = TestEnv::new("[[job]]\nid = \"q\"\ncommand = \"true\"\n");
    let run = UpstreamRun::new(ID).jobs(vec![
        UpstreamJob::new("check-pika-rust")
            .remote_vm()
            .guest_log(Some(b"running 412 tests\ntest result: ok. 412 passed\n")),
        UpstreamJob::new("check-notifications")
            .failed(101)
            .guest_log(Some(b"thread 'main' panicked\n")),
    ]);
    run.write(&DiskFs::new(), env.store().root()).unwrap();
    env
}

#[test]
fn list_and_status_read_an_upstream_run() {
    let env = env_with_upstream_run();
    // One of ours, made after it, lists first.
    assert_eq!(env.pikaci(&["run"]).status.code(), Some(0));
    let out = env.pikaci(&["list"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(
        lines[2].starts_with(ID) && lines[2].contains("failed"),
        "{text}"
    );
    assert!(lines[2].contains("1/2"), "{text}");

    let out = env.pikaci(&["status", ID]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("remote_linux_vm") && text.contains("host_local"),
        "{text}"
    );
    let out = env.pikaci(&["status", ID, "--json"]);
    let rec: RunRecord = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(rec.status, RunStatus::Failed);
    for key in UNMODELLED_RUN_KEYS {
        assert!(rec.extra.contains_key(*key), "{key}");
    }
}

#[test]
fn logs_read_the_guest_log_from_artifacts() {
    let env = env_with_upstream_run();
    // No job named: the failed one.
    let out = env.pikaci(&["logs", ID, "--kind", "guest"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "thread 'main' panicked\n");
    let out = env.pikaci(&["logs", ID, "--job", "check-pika-rust", "--kind", "guest"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "running 412 tests\ntest result: ok. 412 passed\n"
    );
    let out = env.pikaci(&["logs", ID, "--job", "check-notifications"]);
    let text = stdout(&out);
    assert!(
        text.contains("==> host.log <==\n[pikaci] job check-notifications started")
            && text.contains("==> guest.log <==\nthread 'main' panicked\n"),
        "{text}"
    );
    let out = env.pikaci(&[
        "logs",
        ID,
        "--job",
        "check-pika-rust",
        "--kind",
        "guest",
        "--tail-bytes",
        "9",
    ]);
    assert_eq!(stdout(&out), "2 passed\n");
    let out = env.pikaci(&[
        "logs",
        ID,
        "--job",
        "check-pika-rust",
        "--kind",
        "guest",
        "--tail",
        "1",
    ]);
    assert_eq!(stdout(&out), "test result: ok. 412 passed\n");
    // The job has finished, so a follow prints the log and ends.
    let out = env.pikaci(&[
        "logs",
        ID,
        "--job",
        "check-pika-rust",
        "--follow",
        "--offset",
        "18",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "test result: ok. 412 passed\n");

    let out = env.pikaci(&["logs", ID, "--metadata-json"]);
    let meta: RunLogsMetadata = serde_json::from_str(&stdout(&out)).unwrap();
    assert!(
        meta.jobs
            .iter()
            .all(|j| j.guest_log_exists && j.host_log_exists)
    );
    assert_eq!(meta.jobs[1].guest_log_size, Some(23));
    let id = ID.parse().unwrap();
    assert_eq!(
        meta.jobs[0].guest_log_path,
        env.store().root().job_log_at(
            &id,
            &"check-pika-rust".parse().unwrap(),
            LogFile::Guest,
            LogPlace::Artifacts
        )
    );
}

#[test]
fn safe_ids_of_any_form_are_read_and_unsafe_ones_still_refused() {
    let env = env_with_upstream_run();
    let out = env.pikaci(&["status", "pikaci-run-124"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("not found"), "{}", stderr(&out));
    let out = env.pikaci(&["status", "pikaci-run-../x"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("invalid run id"), "{}", stderr(&out));
}
