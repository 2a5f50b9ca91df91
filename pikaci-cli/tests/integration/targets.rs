//! `pikaci targets`: the targets, and the lanes a forge's CI makes of them.

use crate::support::{TestEnv, stderr, stdout};

const PIPELINE: &str = r#"
[ci]
nightly_schedule_utc = "06:15"

[[job]]
id = "clippy"
command = "true"

[[job]]
id = "test"
command = "true"

[[target]]
id = "pre-merge-rust"
title = "rust"
jobs = ["clippy", "test"]
paths = ["crates/**", "Cargo.lock"]
ci = { trigger = "branch", concurrency_group = "staged-linux:pre-merge-rust" }

[[target]]
id = "pre-merge-docs"
jobs = ["test"]
paths = ["docs/*.md"]
ci = { trigger = "branch" }

[[target]]
id = "nightly-all"
jobs = ["clippy", "test"]
ci = { trigger = "nightly" }

[[target]]
id = "by-hand"
jobs = ["test"]
"#;

fn json(out: &std::process::Output) -> serde_json::Value {
    assert_eq!(out.status.code(), Some(0), "{}", stderr(out));
    serde_json::from_str(&stdout(out)).expect("JSON on stdout")
}

#[test]
fn targets_lists_every_target_with_its_ci_trigger() {
    let env = TestEnv::new(PIPELINE);
    let out = env.pikaci(&["targets"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("TARGET") && lines[0].contains("CI"),
        "{text}"
    );
    assert_eq!(lines.len(), 5, "{text}");
    assert!(
        lines[1].starts_with("pre-merge-rust") && lines[1].contains("branch"),
        "{text}"
    );
    assert!(lines[1].contains("staged-linux:pre-merge-rust"), "{text}");
    assert!(
        lines[4].starts_with("by-hand") && lines[4].contains("none"),
        "{text}"
    );

    let v = json(&env.pikaci(&["targets", "--output", "json"]));
    assert_eq!(v["nightly_schedule_utc"], "06:15");
    assert_eq!(v["targets"][0]["title"], "rust");
    assert_eq!(v["targets"][1]["title"], "pre-merge-docs");
    assert_eq!(v["targets"][0]["ci"]["trigger"], "branch");
    assert_eq!(v["targets"][3]["ci"]["trigger"], "none");
    assert_eq!(
        v["targets"][0]["jobs"],
        serde_json::json!(["clippy", "test"])
    );
}

#[test]
fn targets_ci_shows_the_lanes_and_what_a_change_selects() {
    let env = TestEnv::new(PIPELINE);
    let v = json(&env.pikaci(&["targets", "--ci", "--output", "json"]));
    assert_eq!(v["definition"], "pikaci.toml");
    assert_eq!(v["branch"].as_array().map(Vec::len), Some(2));
    assert_eq!(v["nightly"][0]["id"], "nightly-all");
    assert_eq!(
        v["branch"][0]["command"],
        serde_json::json!(["pikaci", "run", "pre-merge-rust", "--output", "jsonl"])
    );
    assert_eq!(
        v["branch"][0]["paths"],
        serde_json::json!(["pikaci.toml", "crates/**", "Cargo.lock"])
    );
    assert_eq!(v["selection"], "empty_diff");

    let pick = |changed: &[&str]| {
        let mut args = vec!["targets", "--ci", "--output", "json"];
        for c in changed {
            args.extend(["--changed", c]);
        }
        let v = json(&env.pikaci(&args));
        (v["selected"].clone(), v["selection"].clone())
    };
    assert_eq!(
        pick(&["crates/a/src/deep/lib.rs"]),
        (
            serde_json::json!(["pre-merge-rust"]),
            serde_json::json!("paths")
        )
    );
    assert_eq!(
        pick(&["docs/x/y.md"]).0,
        serde_json::json!(["pre-merge-docs"])
    );
    assert_eq!(
        pick(&["pikaci.toml"]).0,
        serde_json::json!(["pre-merge-rust", "pre-merge-docs"])
    );
    assert_eq!(pick(&["README.md"]).0, serde_json::json!([]));

    let out = env.pikaci(&["targets", "--ci", "--changed", "Cargo.lock"]);
    let text = stdout(&out);
    assert!(
        text.starts_with("pikaci.toml: 2 branch lanes, 1 nightly lanes at 06:15 UTC"),
        "{text}"
    );
    assert!(text.contains("selected (lanes without paths, and those whose paths match a changed file): pre-merge-rust"), "{text}");
}

#[test]
fn targets_refuses_what_it_cannot_read_and_says_what_is_missing() {
    let env = TestEnv::new("[[job]]\nid = \"a\"\ncommand = \"true\"\n");
    let out = env.pikaci(&["targets", "--ci"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        stdout(&out).contains("no target has a CI trigger"),
        "{}",
        stdout(&out)
    );

    let out = env.pikaci(&["targets", "--changed", "x"]);
    assert_eq!(out.status.code(), Some(2), "--changed needs --ci");

    std::fs::write(
        env.repo.join("pikaci.toml"),
        "[[job]]\nid = \"a\"\ncommand = \"true\"\n[[target]]\nid = \"t\"\njobs = [\"a\"]\nci = { trigger = \"weekly\" }\n",
    )
    .expect("write");
    let out = env.pikaci(&["targets"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("pikaci.toml:7:") && err.contains("weekly"),
        "{err}"
    );
}
