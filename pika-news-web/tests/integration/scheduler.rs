//! The scheduler over a real bare repository and database: suites per head,
//! manifest errors, superseded heads, gone branches, claiming and recovery.

use pika_news_core::db::{BranchState, LaneAction, LaneRunId, LaneStatus, SuiteStatus};
use pika_news_core::lanes::git::Git;
use pika_news_core::scheduler::sync_heads;
use pikaci_core::FailureKind;

use crate::forge::{Forge, sh};

const MANIFEST: &str = r#"
version = 1

[[branch.lanes]]
id = "check"
title = "quick check"
command = ["bash", "-c", "echo checking; test -e README"]

[[branch.lanes]]
id = "docs"
title = "docs only"
command = ["true"]
paths = ["docs/**"]
concurrency_group = "docs"
"#;

#[tokio::test]
async fn heads_become_suites_and_lanes() {
    let f = Forge::new();
    f.push(
        "main",
        &[("README", "hi\n"), ("ci/forge-lanes.toml", MANIFEST)],
    );
    f.push("feature/a", &[("src/x", "x\n")]);
    let git = Git::new(f.bare.clone());
    let report = sync_heads(&f.db, &git, &f.repo).await.unwrap();
    assert_eq!((report.suites, report.lanes), (2, 3), "{report:?}");
    // main gets every lane; feature/a only lanes whose paths match its changes.
    let feature = f.db.branch_by_name("feature/a").await.unwrap().unwrap();
    let suites = f.db.suites(feature.id).await.unwrap();
    let lanes: Vec<_> = suites[0].lanes.iter().map(|l| l.lane.as_str()).collect();
    assert_eq!(lanes, ["check"]);
    // Nothing new: nothing queued.
    assert_eq!(sync_heads(&f.db, &git, &f.repo).await.unwrap().suites, 0);
}

#[tokio::test]
async fn a_manifest_error_gives_a_failed_suite_that_says_why() {
    let f = Forge::new();
    f.push(
        "main",
        &[(
            "ci/forge-lanes.toml",
            "version = 1\n[[branch.lanes]]\nid = \"x\"\n",
        )],
    );
    sync_heads(&f.db, &Git::new(f.bare.clone()), &f.repo)
        .await
        .unwrap();
    let main = f.db.branch_by_name("main").await.unwrap().unwrap();
    let suite = &f.db.suites(main.id).await.unwrap()[0];
    assert_eq!(suite.status, SuiteStatus::Failed);
    let msg = suite.message.as_deref().unwrap();
    assert!(
        msg.contains("ci/forge-lanes.toml:3") && msg.contains("needs `command`"),
        "{msg}"
    );
}

#[tokio::test]
async fn a_new_head_cancels_the_old_one_and_a_gone_branch_closes() {
    let f = Forge::new();
    let git = Git::new(f.bare.clone());
    f.push(
        "main",
        &[("README", "hi\n"), ("ci/forge-lanes.toml", MANIFEST)],
    );
    f.push("feature/b", &[("a", "1")]);
    sync_heads(&f.db, &git, &f.repo).await.unwrap();
    f.push("feature/b", &[("a", "2")]);
    let report = sync_heads(&f.db, &git, &f.repo).await.unwrap();
    assert_eq!((report.suites, report.cancelled), (1, 1), "{report:?}");
    let b = f.db.branch_by_name("feature/b").await.unwrap().unwrap();
    let suites = f.db.suites(b.id).await.unwrap();
    assert_eq!(suites[1].lanes[0].status, LaneStatus::Cancelled);
    assert_eq!(suites[0].lanes[0].status, LaneStatus::Queued);

    sh(
        &f.root,
        &format!("git --git-dir {} branch -D feature/b -q", f.bare),
    );
    let report = sync_heads(&f.db, &git, &f.repo).await.unwrap();
    assert_eq!(report.closed, 1);
    let b = f.db.branch_by_name("feature/b").await.unwrap().unwrap();
    assert_eq!(b.state, BranchState::Closed);
    assert_eq!(
        f.db.suites(b.id).await.unwrap()[0].lanes[0].status,
        LaneStatus::Cancelled
    );
}

#[tokio::test]
async fn claims_honour_concurrency_groups_and_fences() {
    let f = Forge::new();
    let git = Git::new(f.bare.clone());
    f.push(
        "main",
        &[("README", "hi\n"), ("ci/forge-lanes.toml", MANIFEST)],
    );
    f.push("feature/docs", &[("docs/a.md", "a")]);
    sync_heads(&f.db, &git, &f.repo).await.unwrap();
    // Lanes: main/check, main/docs (group docs), feature/check, feature/docs (group docs).
    f.db.set_lane_slots(10);
    let a = f.db.claim_lane("me", 60).await.unwrap().unwrap();
    let b = f.db.claim_lane("me", 60).await.unwrap().unwrap();
    let c = f.db.claim_lane("me", 60).await.unwrap().unwrap();
    // The second docs lane waits for the first: one per group.
    assert!(f.db.claim_lane("me", 60).await.unwrap().is_none());
    assert_eq!(
        [a.lane_id, b.lane_id, c.lane_id].map(LaneRunId::get),
        [1, 2, 3]
    );
    // With a concurrency of 3 already running, nothing more is claimed either.
    f.db.set_lane_slots(3);
    assert!(f.db.claim_lane("me", 60).await.unwrap().is_none());
    f.db.set_lane_slots(10);

    // A lane failed by hand fences out its runner.
    f.db.lane_action(a.lane_id, LaneAction::Fail).await.unwrap();
    assert!(
        !f.db
            .renew_lease(a.lane_id, a.fencing_token, 60)
            .await
            .unwrap()
    );
    assert!(
        !f.db
            .finish_lane(
                a.lane_id,
                a.fencing_token,
                LaneStatus::Passed,
                None,
                "late".into(),
                None
            )
            .await
            .unwrap()
    );
    assert!(
        f.db.renew_lease(b.lane_id, b.fencing_token, 60)
            .await
            .unwrap()
    );
    assert!(
        f.db.finish_lane(
            b.lane_id,
            b.fencing_token,
            LaneStatus::Passed,
            None,
            "ok".into(),
            None
        )
        .await
        .unwrap()
    );
    // The docs group is free again.
    let d = f.db.claim_lane("me", 60).await.unwrap().unwrap();
    assert_eq!(d.lane_id.get(), 4);
}

#[tokio::test]
async fn expired_leases_are_recovered_and_repeat_offenders_fail() {
    let f = Forge::new();
    f.push(
        "main",
        &[("README", "hi\n"), ("ci/forge-lanes.toml", MANIFEST)],
    );
    sync_heads(&f.db, &Git::new(f.bare.clone()), &f.repo)
        .await
        .unwrap();
    // The runner stops answering: its 60 s lease runs out.
    let expire = |clock: &pika_news_core::clock::ManualClock| {
        clock.advance(jiff::SignedDuration::from_secs(61));
    };
    let first = f.db.claim_lane("dead-runner", 60).await.unwrap().unwrap();
    // Not before the lease ends.
    f.clock.advance(jiff::SignedDuration::from_secs(59));
    assert_eq!(f.db.recover_expired(3).await.unwrap(), 0);
    expire(&f.clock);
    assert_eq!(f.db.recover_expired(3).await.unwrap(), 1);
    // The dead runner's fence is stale; the lane is claimable again.
    assert!(
        !f.db
            .renew_lease(first.lane_id, first.fencing_token, 60)
            .await
            .unwrap()
    );
    for _ in 0..2 {
        let again = f.db.claim_lane("dead-runner", 60).await.unwrap().unwrap();
        assert_eq!(again.lane_id, first.lane_id);
        assert!(again.fencing_token > first.fencing_token);
        expire(&f.clock);
        f.db.recover_expired(3).await.unwrap();
    }
    let main = f.db.branch_by_name("main").await.unwrap().unwrap();
    let lane = &f.db.suites(main.id).await.unwrap()[0].lanes[0];
    assert_eq!(lane.status, LaneStatus::Failed);
    assert_eq!(lane.failure_kind, Some(FailureKind::Infrastructure));
    assert_eq!(lane.attempts, 3);
}

#[tokio::test]
async fn an_unreadable_manifest_fails_its_head_but_not_the_others() {
    let f = Forge::new();
    f.push(
        "main",
        &[("README", "hi\n"), ("ci/forge-lanes.toml", MANIFEST)],
    );
    // A manifest over the 1 MiB read limit on another branch.
    let huge = format!("version = 1\n# {}\n", "x".repeat(2 * 1024 * 1024));
    f.push("feature/huge", &[("ci/forge-lanes.toml", &huge)]);
    let report = sync_heads(&f.db, &Git::new(f.bare.clone()), &f.repo)
        .await
        .unwrap();
    assert_eq!(report.suites, 2, "{report:?}");
    let huge = f.db.branch_by_name("feature/huge").await.unwrap().unwrap();
    let suite = &f.db.suites(huge.id).await.unwrap()[0];
    assert_eq!(suite.status, SuiteStatus::Failed);
    assert!(
        suite
            .message
            .as_deref()
            .unwrap()
            .contains("cannot read ci/forge-lanes.toml"),
        "{suite:?}"
    );
    let main = f.db.branch_by_name("main").await.unwrap().unwrap();
    assert_eq!(f.db.suites(main.id).await.unwrap()[0].lanes.len(), 2);
}

#[tokio::test]
async fn a_running_lane_of_a_superseded_head_is_stopped_at_the_next_tick() {
    let f = Forge::new();
    let slow = "version = 1\n[[branch.lanes]]\nid = \"slow\"\ncommand = [\"sleep\", \"120\"]\n";
    f.push("main", &[("ci/forge-lanes.toml", slow)]);
    let sched = f.scheduler();
    let shutdown = tokio_util::sync::CancellationToken::new();
    let first = sched.tick(&shutdown).await.unwrap();
    assert_eq!(first.len(), 1);
    // The claim made it running, and the scheduler knows how to stop it,
    // whatever its task has reached.
    let main = f.db.branch_by_name("main").await.unwrap().unwrap();
    assert_eq!(
        f.db.suites(main.id).await.unwrap()[0].lanes[0].status,
        LaneStatus::Running
    );
    f.push(
        "main",
        &[("ci/forge-lanes.toml", &slow.replace("120", "121"))],
    );
    let second = sched.tick(&shutdown).await.unwrap();
    // The old lane's process is stopped now, not at its next heartbeat (20 s).
    for h in first {
        tokio::time::timeout(std::time::Duration::from_secs(15), h)
            .await
            .expect("stopped promptly")
            .unwrap();
    }
    let suites = f.db.suites(main.id).await.unwrap();
    assert_eq!(suites[1].lanes[0].status, LaneStatus::Cancelled);
    assert!(
        suites[1].lanes[0]
            .message
            .as_deref()
            .unwrap()
            .contains("newer head")
    );
    shutdown.cancel();
    for h in second {
        tokio::time::timeout(std::time::Duration::from_secs(15), h)
            .await
            .unwrap()
            .unwrap();
    }
    assert_eq!(
        f.db.suites(main.id).await.unwrap()[0].lanes[0].status,
        LaneStatus::Cancelled
    );
}

/// Virtual time: with tokio's clock paused this returns once every task is
/// idle (database and git calls run on the blocking pool, which holds the
/// clock), then jumps the clock; nothing waits for real.
async fn pass(secs: u64) {
    tokio::time::sleep(std::time::Duration::from_secs(secs)).await;
}

#[tokio::test(start_paused = true)]
async fn the_poller_looks_again_every_interval_and_at_once_when_woken() {
    let mut f = Forge::new();
    f.repo.poll_interval_secs = 30;
    f.push("main", &[("ci/forge-lanes.toml", "version = 1\n")]);
    let sched = f.scheduler();
    let waker = sched.waker();
    let shutdown = tokio_util::sync::CancellationToken::new();
    let task = tokio::spawn(sched.run(shutdown.clone()));
    pass(1).await;
    assert!(f.db.branch_by_name("main").await.unwrap().is_some());

    f.push("feature/a", &[("a", "1")]);
    pass(20).await;
    assert!(
        f.db.branch_by_name("feature/a").await.unwrap().is_none(),
        "seen before the poll interval"
    );
    pass(10).await;
    assert!(f.db.branch_by_name("feature/a").await.unwrap().is_some());

    f.push("feature/b", &[("b", "1")]);
    waker.notify_one();
    pass(1).await;
    assert!(f.db.branch_by_name("feature/b").await.unwrap().is_some());
    shutdown.cancel();
    task.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_runner_that_loses_its_lease_stops_at_its_next_heartbeat() {
    let f = Forge::new();
    // A real child runs here: a blocking task in flight keeps tokio from
    // jumping the paused clock while the child lives; the test moves it.
    let (release, held) = std::sync::mpsc::channel::<()>();
    let hold = tokio::task::spawn_blocking(move || held.recv());
    let fifo = f.root.join("lane-up");
    sh(&f.root, &format!("mkfifo {fifo}"));
    let slow = format!(
        "version = 1\n[[branch.lanes]]\nid = \"slow\"\ncommand = [\"bash\", \"-c\", \"echo up > {fifo}; exec sleep 120\"]\n"
    );
    f.push("main", &[("ci/forge-lanes.toml", &slow)]);
    let sched = f.scheduler();
    let shutdown = tokio_util::sync::CancellationToken::new();
    let started = sched.tick(&shutdown).await.unwrap();
    // The lane's child is running (and with it the lane's heartbeat).
    let up = fifo.clone();
    let line = tokio::task::spawn_blocking(move || std::fs::read_to_string(up))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(line, "up\n");
    let main = f.db.branch_by_name("main").await.unwrap().unwrap();
    let lane = f.db.suites(main.id).await.unwrap()[0].lanes[0].id;
    // Someone fails the lane by hand; no tick follows, so only the heartbeat
    // (every 20 s) can notice that its fencing token moved.
    f.db.lane_action(lane, LaneAction::Fail).await.unwrap();
    tokio::time::advance(std::time::Duration::from_secs(21)).await;
    for h in started {
        h.await.unwrap();
    }
    let lane = &f.db.suites(main.id).await.unwrap()[0].lanes[0];
    assert_eq!(lane.status, LaneStatus::Failed);
    assert_eq!(lane.message.as_deref(), Some("failed by hand"));
    let log = std::fs::read_to_string(f.repo.data_dir.lane_log(lane.id)).unwrap();
    assert!(
        log.contains("lane cancelled"),
        "stopped, not run out: {log}"
    );
    drop(release);
    let _ = hold.await;
}
