//! Where a head's lanes come from, through real servers and real pushes: a
//! tree shaped like today's pika (no `ci/forge-lanes.toml`, its lanes
//! pikaci.toml targets with a CI trigger), and a tree that defines none,
//! run by the server's `lanes_manifest` with upstream's `nix run .#pikaci
//! -- run <id>` lanes through a `nix` on the lanes' PATH. Also `manifest
//! check --repo --head`, which must agree with `pikaci targets --ci`.

use std::process::Command;
use std::time::Duration;

use camino::Utf8Path;
use serde_json::Value;

use crate::forge::pikaci_bin;
use crate::ph_client::{BranchDetailResponse, BranchLogsResponse, decode};
use crate::served::{Server, Site, pika_news, wait_for};

/// Shaped like today's pika: targets say how CI runs them.
const PIKA_SHAPED: &str = r#"
[[job]]
id = "clippy"
description = "lint"
command = "echo linting the pika crates"

[[job]]
id = "test"
description = "test"
command = "echo testing"

[[target]]
id = "pre-merge-pika-rust"
title = "pika-rust"
jobs = ["test", "clippy"]
paths = ["crates/pika/**", "Cargo.lock"]
ci = { trigger = "branch", concurrency_group = "staged-linux:pre-merge-pika-rust" }

[[target]]
id = "pre-merge-docs"
jobs = ["test"]
paths = ["docs/*.md"]
ci = { trigger = "branch" }

[[target]]
id = "pre-merge-always"
jobs = ["test"]
ci = { trigger = "branch" }

[[target]]
id = "nightly-everything"
jobs = ["clippy", "test"]
ci = { trigger = "nightly", concurrency_group = "nightly" }

[[target]]
id = "by-hand"
jobs = ["test"]
"#;

const T: Duration = Duration::from_secs(10);

/// The id of branch `name`, once the server knows it.
fn branch_id(server: &Server, token: &str, name: &str) -> Option<i64> {
    let b = server
        .get(
            &format!("/news/api/forge/branch/resolve?name={name}"),
            Some(token),
            T,
        )
        .ok()?;
    (b.status == 200).then(|| b.json()["id"].as_i64()).flatten()
}

/// Branch `name`'s newest suite once it has `head` and every lane of it has
/// finished.
fn finished_suite(server: &Server, token: &str, name: &str, head: &str) -> Value {
    wait_for(
        &format!("the suite of {name}"),
        Duration::from_secs(180),
        || {
            let id = branch_id(server, token, name)?;
            let d = server
                .get(&format!("/news/api/forge/branch/{id}"), Some(token), T)
                .ok()?
                .json();
            let suite = d["suites"][0].clone();
            // A suite's lanes are queued after it: it is running until they end.
            let done = suite["head"] == head
                && suite["status"] != "running"
                && suite["lanes"]
                    .as_array()?
                    .iter()
                    .all(|l| !matches!(l["status"].as_str(), Some("queued" | "running")));
            done.then_some(suite)
        },
    )
}

fn lane_ids(suite: &Value) -> Vec<String> {
    suite["lanes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["lane"].as_str().unwrap().to_owned())
        .collect()
}

fn head_of(site: &Site, branch: &str) -> String {
    let out = Command::new("git")
        .args(["--git-dir", site.bare.as_str(), "rev-parse", branch])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// Every lane passed, recorded its pikaci run, and that run and its logs
/// are served, to our API and to `ph status` / `ph logs` (the strict
/// stand-ins of upstream's client types).
fn check_lanes_ran_pikaci(server: &Server, site: &Site, branch: i64, suite: &Value, output: &str) {
    let detail = server
        .get(
            &format!("/news/api/forge/branch/{branch}"),
            Some(&site.token),
            T,
        )
        .unwrap();
    let ph: BranchDetailResponse = decode(&detail.body).unwrap();
    let branch_name = detail.json()["name"].as_str().unwrap().to_owned();
    let run = ph
        .ci_runs
        .iter()
        .find(|r| Some(r.id) == suite["id"].as_i64())
        .expect("ph status shows the suite");
    assert_eq!(run.lanes.len(), suite["lanes"].as_array().unwrap().len());
    assert!(
        run.lanes.iter().all(|l| l.pikaci_run_id.is_some()),
        "{:?}",
        run.lanes
    );
    for lane in suite["lanes"].as_array().unwrap() {
        let name = lane["lane"].as_str().unwrap();
        assert_eq!(lane["status"], "passed", "{name}: {lane}\n{}", server.log());
        let run = lane["pikaci_run_id"]
            .as_str()
            .unwrap_or_else(|| panic!("{name} recorded no pikaci run: {lane}"));
        assert!(
            site.state_root
                .join("runs")
                .join(run)
                .join("run.json")
                .exists()
        );
        let logs = server
            .get(
                &format!(
                    "/news/api/forge/branch/{branch}/logs?lane_run_id={}",
                    lane["id"]
                ),
                Some(&site.token),
                T,
            )
            .unwrap();
        assert_eq!(logs.status, 200, "{}", String::from_utf8_lossy(&logs.body));
        // As upstream's `ph logs` reads it, strictly.
        let ph: BranchLogsResponse = decode(&logs.body).unwrap();
        assert_eq!(ph.lane.lane_id, name);
        assert_eq!(ph.lane.pikaci_run_id.as_deref(), Some(run));
        assert_eq!(ph.lane.pikaci_target_id.as_deref(), Some(name));
        assert!(ph.pikaci_run.is_some() && ph.pikaci_log_metadata.is_some());
        let logs = logs.json();
        assert_eq!(logs["pikaci_run"]["run_id"], run, "{logs}");
        assert_eq!(logs["pikaci_run"]["target_id"], name, "{logs}");
        // The lane's worktree is detached; the run records the branch.
        assert_eq!(logs["pikaci_run"]["git_branch"], branch_name, "{logs}");
        assert!(
            logs["pikaci_log_metadata"]["jobs"]
                .as_array()
                .is_some_and(|j| !j.is_empty()),
            "{logs}"
        );
        let text = server
            .get(
                &format!("/news/api/forge/pikaci/logs/{run}/raw?job=test&kind=guest"),
                Some(&site.token),
                T,
            )
            .unwrap();
        assert_eq!(text.status, 200);
        assert!(
            // The job's own output, its first line or the only one.
            String::from_utf8_lossy(&text.body).contains(output),
            "{name}: {}",
            String::from_utf8_lossy(&text.body)
        );
    }
}

#[test]
fn a_tree_shaped_like_todays_pika_runs_its_pikaci_targets() {
    let site = Site::new("default_branch = \"main\"");
    site.push(
        "main",
        &[("pikaci.toml", PIKA_SHAPED), ("README", "pika\n")],
    );
    site.push("feature", &[("crates/pika/src/lib.rs", "// a change\n")]);
    let server = site.serve(&[], &[]);
    let main = finished_suite(&server, &site.token, "main", &head_of(&site, "main"));
    assert_eq!(
        main["lane_source"],
        "head_pipeline",
        "{main}\n{}",
        server.log()
    );
    // The default branch runs every branch lane.
    assert_eq!(
        lane_ids(&main),
        ["pre-merge-pika-rust", "pre-merge-docs", "pre-merge-always"]
    );
    let feature = finished_suite(&server, &site.token, "feature", &head_of(&site, "feature"));
    assert_eq!(feature["lane_source"], "head_pipeline", "{feature}");
    assert_eq!(
        lane_ids(&feature),
        ["pre-merge-pika-rust", "pre-merge-always"],
        "a change under crates/pika/ selects by the targets' paths"
    );
    let rust = &feature["lanes"][0];
    assert_eq!(rust["title"], "pika-rust");
    let id = branch_id(&server, &site.token, "feature").unwrap();
    check_lanes_ran_pikaci(&server, &site, id, &feature, "testing\n");
    // The branch page says where the lanes came from.
    let page = server
        .get(&format!("/news/branch/{id}/ci"), Some(&site.token), T)
        .unwrap();
    let html = String::from_utf8_lossy(&page.body);
    assert!(
        html.contains("the CI targets of pikaci.toml at the head"),
        "{html}"
    );
}

#[test]
fn a_servers_manifest_runs_upstreams_nix_run_pikaci_lanes() {
    // Today's pika defines its lanes nowhere in its tree: the server's
    // manifest gives them, in upstream's form.
    let site = Site::new("default_branch = \"main\"\nlanes_manifest = \"pika-lanes.toml\"");
    std::fs::write(
        site.root.join("pika-lanes.toml"),
        r#"
version = 1

[[branch.lanes]]
id = "pre-merge-pika-rust"
title = "check-pika-rust"
entrypoint = "nix run .#pikaci -- run pre-merge-pika-rust"
command = ["nix", "run", ".#pikaci", "--", "run", "pre-merge-pika-rust"]
paths = ["crates/pika/**"]
concurrency_group = "staged-linux:pre-merge-pika-rust"

[[branch.lanes]]
id = "pre-merge-docs"
command = ["nix", "run", ".#pikaci", "--", "run", "pre-merge-docs"]
paths = ["docs/**"]
"#,
    )
    .unwrap();
    // A `nix` that becomes this workspace's pikaci, as `nix run` execs the
    // flake's app.
    let bin = site.root.join("bin");
    std::fs::create_dir(&bin).unwrap();
    write_exe(
        &bin.join("nix"),
        &format!(
            "#!/bin/bash\n[ \"$1 $2 $3\" = 'run .#pikaci --' ] || {{ echo \"unexpected: $*\" >&2; exit 7; }}\nshift 3\nexec {} \"$@\"\n",
            pikaci_bin()
        ),
    );
    // The tree's targets have no CI trigger: the server's manifest is used.
    let targets = PIKA_SHAPED
        .lines()
        .filter(|l| !l.starts_with("ci = "))
        .collect::<Vec<_>>()
        .join("\n");
    site.push("main", &[("pikaci.toml", &targets)]);
    site.push("feature", &[("crates/pika/src/lib.rs", "// a change\n")]);
    let path = format!("{bin}:{}", std::env::var("PATH").unwrap());
    let server = site.serve(&[("PATH", &path)], &[]);
    let main = finished_suite(&server, &site.token, "main", &head_of(&site, "main"));
    assert_eq!(main["lane_source"], "server_manifest", "{main}");
    assert_eq!(lane_ids(&main), ["pre-merge-pika-rust", "pre-merge-docs"]);
    let feature = finished_suite(&server, &site.token, "feature", &head_of(&site, "feature"));
    assert_eq!(lane_ids(&feature), ["pre-merge-pika-rust"]);
    assert_eq!(feature["lanes"][0]["title"], "check-pika-rust");
    for (name, suite) in [("main", &main), ("feature", &feature)] {
        let id = branch_id(&server, &site.token, name).unwrap();
        check_lanes_ran_pikaci(&server, &site, id, suite, "testing\n");
    }
    let page = server
        .get(
            &format!(
                "/news/branch/{}/ci",
                branch_id(&server, &site.token, "feature").unwrap()
            ),
            Some(&site.token),
            T,
        )
        .unwrap();
    assert!(
        String::from_utf8_lossy(&page.body).contains("lanes manifest (lanes_manifest)."),
        "{}",
        String::from_utf8_lossy(&page.body)
    );
}

fn write_exe(path: &Utf8Path, text: &str) {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// The lanes `pikaci targets --ci --changed` selects, run in the tree.
fn pikaci_selects(tree: &Utf8Path, changed: &[&str]) -> Vec<String> {
    let mut cmd = Command::new(pikaci_bin());
    cmd.current_dir(tree)
        .args(["targets", "--ci", "--output", "json"]);
    for c in changed {
        cmd.args(["--changed", c]);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["selected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect()
}

/// The branch lanes `pika-news manifest check --repo --head` would run,
/// and its whole report.
fn head_selects(
    git_dir: &Utf8Path,
    head: &str,
    server: Option<&str>,
    changed: &[&str],
) -> (String, Vec<String>) {
    let mut args = vec![
        "manifest",
        "check",
        "--repo",
        git_dir.as_str(),
        "--head",
        head,
    ];
    args.extend(server);
    for c in changed {
        args.extend(["--changed", c]);
    }
    let out = pika_news(&args);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lanes = stdout
        .split("nightly lanes (on")
        .next()
        .unwrap()
        .lines()
        .filter_map(|l| l.strip_prefix("  "))
        .map(|l| l.split_whitespace().next().unwrap().to_owned())
        .collect();
    (stdout, lanes)
}

/// The same changed files through `pikaci targets --ci --changed` and
/// `pika-news manifest check --repo --head --changed` select the same lanes
/// (the library's agreement is a unit test of lane_source).
#[test]
fn manifest_check_of_a_head_agrees_with_pikaci_targets() {
    let site = Site::new("");
    site.push("main", &[("pikaci.toml", PIKA_SHAPED)]);
    let (report, _) = head_selects(&site.bare, "main", None, &[]);
    assert!(
        report.starts_with(&format!(
            "pikaci.toml at {}: valid; 3 branch lanes, 1 nightly lanes at 08:00 UTC\n\
             lanes from: the CI targets of pikaci.toml at the head (head_pipeline)\n",
            &head_of(&site, "main")[..7]
        )),
        "{report}"
    );
    assert!(
        report.contains(
            "nightly lanes (on the default branch's head, daily):\n  nightly-everything "
        ),
        "{report}"
    );
    let cases: &[&[&str]] = &[
        &[],
        &["pikaci.toml"],
        &["Cargo.lock"],
        &["README.md"],
        &["docs/deep/er/page.md"],
        &["crates/pika/src/lib.rs", "docs/a.md"],
        &["crates/other/src/lib.rs"],
    ];
    for changed in cases {
        let want = pikaci_selects(&site.work, changed);
        let (report, got) = head_selects(&site.bare, "main", None, changed);
        assert_eq!(got, want, "{changed:?}: {report}");
    }
    assert_eq!(
        pikaci_selects(&site.work, &["docs/deep/er/page.md"]),
        ["pre-merge-docs", "pre-merge-always"],
        "`*` crosses `/`, as globset's defaults"
    );
    assert_eq!(
        pikaci_selects(&site.work, &["pikaci.toml"]).len(),
        3,
        "a change to the definition runs every lane"
    );
}

#[test]
fn manifest_check_of_a_head_names_its_source_in_order() {
    let site = Site::new("");
    let server = site.root.join("lanes.toml");
    std::fs::write(
        &server,
        "version = 1\n[[branch.lanes]]\nid = \"from-server\"\ncommand = [\"true\"]\n",
    )
    .unwrap();
    let manifest = "version = 1\n[[branch.lanes]]\nid = \"from-head\"\ncommand = [\"true\"]\n";
    site.push("plain", &[("README", "x\n")]);
    let (report, lanes) = head_selects(&site.bare, "plain", Some(server.as_str()), &[]);
    assert!(
        report
            .contains("lanes from: the server's lanes manifest (lanes_manifest) (server_manifest)"),
        "{report}"
    );
    assert_eq!(lanes, ["from-server"]);
    let out = pika_news(&[
        "manifest",
        "check",
        "--repo",
        site.bare.as_str(),
        "--head",
        "plain",
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("nothing to run"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    site.push("targets", &[("pikaci.toml", PIKA_SHAPED)]);
    let (report, _) = head_selects(&site.bare, "targets", Some(server.as_str()), &[]);
    assert!(report.contains("(head_pipeline)"), "{report}");
    site.push("manifest", &[("ci/forge-lanes.toml", manifest)]);
    let (report, lanes) = head_selects(&site.bare, "manifest", Some(server.as_str()), &[]);
    assert!(
        report.contains("lanes from: ci/forge-lanes.toml at the head (head_manifest)"),
        "{report}"
    );
    assert_eq!(lanes, ["from-head"]);
    // A broken pikaci.toml is an error naming its line, not a fallback.
    site.push(
        "broken",
        &[
            ("ci/forge-lanes.toml", ""),
            ("pikaci.toml", "[[target]]\nid = \"t\"\njobs = [\"nope\"]\n"),
        ],
    );
    std::fs::remove_file(site.work.join("ci/forge-lanes.toml")).unwrap();
    site.push("broken", &[]);
    let out = pika_news(&[
        "manifest",
        "check",
        "--repo",
        site.bare.as_str(),
        "--head",
        "broken",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).starts_with("pikaci.toml:"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = pika_news(&[
        "manifest",
        "check",
        "--repo",
        site.bare.as_str(),
        "--head",
        "no-such-branch",
    ]);
    assert_eq!(out.status.code(), Some(2));
}
