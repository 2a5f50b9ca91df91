//! Upstream pika's manifest over a real repository: its selection rules,
//! its lane forms, and nightly runs on the manifest's schedule, driven by the
//! database's manual clock (nothing sleeps).

use jiff::{SignedDuration, Timestamp};
use pika_news_core::db::{LaneStatus, SuiteStatus};
use pika_news_core::lanes::git::Git;
use pika_news_core::lanes::lane_source::LaneSource;
use pika_news_core::lanes::manifest::LaneCommand;
use pika_news_core::scheduler::{NightlyCheck, schedule_due_nightly, sync_heads};

use crate::forge::{Forge, sh};

const MANIFEST: &str = r#"
version = 1
nightly_schedule_utc = "17:00"

[[branch.lanes]]
id = "docs"
title = "docs"
command = ["true"]
paths = ["docs/**"]

[[branch.lanes]]
id = "linux"
title = "check-linux"
staged_linux_target = "pre-merge-linux"
paths = ["src/**"]

[[branch.lanes]]
id = "wrapped"
title = "wrapped"
command = ["./scripts/pikaci-staged-linux-remote.sh", "run", "pre-merge-wrapped"]
paths = ["src/**"]

[[branch.lanes]]
id = "always"
title = "always"
command = ["true"]

[[nightly.lanes]]
id = "nightly_e2e"
title = "nightly-e2e"
entrypoint = "just nightly-e2e"
command = ["true"]

[[nightly.lanes]]
id = "nightly_linux"
title = "nightly-linux"
staged_linux_target = "nightly-linux"
"#;

async fn lanes_of(f: &Forge, branch: &str) -> Vec<String> {
    let b = f.db.branch_by_name(branch).await.unwrap().unwrap();
    f.db.suites(b.id).await.unwrap()[0]
        .lanes
        .iter()
        .map(|l| l.lane.clone())
        .collect()
}

#[tokio::test]
async fn branches_select_lanes_by_upstreams_rules() {
    let f = Forge::new();
    let git = Git::new(f.bare.clone());
    f.push(
        "main",
        &[("README", "hi\n"), ("ci/forge-lanes.toml", MANIFEST)],
    );
    f.push("feature/docs", &[("docs/a.md", "a")]);
    sh(&f.work, "git checkout -q main");
    f.push("feature/src", &[("src/lib.rs", "x")]);
    sh(&f.work, "git checkout -q main");
    f.push(
        "feature/manifest",
        &[("ci/forge-lanes.toml", &format!("{MANIFEST}\n# tweak\n"))],
    );
    sh(&f.work, "git checkout -q main");
    // An empty commit: nothing changed.
    f.push("feature/empty", &[]);
    sh(&f.work, "git checkout -q main");
    f.push("feature/readme", &[("README", "changed\n")]);
    sync_heads(&f.db, &git, &f.repo).await.unwrap();

    assert_eq!(lanes_of(&f, "feature/docs").await, ["docs", "always"]);
    assert_eq!(
        lanes_of(&f, "feature/src").await,
        ["linux", "wrapped", "always"]
    );
    let all = ["docs", "linux", "wrapped", "always"];
    assert_eq!(
        lanes_of(&f, "feature/manifest").await,
        all,
        "the manifest changed"
    );
    assert_eq!(lanes_of(&f, "feature/empty").await, all, "nothing changed");
    assert_eq!(lanes_of(&f, "feature/readme").await, ["always"]);
    assert_eq!(
        lanes_of(&f, "main").await,
        all,
        "the default branch runs every lane"
    );

    // The staged and wrapper forms are pikaci lanes, shown as upstream shows them.
    let b = f.db.branch_by_name("feature/src").await.unwrap().unwrap();
    let suite = &f.db.suite_details(b.id, 1).await.unwrap()[0];
    let linux = &suite.lanes[0];
    let command: LaneCommand = serde_json::from_str(linux.command.as_deref().unwrap()).unwrap();
    assert_eq!(
        command,
        LaneCommand::PikaciTarget("pre-merge-linux".parse().unwrap())
    );
    assert_eq!(
        linux.entrypoint.as_deref(),
        Some("pikaci run pre-merge-linux")
    );
    assert_eq!(
        linux.run.concurrency_group.as_deref(),
        Some("staged-linux:pre-merge-linux")
    );
    let wrapped = &suite.lanes[1];
    let command: LaneCommand = serde_json::from_str(wrapped.command.as_deref().unwrap()).unwrap();
    assert_eq!(
        command,
        LaneCommand::PikaciTarget("pre-merge-wrapped".parse().unwrap())
    );
    // The branch's title and merge base, for upstream's branch view.
    let main_head = sh_out(&f, "git rev-parse main");
    let meta = f.db.branch_meta(b.id).await.unwrap();
    assert_eq!(meta.title.as_deref(), Some("change"));
    let head = b.head.clone().unwrap();
    let author = sh_out(&f, &format!("git log -1 --format=%an {head}"));
    assert_eq!(meta.author.as_deref(), Some(author.as_str()));
    assert_eq!(meta.merge_base.as_deref(), Some(main_head.as_str()));
}

fn sh_out(f: &Forge, cmd: &str) -> String {
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(cmd)
        .current_dir(&f.work)
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn at(s: &str) -> Timestamp {
    s.parse().unwrap()
}

#[tokio::test]
async fn a_nightly_run_is_queued_once_per_slot_on_the_default_branch_head() {
    let f = Forge::new();
    let git = Git::new(f.bare.clone());
    f.push(
        "main",
        &[("README", "hi\n"), ("ci/forge-lanes.toml", MANIFEST)],
    );
    sync_heads(&f.db, &git, &f.repo).await.unwrap();
    let head = sh_out(&f, "git rev-parse main");
    let now = || pika_news_core::clock::Clock::now(&f.clock);

    // 16:12: today's 17:00 slot is still to come.
    assert_eq!(
        schedule_due_nightly(&f.db, &git, &f.repo, now())
            .await
            .unwrap(),
        NightlyCheck::NotDue {
            slot: at("2026-03-24T17:00:00Z")
        }
    );
    f.clock.set(at("2026-03-24T17:00:00Z"));
    let NightlyCheck::Made { id, slot } = schedule_due_nightly(&f.db, &git, &f.repo, now())
        .await
        .unwrap()
    else {
        panic!("no nightly run at its slot");
    };
    assert_eq!(slot, at("2026-03-24T17:00:00Z"));
    f.clock.advance(SignedDuration::from_mins(30));
    assert_eq!(
        schedule_due_nightly(&f.db, &git, &f.repo, now())
            .await
            .unwrap(),
        NightlyCheck::AlreadyMade { slot }
    );
    let run = f.db.nightly(id).await.unwrap().unwrap();
    assert_eq!(run.head, head);
    assert_eq!(run.source_ref, "refs/heads/main");
    assert_eq!(run.scheduled_for, "2026-03-24T17:00:00.000Z");
    assert_eq!(run.status, SuiteStatus::Running);
    assert_eq!(run.lane_source, Some(LaneSource::HeadManifest));
    let shown: Vec<_> = run
        .lanes
        .iter()
        .map(|l| (l.run.lane.as_str(), l.entrypoint.as_deref().unwrap()))
        .collect();
    assert_eq!(
        shown,
        [
            ("nightly_e2e", "just nightly-e2e"),
            ("nightly_linux", "pikaci run nightly-linux")
        ]
    );

    // The default branch's own suites do not show it, and a new head of the
    // default branch does not cancel it.
    let main = f.db.branch_by_name("main").await.unwrap().unwrap();
    assert_eq!(f.db.suites(main.id).await.unwrap().len(), 1);
    f.push("main", &[("README", "newer\n")]);
    let report = sync_heads(&f.db, &git, &f.repo).await.unwrap();
    assert_eq!(report.suites, 1, "{report:?}");
    let run = f.db.nightly(id).await.unwrap().unwrap();
    assert!(run.lanes.iter().all(|l| l.run.status == LaneStatus::Queued));

    // Its lanes run on the head it was made for.
    let mut heads = Vec::new();
    f.db.set_lane_slots(10);
    while let Some(c) = f.db.claim_lane("me", 60).await.unwrap() {
        if c.suite_id == run.suite_id {
            heads.push(c.head.clone());
        }
    }
    assert_eq!(heads, [head.clone(), head]);

    // The next day's slot: the default branch's head by then.
    f.clock.advance(SignedDuration::from_hours(24));
    let NightlyCheck::Made { id: next, slot } = schedule_due_nightly(&f.db, &git, &f.repo, now())
        .await
        .unwrap()
    else {
        panic!("no nightly run the next day");
    };
    assert_eq!(slot, at("2026-03-25T17:00:00Z"));
    let next = f.db.nightly(next).await.unwrap().unwrap();
    assert_eq!(next.head, sh_out(&f, "git rev-parse main"));
    let listed: Vec<_> =
        f.db.nightlies(10)
            .await
            .unwrap()
            .iter()
            .map(|n| n.id)
            .collect();
    assert_eq!(listed, [next.id, id], "newest first");
}

#[tokio::test]
async fn the_scheduler_queues_and_runs_a_due_nightly_run() {
    let f = Forge::new();
    f.push(
        "main",
        &[(
            "ci/forge-lanes.toml",
            "version = 1\nnightly_schedule_utc = \"16:00\"\n[[nightly.lanes]]\nid = \"n\"\ncommand = [\"true\"]\n",
        )],
    );
    // 16:12 is past today's 16:00: the first tick makes and starts it.
    let sched = f.scheduler();
    let shutdown = tokio_util::sync::CancellationToken::new();
    let started = sched.tick(&shutdown).await.unwrap();
    assert_eq!(started.len(), 1);
    for h in started {
        h.await.unwrap();
    }
    let runs = f.db.nightlies(10).await.unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].scheduled_for, "2026-03-24T16:00:00.000Z");
    assert_eq!(runs[0].status, SuiteStatus::Passed);
    assert_eq!(runs[0].lanes[0].run.status, LaneStatus::Passed);
    // The next tick the same day makes none.
    assert!(sched.tick(&shutdown).await.unwrap().is_empty());
    assert_eq!(f.db.nightlies(10).await.unwrap().len(), 1);
}

#[tokio::test]
async fn no_default_branch_no_nightly_lanes_or_a_bad_manifest_make_no_nightly_run() {
    let f = Forge::new();
    let git = Git::new(f.bare.clone());
    let now = at("2026-03-24T23:00:00Z");
    f.push("feature/a", &[("ci/forge-lanes.toml", MANIFEST)]);
    assert_eq!(
        schedule_due_nightly(&f.db, &git, &f.repo, now)
            .await
            .unwrap(),
        NightlyCheck::NoDefaultBranch
    );
    sh(&f.work, "git checkout -q -b main");
    f.push(
        "main",
        &[(
            "ci/forge-lanes.toml",
            "version = 1\nnightly_schedule_utc = \"01:00\"\n",
        )],
    );
    assert_eq!(
        schedule_due_nightly(&f.db, &git, &f.repo, now)
            .await
            .unwrap(),
        NightlyCheck::NoNightlyLanes
    );
    f.push(
        "main",
        &[(
            "ci/forge-lanes.toml",
            "version = 1\nnightly_schedule_utc = \"25:00\"\n",
        )],
    );
    let NightlyCheck::BadManifest(e) = schedule_due_nightly(&f.db, &git, &f.repo, now)
        .await
        .unwrap()
    else {
        panic!("a bad manifest");
    };
    assert!(
        e.contains("ci/forge-lanes.toml:2: key `nightly_schedule_utc`"),
        "{e}"
    );
    assert!(f.db.nightlies(10).await.unwrap().is_empty());
}

/// Today's pika shape: `trigger = "nightly"` targets make the nightly run of
/// the default branch's head, at upstream's 08:00 UTC unless `[ci]` says;
/// with none in the tree, the server's manifest gives them.
#[tokio::test]
async fn nightly_targets_of_pikaci_toml_make_the_nightly_run_at_eight() {
    const TARGETS: &str = r#"
[[job]]
id = "e2e"
command = "true"

[[target]]
id = "pre-merge"
jobs = ["e2e"]
ci = { trigger = "branch" }

[[target]]
id = "nightly_pika"
title = "nightly-pika"
jobs = ["e2e"]
ci = { trigger = "nightly" }

[[target]]
id = "nightly_android"
jobs = ["e2e"]
ci = { trigger = "nightly", concurrency_group = "nightly-android" }
"#;
    let f = Forge::new();
    let git = Git::new(f.bare.clone());
    f.push("main", &[("pikaci.toml", TARGETS)]);
    f.clock.set(at("2026-03-24T07:59:00Z"));
    let now = || pika_news_core::clock::Clock::now(&f.clock);
    assert_eq!(
        schedule_due_nightly(&f.db, &git, &f.repo, now())
            .await
            .unwrap(),
        NightlyCheck::NotDue {
            slot: at("2026-03-24T08:00:00Z")
        }
    );
    f.clock.set(at("2026-03-24T08:00:00Z"));
    let NightlyCheck::Made { id, .. } = schedule_due_nightly(&f.db, &git, &f.repo, now())
        .await
        .unwrap()
    else {
        panic!("no nightly run at 08:00");
    };
    let run = f.db.nightly(id).await.unwrap().unwrap();
    assert_eq!(run.head, sh_out(&f, "git rev-parse main"));
    assert_eq!(run.lane_source, Some(LaneSource::HeadPipeline));
    let lanes: Vec<_> = run
        .lanes
        .iter()
        .map(|l| {
            (
                l.run.lane.as_str(),
                l.run.title.as_str(),
                l.entrypoint.as_deref().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        lanes,
        [
            ("nightly_pika", "nightly-pika", "pikaci run nightly_pika"),
            (
                "nightly_android",
                "nightly_android",
                "pikaci run nightly_android"
            ),
        ]
    );
    // Each a pikaci lane of its target; the second in its group.
    let mut commands = Vec::new();
    f.db.set_lane_slots(10);
    while let Some(c) = f.db.claim_lane("me", 60).await.unwrap() {
        if c.suite_id == run.suite_id {
            commands.push(serde_json::from_str::<LaneCommand>(&c.command.unwrap()).unwrap());
        }
    }
    assert_eq!(
        commands,
        [
            LaneCommand::PikaciTarget("nightly_pika".parse().unwrap()),
            LaneCommand::PikaciTarget("nightly_android".parse().unwrap()),
        ]
    );

    // `[ci] nightly_schedule_utc` moves the slot.
    let f = Forge::new();
    f.push(
        "main",
        &[(
            "pikaci.toml",
            &format!("[ci]\nnightly_schedule_utc = \"06:15\"\n{TARGETS}"),
        )],
    );
    f.clock.set(at("2026-03-24T06:14:00Z"));
    let git = Git::new(f.bare.clone());
    assert_eq!(
        schedule_due_nightly(
            &f.db,
            &git,
            &f.repo,
            pika_news_core::clock::Clock::now(&f.clock)
        )
        .await
        .unwrap(),
        NightlyCheck::NotDue {
            slot: at("2026-03-24T06:15:00Z")
        }
    );

    // No nightly target and no manifest in the tree: the server's manifest.
    let mut f = Forge::new();
    let server = f.root.join("server-lanes.toml");
    std::fs::write(
        &server,
        "version = 1\nnightly_schedule_utc = \"03:00\"\n[[nightly.lanes]]\nid = \"nightly_linux\"\ncommand = [\"nix\", \"run\", \".#pikaci\", \"--\", \"run\", \"nightly_linux\"]\n",
    )
    .unwrap();
    f.repo.lanes_manifest = Some(server);
    f.push("main", &[("README", "no lanes here\n")]);
    f.clock.set(at("2026-03-24T03:00:00Z"));
    let git = Git::new(f.bare.clone());
    let NightlyCheck::Made { id, .. } = schedule_due_nightly(
        &f.db,
        &git,
        &f.repo,
        pika_news_core::clock::Clock::now(&f.clock),
    )
    .await
    .unwrap() else {
        panic!("no nightly run from the server's manifest");
    };
    let run = f.db.nightly(id).await.unwrap().unwrap();
    assert_eq!(run.lanes.len(), 1);
    assert_eq!(run.lane_source, Some(LaneSource::ServerManifest));
    assert_eq!(
        run.lanes[0].entrypoint.as_deref(),
        Some("nix run '.#pikaci' -- run nightly_linux --output jsonl")
    );
}
