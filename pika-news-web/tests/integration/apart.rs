//! Lanes kept apart from each other, run for real by `pika-news serve`:
//! with `[lanes] uid_range` two lanes running at once get a uid each and
//! cannot reach each other's runs, homes, worktrees or processes; and
//! (with one shared `run_as_user`, the weaker setting) a lane that poisons
//! git's configuration in its `HOME` changes nothing for a later lane.

use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::time::Duration;

use camino::{Utf8Path, Utf8PathBuf};

use crate::served::{LANE_USER, Server, Site, lane_of, lane_user, wait_for};

/// The uids the range test lends out (no passwd entries needed).
const FIRST_UID: u32 = 200_100;

fn pikaci_toml(job: &str) -> String {
    format!(
        r#"
[[job]]
id = "{job}"
description = "{job}"
command = "bash {job}.sh"

[[target]]
id = "ci"
jobs = ["{job}"]
"#
    )
}

const LANES: &str = r#"
version = 1

[[branch.lanes]]
id = "ci"
title = "ci"
pikaci_target = "ci"
"#;

/// A folder every lane may write: where the tests' lanes meet.
fn meeting_place(site: &Site) -> Utf8PathBuf {
    let dir = site.root.join("meet");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o1777)).unwrap();
    dir
}

/// Pushes `branch` with one job running `script`.
fn push_job(site: &Site, branch: &str, job: &str, script: &str) {
    site.push(
        branch,
        &[
            ("pikaci.toml", &pikaci_toml(job)),
            ("ci/forge-lanes.toml", LANES),
            (&format!("{job}.sh"), script),
        ],
    );
}

/// Waits for `branch`'s lane to finish; returns it.
fn finished_lane(server: &Server, token: &str, branch: &str) -> serde_json::Value {
    wait_for(
        &format!("the lane of {branch} to finish"),
        Duration::from_secs(240),
        || {
            lane_of(server, token, branch)
                .filter(|l| !matches!(l["status"].as_str(), Some("queued" | "running") | None))
        },
    )
}

/// The job's log (`guest.log`) of a lane's run.
fn job_log(server: &Server, token: &str, lane: &serde_json::Value, job: &str) -> String {
    let run = lane["pikaci_run_id"].as_str().expect("a pikaci run");
    let logs = server
        .get(
            &format!("/news/api/forge/pikaci/logs/{run}?job={job}"),
            Some(token),
            Duration::from_secs(10),
        )
        .unwrap()
        .json();
    logs["guest"].as_str().unwrap().to_owned()
}

/// A lane's own log (what pika-news and pikaci wrote for it).
fn lane_log(server: &Server, token: &str, lane: &serde_json::Value) -> String {
    server
        .get(
            &format!("/news/api/forge/lane/{}/log", lane["id"]),
            Some(token),
            Duration::from_secs(10),
        )
        .map(|r| r.json()["log"].as_str().unwrap_or_default().to_owned())
        .unwrap_or_else(|e| format!("(no lane log: {e})"))
}

/// `KEY=value` from a line of `text` starting with `prefix`.
fn field(text: &str, prefix: &str, key: &str) -> String {
    let line = text
        .lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line {prefix:?} in {text}"));
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("no {key} in {line}"))
        .to_owned()
}

#[test]
fn lanes_from_a_uid_range_run_apart_and_their_runs_end_up_the_services() {
    let site = Site::new(&format!(
        "ci_concurrency = 2\n[lanes]\nuid_range = \"{FIRST_UID}-{}\"\n",
        FIRST_UID + 99
    ));
    let meet = meeting_place(&site);
    let state = &site.state_root;
    let server = site.serve(&[], &[]);
    // Lane A holds its run open until lane B has tried everything on it.
    push_job(
        &site,
        "a",
        "hold",
        &format!(
            r#"
echo "A uid=$(id -u) gid=$(id -g) groups=$(id -G) home=$HOME tmp=$TMPDIR path=$PATH cgroup=$(sed -n 's/^0:://p' /proc/self/cgroup)"
for p in /proc/[0-9]*; do
  [ "$(stat -c %u $p 2>/dev/null)" = "$(id -u)" ] && echo "A-PROC cgroup=$(sed -n 's/^0:://p' $p/cgroup 2>/dev/null) pid=${{p#/proc/}} $(tr '\0' ' ' < $p/cmdline 2>/dev/null | cut -c1-60)"
done
printf '%s %s %s %s\n' "$PIKACI_RUN_ID" "$HOME" "$(id -u)" "$PIKACI_SOURCE_ROOT" > {meet}/a-info.tmp
mv {meet}/a-info.tmp {meet}/a-info
for i in $(seq 1800); do [ -e {meet}/b-done ] && exit 0; sleep 0.1; done
exit 1
"#
        ),
    );
    push_job(
        &site,
        "b",
        "probe",
        &format!(
            r#"
try() {{ what="$1"; shift; if "$@" >/dev/null 2>&1; then echo "ALLOWED $what"; else echo "DENIED $what"; fi; }}
for i in $(seq 1800); do [ -e {meet}/a-info ] && break; sleep 0.1; done
read arun ahome auid asrc < {meet}/a-info
echo "B uid=$(id -u) gid=$(id -g) home=$HOME tmp=$TMPDIR"
apid=
for p in /proc/[0-9]*; do [ "$(stat -c %u $p 2>/dev/null)" = "$auid" ] && apid=${{p#/proc/}}; done
echo "A-PID $apid"
RUNS={state}/runs
try "a-record-write" sh -c "echo x >> $RUNS/$arun/run.json"
try "a-run-new-file" touch $RUNS/$arun/evil
try "a-run-rename" mv $RUNS/$arun $RUNS/$arun.gone
try "a-run-remove" rm -rf $RUNS/$arun
try "runs-rename" mv $RUNS {state}/runs.gone
try "state-root-write" touch {state}/evil
try "a-home-list" ls $ahome
try "a-home-write" touch $ahome/evil
try "a-worktree-list" ls $asrc
try "a-signal" kill -0 $apid
echo DONE
touch {meet}/b-done
"#
        ),
    );
    let token = site.token.clone();
    let b = finished_lane(&server, &token, "b");
    let a = finished_lane(&server, &token, "a");
    if a["status"] != "passed" || b["status"] != "passed" {
        panic!(
            "A: {a}\n{}\n{}\nB: {b}\n{}\n{}\nserver:\n{}",
            lane_log(&server, &token, &a),
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job_log(
                &server, &token, &a, "hold"
            )))
            .unwrap_or_default(),
            lane_log(&server, &token, &b),
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job_log(
                &server, &token, &b, "probe"
            )))
            .unwrap_or_default(),
            server.log()
        );
    }
    let a_log = job_log(&server, &token, &a, "hold");
    let b_log = job_log(&server, &token, &b, "probe");
    assert!(b_log.contains("DONE"), "{b_log}");

    // Each ran as a uid of the range, its own, in the lanes' group only.
    let (a_uid, b_uid): (u32, u32) = (
        field(&a_log, "A ", "uid").parse().unwrap(),
        field(&b_log, "B ", "uid").parse().unwrap(),
    );
    let range = FIRST_UID..FIRST_UID + 100;
    assert!(
        range.contains(&a_uid) && range.contains(&b_uid) && a_uid != b_uid,
        "{a_uid} {b_uid}"
    );
    assert_eq!(field(&a_log, "A ", "gid"), FIRST_UID.to_string());
    assert_eq!(field(&a_log, "A ", "groups"), FIRST_UID.to_string());
    // Each had a HOME and TMPDIR of its own.
    let (a_home, b_home) = (field(&a_log, "A ", "home"), field(&b_log, "B ", "home"));
    assert_ne!(a_home, b_home);
    assert!(
        a_home.starts_with(site.data.join("lane-homes").as_str()),
        "{a_home}"
    );
    assert_eq!(field(&a_log, "A ", "tmp"), format!("{a_home}/tmp"));
    // Every process of the lane (pikaci, what it forked as it started, the
    // job) is in the lane's cgroup: none started before it was moved in.
    let cgroup = field(&a_log, "A ", "cgroup");
    assert!(cgroup.starts_with("/pika-news-lane-"), "{a_log}");
    let procs: Vec<&str> = a_log.lines().filter(|l| l.starts_with("A-PROC ")).collect();
    assert!(
        procs.len() >= 3,
        "pikaci, the job's shell and more: {a_log}"
    );
    for p in procs {
        assert!(
            p.starts_with(&format!("A-PROC cgroup={cgroup} ")),
            "outside the lane's cgroup: {p}\n{a_log}"
        );
    }
    // The lane's PATH, not the service's.
    assert_eq!(
        field(&a_log, "A ", "path"),
        pika_news_core::sandbox::DEFAULT_LANE_PATH
    );
    assert!(!b_log.contains("A-PID \n"), "B found A's job: {b_log}");

    for what in [
        "a-record-write",
        "a-run-new-file",
        "a-run-rename",
        "a-run-remove",
        "runs-rename",
        "state-root-write",
        "a-home-list",
        "a-home-write",
        "a-worktree-list",
        "a-signal",
    ] {
        assert!(
            b_log.contains(&format!("DENIED {what}\n")),
            "{what} was not denied:\n{b_log}"
        );
    }
    assert!(!b_log.contains("ALLOWED"), "{b_log}");

    // The state root is the service's, runs/ the lanes' group's, sticky;
    // each finished run was given to the service; nothing of the lanes is
    // left: no home, no worktree, no process of their uids.
    let meta = |p: &Utf8Path| std::fs::symlink_metadata(p).unwrap();
    assert_eq!((meta(state).uid(), meta(state).mode() & 0o7777), (0, 0o755));
    let runs = meta(&state.join("runs"));
    assert_eq!(
        (runs.uid(), runs.gid(), runs.mode() & 0o7777),
        (0, FIRST_UID, 0o1770)
    );
    for lane in [&a, &b] {
        let run = state
            .join("runs")
            .join(lane["pikaci_run_id"].as_str().unwrap());
        assert_eq!(meta(&run).uid(), 0, "{run}");
        assert_eq!(meta(&run.join("run.json")).uid(), 0, "{run}");
    }
    for dir in ["lane-homes", "worktrees"] {
        let left: Vec<_> = std::fs::read_dir(site.data.join(dir)).unwrap().collect();
        assert!(left.is_empty(), "{dir}: {left:?}");
    }
    let busy = pika_news_core::sandbox::accounts::uids_in_use();
    assert!(!busy.contains(&a_uid) && !busy.contains(&b_uid), "{busy:?}");
}

#[test]
fn a_lane_that_poisons_gits_configuration_changes_nothing_for_a_later_lane() {
    let _ = lane_user();
    let site = Site::new(&format!("[lanes]\nrun_as_user = \"{LANE_USER}\"\n"));
    let meet = meeting_place(&site);
    // Had it worked, the user's home from the user database would hold it
    // too: leave nothing there for other tests.
    let passwd_home = Utf8PathBuf::from(format!("/var/lib/{LANE_USER}"));
    struct Scrub(Utf8PathBuf);
    impl Drop for Scrub {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(self.0.join(".gitconfig"));
            let _ = std::fs::remove_file(self.0.join("fsmonitor.sh"));
        }
    }
    let _scrub = Scrub(passwd_home.clone());
    let server = site.serve(&[], &[]);
    let marker = meet.join("fsmonitor-ran");
    push_job(
        &site,
        "poison",
        "poison",
        &format!(
            r#"
printf '#!/bin/sh\necho "$(id -u) $PWD" >> {marker}\n' > "$HOME/fsmonitor.sh"
chmod +x "$HOME/fsmonitor.sh"
printf '[core]\n\tfsmonitor = %s\n' "$HOME/fsmonitor.sh" > "$HOME/.gitconfig"
echo "POISONED home=$HOME"
"#
        ),
    );
    let token = site.token.clone();
    let poison = finished_lane(&server, &token, "poison");
    assert_eq!(poison["status"], "passed", "{poison}\n{}", server.log());
    let poison_log = job_log(&server, &token, &poison, "poison");
    let poison_home = field(&poison_log, "POISONED", "home");

    push_job(
        &site,
        "victim",
        "victim",
        r#"
if [ -e "$HOME/.gitconfig" ]; then echo "VICTIM home=$HOME gitconfig=present"; else echo "VICTIM home=$HOME gitconfig=absent"; fi
"#,
    );
    let victim = finished_lane(&server, &token, "victim");
    assert_eq!(victim["status"], "passed", "{victim}\n{}", server.log());
    let victim_log = job_log(&server, &token, &victim, "victim");
    assert_eq!(
        field(&victim_log, "VICTIM", "gitconfig"),
        "absent",
        "{victim_log}"
    );
    assert_ne!(field(&victim_log, "VICTIM", "home"), poison_home);
    assert!(
        !marker.exists(),
        "the poisoned configuration ran a program in a later lane: {}",
        std::fs::read_to_string(&marker).unwrap_or_default()
    );
    // The victim's snapshot still knew its git facts (git ran, minus the poison).
    let run = victim["pikaci_run_id"].as_str().unwrap();
    let record: serde_json::Value = serde_json::from_slice(
        &std::fs::read(site.state_root.join(format!("runs/{run}/run.json"))).unwrap(),
    )
    .unwrap();
    assert!(
        record["git_head"].as_str().is_some_and(|h| h.len() == 40),
        "{record}"
    );
}

#[test]
fn a_job_announcing_another_run_on_pikacis_stdout_does_not_change_the_lanes_run() {
    // Lanes run as the service here: a lane user cannot reopen pikaci's
    // stdout through /proc (the pipe is the service's, 0600), though it can
    // still reach it by other means (ptrace, where the host allows it).
    // The check does not depend on how the line got there.
    let site = Site::new("");
    let server = site.serve(&[], &[]);
    let token = site.token.clone();
    push_job(&site, "honest", "honest", "echo honest\n");
    let honest = finished_lane(&server, &token, "honest");
    assert_eq!(honest["status"], "passed", "{honest}\n{}", server.log());
    let other = honest["pikaci_run_id"].as_str().unwrap().to_owned();

    // The job finds its pikaci (up its parents) and writes a run_started
    // naming the other branch's run where pikaci's events go.
    push_job(
        &site,
        "liar",
        "liar",
        &format!(
            r#"
p=$PPID
while [ "$p" -gt 1 ] && ! tr '\0' ' ' < /proc/$p/cmdline | grep -q ' run ci --output jsonl'; do
  p=$(sed 's/.*) //' /proc/$p/stat | cut -d' ' -f2)
done
echo "MY-RUN run=$PIKACI_RUN_ID pikaci=$p"
printf '{{"event":"run_started","run_id":"{other}","created_at":"2026-03-24T16:12:38Z"}}\n' > /proc/$p/fd/1 && echo WROTE
"#
        ),
    );
    let liar = finished_lane(&server, &token, "liar");
    let log = job_log(&server, &token, &liar, "liar");
    assert_eq!(liar["status"], "passed", "{liar}\n{log}");
    assert!(log.contains("WROTE"), "the lie was not told: {log}");
    let mine = field(&log, "MY-RUN", "run");
    assert_eq!(liar["pikaci_run_id"].as_str(), Some(mine.as_str()));
    assert_ne!(mine, other);
    let lane_log = server
        .get(
            &format!("/news/api/forge/lane/{}/log", liar["id"]),
            Some(&token),
            Duration::from_secs(10),
        )
        .unwrap()
        .json();
    let text = lane_log["log"].as_str().unwrap();
    assert!(
        text.contains(&format!("[pika-news] ignored run_started for {other}")),
        "{text}"
    );
}
