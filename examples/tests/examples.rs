//! Every example runs and does what its comment says, so none can rot.

use std::process::{Command, Output};

fn example(name: &str, args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO"))
        .args([
            "run",
            "--quiet",
            "-p",
            "pikaci-examples",
            "--example",
            name,
            "--",
        ])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "example {name} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn persist_and_load_writes_a_loadable_run() {
    let dir = tempfile::tempdir().unwrap();
    let root = camino::Utf8PathBuf::try_from(dir.path().join("state")).unwrap();
    let stdout = text(&example("persist_and_load", &[root.as_str()]));
    assert!(
        stdout.contains("in memory: persisted and loaded run"),
        "{stdout}"
    );
    let store = pikaci_store::Store::open(&root);
    let runs = store.list_runs(None, 10).unwrap();
    assert_eq!(runs.len(), 1, "{stdout}");
    assert_eq!(
        store.load_run_record(&runs[0]).unwrap().jobs[0].id.as_str(),
        "hello"
    );
}

#[test]
fn run_pipeline_runs_both_jobs_with_the_host_executor() {
    let stdout = text(&example("run_pipeline", &[]));
    assert!(stdout.contains("passed: 2 of 2 jobs passed"), "{stdout}");
    assert!(
        stdout.contains("greet passed -> hello from greet in "),
        "{stdout}"
    );
    // The snapshot holds a.txt and b.txt.
    assert!(stdout.contains("count passed -> 2"), "{stdout}");
    assert!(stdout.contains("6 lifecycle events"), "{stdout}");
}

#[test]
fn custom_executor_decides_each_job() {
    let stdout = text(&example("custom_executor", &[]));
    assert!(stdout.contains("ok    passed"), "{stdout}");
    assert!(
        stdout.contains("nope  failed  command not allowed"),
        "{stdout}"
    );
    assert!(
        stdout.contains("run failed: 1 of 2 jobs passed; failed: nope"),
        "{stdout}"
    );
}

#[test]
fn incus_plan_prints_the_launch_command() {
    let stdout = text(&example("incus_plan", &[]));
    assert!(stdout.contains("init"), "{stdout}");
    assert!(stdout.contains("limits.cpu=4"), "{stdout}");
    assert!(
        stdout.contains("PIKACI_INCUS_TIMEOUT_SECS=1800"),
        "{stdout}"
    );
    assert!(
        stdout.contains("/run/current-system/sw/bin/pikaci-incus-run"),
        "{stdout}"
    );
    let deletes = stdout
        .lines()
        .filter(|l| l.starts_with("incus delete ") && l.ends_with(" --force"))
        .count();
    assert_eq!(deletes, 2, "stale delete and final delete: {stdout}");
}

#[test]
fn tail_log_follows_the_job_to_its_end() {
    let stdout = text(&example("tail_log", &[]));
    assert!(
        stdout.starts_with("tick 1\ntick 2\ntick 3\ntick 4\ntick 5\n"),
        "{stdout}"
    );
    assert!(stdout.trim_end().ends_with("passed"), "{stdout}");
}

#[test]
fn mount_endpoints_serves_pika_news_routes_under_a_prefix() {
    let stdout = text(&example("mount_endpoints", &[]));
    assert!(stdout.contains("GET / -> 200 OK\n  my service"), "{stdout}");
    assert!(
        stdout.contains("/ci/news/api/forge/pikaci/run/")
            && stdout.contains("-> 200 OK\n  {\"run_id\":"),
        "{stdout}"
    );
    assert!(stdout.contains("hello from the job"), "{stdout}");
}
