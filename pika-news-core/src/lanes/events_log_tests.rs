//! pikaci's stdout as log lines and lane events.

use pikaci_core::{RunRecord, RunStatus};

use super::*;

const RUN_ID: &str = "20260324T161238Z-1a2b3c4d";

fn started_line() -> String {
    format!(r#"{{"event":"run_started","run_id":"{RUN_ID}","created_at":"2026-03-24T16:12:38Z"}}"#)
}

fn render(pieces: &[&[u8]], target: Option<&str>) -> (String, Vec<LaneEvent>) {
    let mut r = StdoutRenderer::new(target.map(str::to_owned));
    let mut out = Rendered::default();
    for p in pieces {
        r.push(p, &mut out);
    }
    r.finish(&mut out);
    (String::from_utf8(out.log).unwrap(), out.events)
}

#[test]
fn events_read_as_upstreams_lines() {
    let mut run = RunRecord::for_test(RUN_ID);
    let mut job = run.jobs[0].clone();
    job.description = "the test suite".into();
    let started = LifecycleEvent::RunStarted {
        run_id: run.run_id.clone(),
        created_at: run.created_at,
        rerun_of: None,
        target_id: Some("pre-merge".parse().unwrap()),
        target_description: Some("what must pass".into()),
    };
    assert_eq!(
        render_event(&started, None),
        format!("[pikaci] run started: {RUN_ID} · pre-merge · what must pass")
    );
    let bare = LifecycleEvent::RunStarted {
        run_id: run.run_id.clone(),
        created_at: run.created_at,
        rerun_of: None,
        target_id: None,
        target_description: None,
    };
    assert_eq!(
        render_event(&bare, Some("ci")),
        format!("[pikaci] run started: {RUN_ID} · ci")
    );
    assert_eq!(
        render_event(&bare, None),
        format!("[pikaci] run started: {RUN_ID} · unknown-target")
    );
    assert_eq!(
        render_event(
            &LifecycleEvent::JobStarted {
                run_id: run.run_id.clone(),
                job: job.clone()
            },
            None
        ),
        format!("[pikaci] job started: {} · the test suite", job.id)
    );
    job.status = RunStatus::Failed;
    job.message = Some(" timed out after 60s ".into());
    assert_eq!(
        render_event(
            &LifecycleEvent::JobFinished {
                run_id: run.run_id.clone(),
                job: job.clone()
            },
            None
        ),
        format!(
            "[pikaci] job finished: {} · status=failed · timed out after 60s",
            job.id
        )
    );
    run.status = RunStatus::Passed;
    run.message = None;
    assert_eq!(
        render_event(&LifecycleEvent::RunFinished { run }, None),
        format!("[pikaci] run finished: {RUN_ID} · status=passed")
    );
}

#[test]
fn other_lines_pass_as_they_are_and_pieces_join() {
    let line = started_line();
    let (half, rest) = line.split_at(20);
    let (log, events) = render(
        &[
            b"compiling...\n{not json\n",
            half.as_bytes(),
            rest.as_bytes(),
            b"\npartial",
        ],
        Some("ci"),
    );
    assert_eq!(
        log,
        format!("compiling...\n{{not json\n[pikaci] run started: {RUN_ID} · ci\npartial")
    );
    assert_eq!(
        events,
        [LaneEvent::PikaciRunStarted(RUN_ID.parse().unwrap())]
    );
    // A last event without its newline still counts.
    let (log, events) = render(&[line.as_bytes()], None);
    assert!(
        log.starts_with("[pikaci] run started") && log.ends_with('\n'),
        "{log}"
    );
    assert_eq!(events.len(), 1);
}

#[test]
fn long_lines_are_logged_as_they_come_and_memory_stays_bounded() {
    let mut r = StdoutRenderer::new(None);
    let mut out = Rendered::default();
    r.push(&vec![b'x'; MAX_EVENT_LINE + 10], &mut out);
    assert!(r.pending.capacity() <= MAX_EVENT_LINE);
    assert_eq!(out.log.len(), MAX_EVENT_LINE + 10, "passed on, not held");
    r.push(&vec![b'y'; MAX_EVENT_LINE], &mut out);
    assert!(r.pending.capacity() <= MAX_EVENT_LINE);
    r.push(b"tail\n", &mut out);
    r.push(started_line().as_bytes(), &mut out);
    r.push(b"\nok\n", &mut out);
    assert_eq!(out.events.len(), 1, "the event after the long line arrives");
    let log = String::from_utf8(out.log).unwrap();
    assert_eq!(
        log.len(),
        2 * MAX_EVENT_LINE
            + 10
            + "tail\n".len()
            + format!("[pikaci] run started: {RUN_ID} · unknown-target\nok\n").len()
    );
    assert!(
        log.ends_with(
            "tail\n[pikaci] run started: 20260324T161238Z-1a2b3c4d · unknown-target\nok\n"
        )
    );
}

#[test]
fn a_line_of_exactly_the_limit_is_still_parsed() {
    let mut line = started_line().into_bytes();
    line.resize(MAX_EVENT_LINE, b' ');
    line.push(b'\n');
    let mut r = StdoutRenderer::new(None);
    let mut out = Rendered::default();
    for chunk in line.chunks(4096) {
        r.push(chunk, &mut out);
    }
    assert_eq!(out.events.len(), 1);
    assert!(r.pending.capacity() <= MAX_EVENT_LINE);
    // One byte more and it is not an event: it is only logged.
    let mut too_long = line.clone();
    too_long.insert(0, b' ');
    let (log, events) = render(&[&too_long], None);
    assert!(events.is_empty());
    assert_eq!(log.len(), too_long.len());
}

#[test]
fn only_run_started_and_run_finished_become_lane_events() {
    assert_eq!(
        lane_event(started_line().as_bytes()),
        Some(LaneEvent::PikaciRunStarted(RUN_ID.parse().unwrap()))
    );
    assert_eq!(
        lane_event(format!("  {}\r", started_line()).as_bytes()),
        Some(LaneEvent::PikaciRunStarted(RUN_ID.parse().unwrap()))
    );
    let run = RunRecord::for_test(RUN_ID);
    let finished =
        serde_json::to_string(&LifecycleEvent::RunFinished { run: run.clone() }).unwrap();
    assert_eq!(
        lane_event(finished.as_bytes()),
        Some(LaneEvent::PikaciRunFinished(Box::new(run.clone())))
    );
    let job_started = serde_json::to_string(&LifecycleEvent::JobStarted {
        run_id: run.run_id.clone(),
        job: run.jobs[0].clone(),
    })
    .unwrap();
    for other in [
        job_started.as_str(),
        "",
        "compiling...",
        "{not json",
        r#"{"event":"run_started","run_id":"../../etc","created_at":"2026-03-24T16:12:38Z"}"#,
        r#"{"event":"something_new"}"#,
    ] {
        assert_eq!(lane_event(other.as_bytes()), None, "{other}");
    }
    // A job event is not the lane's business, but the log shows it.
    let (log, events) = render(&[job_started.as_bytes(), b"\n"], None);
    assert!(log.starts_with("[pikaci] job started: "), "{log}");
    assert!(events.is_empty());
}

#[test]
fn server_folders_in_pikaci_lines_become_words() {
    let words = PathWords::new(
        camino::Utf8Path::new("/var/lib/pika-news/data/worktrees/lane-4-1"),
        camino::Utf8Path::new("/srv/git/pikaci-state/r"),
    );
    let mut run = RunRecord::for_test(RUN_ID);
    run.status = RunStatus::Failed;
    run.message = Some(
        "could not snapshot /var/lib/pika-news/data/worktrees/lane-4-1 into /srv/git/pikaci-state/r/runs/x"
            .into(),
    );
    let finished = serde_json::to_string(&LifecycleEvent::RunFinished { run }).unwrap();
    let mut r = StdoutRenderer::new(None).with_words(words);
    let mut out = Rendered::default();
    let stdout = format!("{finished}\nwarning: /srv/git/pikaci-state/r is full\nnothing to hide\n");
    r.push(stdout.as_bytes(), &mut out);
    r.finish(&mut out);
    let log = String::from_utf8(out.log).unwrap();
    assert_eq!(
        log,
        format!(
            "[pikaci] run finished: {RUN_ID} · status=failed · could not snapshot worktree into state root/runs/x\n\
             warning: state root is full\nnothing to hide\n"
        )
    );
    assert_eq!(out.events.len(), 1);
}
