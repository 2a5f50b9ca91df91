//! The persist_and_load example runs and writes a loadable run to the disk.

use std::process::Command;

#[test]
fn persist_and_load_example_writes_a_loadable_run() {
    let dir = tempfile::tempdir().unwrap();
    let root = camino::Utf8PathBuf::try_from(dir.path().join("state")).unwrap();
    let out = Command::new(env!("CARGO"))
        .args([
            "run",
            "--quiet",
            "-p",
            "pikaci-examples",
            "--example",
            "persist_and_load",
            "--",
        ])
        .arg(root.as_str())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
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
