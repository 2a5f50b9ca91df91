//! `pikaci prepared-outputs RUN`: the run's `prepared-outputs.json`, as a
//! table or its JSON; clear errors when it is absent, too large, or not a
//! plain file.

use crate::support::{TestEnv, stderr, stdout};

const PREPARED: &str = r#"{"schema_version":1,"outputs":[{"node_id":"prepare-rust","installable":".#deps",
"output_name":"workspace-deps","realized_path":"/nix/store/abc-deps","protocol":"nix_store_path_v1",
"payload":{"schema_version":1,"kind":"cargo_workspace","entrypoints":[]}}]}"#;

#[test]
fn prepared_outputs_present_absent_oversized_and_not_a_file() {
    let env = TestEnv::new("[[job]]\nid = \"a\"\ncommand = \"true\"\n");
    assert!(env.pikaci(&["run"]).status.success());
    let run = env.last_run().run_id;
    let path = env.state.join(format!("runs/{run}/prepared-outputs.json"));

    let out = env.pikaci(&["prepared-outputs", "latest"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        format!(
            "pikaci: run {run} has no prepared outputs (no prepared-outputs.json in its folder)\n"
        )
    );

    std::fs::write(&path, PREPARED).unwrap();
    let out = env.pikaci(&["prepared-outputs", run.as_str()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.starts_with(&format!("run {run}: 1 prepared output (schema 1)\nNODE ")),
        "{text}"
    );
    let row = text.lines().nth(2).unwrap();
    for part in [
        "prepare-rust",
        "workspace-deps",
        "cargo_workspace",
        "/nix/store/abc-deps",
        ".#deps",
    ] {
        assert!(row.contains(part), "{part} in {row}");
    }
    let out = env.pikaci(&["prepared-outputs", "latest", "--output", "json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        json,
        serde_json::from_str::<serde_json::Value>(PREPARED).unwrap()
    );

    // Too large: refused without reading it.
    let big = vec![b' '; 16 * 1024 * 1024 + 1];
    std::fs::write(&path, big).unwrap();
    let out = env.pikaci(&["prepared-outputs", "latest"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("16777217 bytes is larger than the 16777216 bytes accepted"),
        "{}",
        stderr(&out)
    );

    // A link to a file elsewhere is never followed.
    std::fs::remove_file(&path).unwrap();
    let elsewhere = env.root.join("elsewhere.json");
    std::fs::write(&elsewhere, PREPARED).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &path).unwrap();
    let out = env.pikaci(&["prepared-outputs", "latest"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("prepared-outputs.json"),
        "{}",
        stderr(&out)
    );
    assert!(!stdout(&out).contains("prepare-rust"));

    // A FIFO is refused at once, not waited on.
    std::fs::remove_file(&path).unwrap();
    nix::unistd::mkfifo(
        path.as_std_path(),
        nix::sys::stat::Mode::from_bits_truncate(0o600),
    )
    .unwrap();
    let out = env.pikaci(&["prepared-outputs", "latest"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("FIFO"), "{}", stderr(&out));
}
