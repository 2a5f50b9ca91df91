//! A hostile lane, run for real (a pushed branch, the scheduler, pikaci, a
//! job running a script) by `pika-news serve` with `[lanes] run_as_user`,
//! tries every way to the service's secrets and files, and each one fails.

use std::time::Duration;

use crate::served::{LANE_USER, Site, lane_of, lane_user, pika_news, pika_news_bin, wait_for};

/// A value only the server's environment holds.
const SECRET: &str = "AKIAhostile-test-secret-5f1d0c";

const PIKACI_TOML: &str = r#"
[[job]]
id = "hostile"
description = "tries to reach the service"
command = "bash hostile.sh"

[[target]]
id = "ci"
jobs = ["hostile"]
"#;

const LANES: &str = r#"
version = 1

[[branch.lanes]]
id = "ci"
title = "ci"
pikaci_target = "ci"
"#;

/// The script: every attempt prints `ALLOWED <what>` if it worked and
/// `DENIED <what>` if it did not. Paths are given as an attacker would learn
/// them (the server's command line names the config; defaults name the rest).
fn hostile_script(site: &Site) -> String {
    format!(
        r#"
CONFIG={config}
DB={db}
DATA={data}
BARE={bare}
BIN={bin}
try() {{ what="$1"; shift; if "$@" >/dev/null 2>&1; then echo "ALLOWED $what"; else echo "DENIED $what"; fi; }}
# /proc files report size 0: read a little to see whether they open.
readable() {{ [ -n "$(head -c 64 "$1" 2>/dev/null | tr -d '\0')" ]; }}
echo "IDENTITY uid=$(id -u) groups=$(id -G) home=$HOME"
pid=
for p in /proc/[0-9]*; do
  if tr '\0' ' ' < "$p/cmdline" 2>/dev/null | grep -q "pika-news serve --config $CONFIG"; then pid="${{p#/proc/}}"; fi
done
echo "SERVER pid=$pid"
# Read the server's environment (and print it, so a leak would show in the log).
try "environ" readable /proc/$pid/environ
tr '\0' '\n' < /proc/$pid/environ 2>/dev/null | head -c 100000
try "fd-list" ls /proc/$pid/fd
try "cwd" ls /proc/$pid/cwd/
try "exe" readlink /proc/$pid/exe
try "signal" kill -STOP $pid
# The service's configuration, database and token material.
try "config-read" cat $CONFIG
try "db-read" head -c 16 $DB
try "db-sqlite" sqlite3 -readonly $DB "select hash from tokens"
try "db-wal-read" head -c 16 $DB-wal
try "token-cli" $BIN token create --config $CONFIG --name evil --role admin
printf 'database = "%s"\n[forge_repo]\nrepo = "x"\ncanonical_git_dir = "/tmp/x.git"\n' "$DB" > /tmp/evil-$$.toml
try "token-cli-own-config" $BIN token create --config /tmp/evil-$$.toml --name evil2 --role admin
rm -f /tmp/evil-$$.toml
# Writing the service's files.
try "config-write" sh -c "echo '# x' >> $CONFIG"
try "db-write" sh -c "echo x >> $DB"
try "db-delete" rm -f $DB
try "data-list" ls $DATA
try "data-write" touch $DATA/evil
try "lane-logs-list" ls $DATA/lane-logs
try "lane-log-read" cat $DATA/lane-logs/1.log
try "lane-logs-write" touch $DATA/lane-logs/evil
try "repo-ref-write" sh -c "echo 0000000000000000000000000000000000000000 > $BARE/refs/heads/evil"
try "repo-config-write" sh -c "echo '[core]' >> $BARE/config"
try "repo-hook" sh -c "echo 'id' > $BARE/hooks/post-update"
echo "ENV-HAS-SECRET $(env | grep -c AWS_SECRET_ACCESS_KEY)"
echo "DONE"
"#,
        config = site.config,
        db = site.db,
        data = site.data,
        bare = site.bare,
        bin = pika_news_bin(),
    )
}

const ATTEMPTS: &[&str] = &[
    "environ",
    "fd-list",
    "cwd",
    "exe",
    "signal",
    "config-read",
    "db-read",
    "db-sqlite",
    "db-wal-read",
    "token-cli",
    "token-cli-own-config",
    "config-write",
    "db-write",
    "db-delete",
    "data-list",
    "data-write",
    "lane-logs-list",
    "lane-log-read",
    "lane-logs-write",
    "repo-ref-write",
    "repo-config-write",
    "repo-hook",
];

#[test]
fn a_hostile_lane_cannot_reach_the_service_secrets_or_files() {
    let (lane_uid, lane_gid) = lane_user();
    hostile_lane(
        &format!("[lanes]\nrun_as_user = \"{LANE_USER}\"\n"),
        lane_uid,
        lane_gid,
    );
}

#[test]
fn the_same_with_a_uid_of_its_own_from_a_range() {
    // The range's first uid: the only lane, so the first lent.
    hostile_lane("[lanes]\nuid_range = \"200200-200209\"\n", 200_200, 200_200);
}

/// Runs the hostile lane with `config`'s `[lanes]`; it must run as
/// `lane_uid` in `lane_gid` only.
fn hostile_lane(config: &str, lane_uid: u32, lane_gid: u32) {
    let site = Site::new(config);
    let config_before = std::fs::read(&site.config).unwrap();
    let server = site.serve(&[("AWS_SECRET_ACCESS_KEY", SECRET)], &[]);
    site.push(
        "main",
        &[
            ("pikaci.toml", PIKACI_TOML),
            ("ci/forge-lanes.toml", LANES),
            ("hostile.sh", &hostile_script(&site)),
        ],
    );
    let token = site.token.clone();
    let lane = wait_for(
        "the hostile lane to finish",
        Duration::from_secs(180),
        || {
            lane_of(&server, &token, "main")
                .filter(|l| !matches!(l["status"].as_str(), Some("queued" | "running") | None))
        },
    );
    assert_eq!(lane["status"], "passed", "{lane}\n{}", server.log());
    let run = lane["pikaci_run_id"]
        .as_str()
        .expect("a pikaci run")
        .to_owned();
    let t = Duration::from_secs(10);
    let logs = server
        .get(
            &format!("/news/api/forge/pikaci/logs/{run}?job=hostile"),
            Some(&token),
            t,
        )
        .unwrap()
        .json();
    let guest = logs["guest"].as_str().unwrap().to_owned();
    assert!(guest.contains("DONE"), "{guest}");

    // It ran as the lane user, with that user's group only and a fresh home
    // of its own.
    assert!(
        guest.contains(&format!(
            "IDENTITY uid={lane_uid} groups={lane_gid} home={}/lane-homes/lane-{}-",
            site.data, lane["id"]
        )),
        "{guest}"
    );
    assert!(
        guest.contains(&format!("SERVER pid={}\n", server.pid)),
        "the script found the server: {guest}"
    );
    for what in ATTEMPTS {
        assert!(
            guest.contains(&format!("DENIED {what}\n")),
            "{what} was not denied:\n{guest}"
        );
    }
    assert!(!guest.contains("ALLOWED"), "{guest}");
    assert!(guest.contains("ENV-HAS-SECRET 0\n"), "{guest}");

    // The secret is in no log: the job's, pikaci's, the lane's.
    let lane_log = server
        .get(
            &format!("/news/api/forge/lane/{}/log", lane["id"]),
            Some(&token),
            t,
        )
        .unwrap()
        .json();
    for text in [
        guest.as_str(),
        logs["host"].as_str().unwrap(),
        lane_log["log"].as_str().unwrap(),
    ] {
        assert!(!text.contains(SECRET), "the secret leaked: {text}");
    }
    let on_disk =
        std::fs::read_to_string(site.data.join(format!("lane-logs/{}.log", lane["id"]))).unwrap();
    assert!(!on_disk.contains(SECRET));

    // Nothing of the service changed: no admin token, config and files intact.
    let out = pika_news(&["token", "list", "--config", site.config.as_str()]);
    let list = String::from_utf8_lossy(&out.stdout);
    assert!(list.contains("reader") && !list.contains("evil"), "{list}");
    assert_eq!(std::fs::read(&site.config).unwrap(), config_before);
    assert!(!site.data.join("evil").exists() && !site.data.join("lane-logs/evil").exists());
    assert!(!site.bare.join("refs/heads/evil").exists());
    assert!(
        server.get("/health", None, t).unwrap().status == 200,
        "the server was not stopped"
    );

    // The service's files have the documented modes; the state root is the lane user's.
    use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
    let mode = |p: &camino::Utf8Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode(&site.db), 0o600);
    assert_eq!(mode(&site.data), 0o711);
    assert_eq!(mode(&site.data.join("lane-logs")), 0o700);
    // The state root is the service's; runs/ the lane group's, sticky; the
    // finished run the service's too.
    let state = std::fs::metadata(&site.state_root).unwrap();
    assert_eq!((state.uid(), mode(&site.state_root)), (0, 0o755));
    let runs = site.state_root.join("runs");
    let meta = std::fs::metadata(&runs).unwrap();
    assert_eq!((meta.uid(), meta.gid(), mode(&runs)), (0, lane_gid, 0o1770));
    assert_eq!(std::fs::metadata(runs.join(&run)).unwrap().uid(), 0);
    // The worktree and the lane's home were removed after the lane.
    for dir in ["worktrees", "lane-homes"] {
        assert_eq!(
            std::fs::read_dir(site.data.join(dir)).unwrap().count(),
            0,
            "{dir}"
        );
    }
}

#[test]
fn a_readable_config_or_a_missing_lane_user_stops_the_server_before_it_serves() {
    let site = Site::new(&format!("[lanes]\nrun_as_user = \"{LANE_USER}\"\n"));
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&site.config, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = pika_news(&["serve", "--config", site.config.as_str()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("chmod 600"), "{err}");

    let site = Site::new("[lanes]\nrun_as_user = \"no-such-lane-user-pn\"\n");
    let out = pika_news(&["serve", "--config", site.config.as_str()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("does not exist") && err.contains("useradd"),
        "{err}"
    );
}
