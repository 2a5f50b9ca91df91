//! No answer names a server path: a real pikaci lane runs (through the
//! scheduler, pikaci and the store), then every JSON route is asked about
//! it, and every string of every answer (errors included) is checked.

use std::time::Duration;

use axum::body::Body;
use camino::Utf8Path;
use pika_news_core::db::Role;
use pika_news_web::ROUTES;
use pika_news_web::{AppState, router};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::forge::{Forge, pikaci_bin};
use crate::support::oneshot;

const PIKACI_TOML: &str = r#"
[[job]]
id = "build"
description = "build it"
command = 'echo building'

[[job]]
id = "test"
description = "test it"
needs = ["build"]
command = 'echo testing; exit 3'

[[target]]
id = "ci"
jobs = ["build", "test"]
"#;

const LANES: &str = r#"
version = 1

[[branch.lanes]]
id = "pikaci-ci"
title = "pikaci ci target"
pikaci_target = "ci"
"#;

/// Every string under `value` (keys too), with where it is.
fn strings<'a>(value: &'a Value, at: String, out: &mut Vec<(String, &'a str)>) {
    match value {
        Value::String(s) => out.push((at, s)),
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                strings(v, format!("{at}[{i}]"), out);
            }
        }
        Value::Object(map) => {
            for (k, v) in map {
                out.push((format!("{at} (key)"), k));
                strings(v, format!("{at}.{k}"), out);
            }
        }
        _ => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_json_answer_of_a_real_scene_names_a_server_path() {
    let mut f = Forge::new();
    f.repo.pikaci_bin = pikaci_bin();
    f.push(
        "main",
        &[("pikaci.toml", PIKACI_TOML), ("ci/forge-lanes.toml", LANES)],
    );
    let started = f.scheduler().tick(&CancellationToken::new()).await.unwrap();
    assert_eq!(started.len(), 1);
    for h in started {
        tokio::time::timeout(Duration::from_secs(120), h)
            .await
            .expect("the lane finished")
            .unwrap();
    }
    let branch = f.db.branch_by_name("main").await.unwrap().unwrap().id;
    let suites = f.db.suites(branch).await.unwrap();
    let lane = &suites[0].lanes[0];
    let run = lane.pikaci_run_id.clone().expect("a pikaci run");
    let token = f.db.create_token("reader", Role::Admin).unwrap();
    let state = AppState::new(f.db.clone(), f.repo.pikaci_state_root.clone(), false)
        .with_data_dir(f.repo.data_dir.clone())
        .with_repo("sledtools/pika", "main");
    let forbidden: Vec<String> = [
        f.repo.pikaci_state_root.as_str(),
        f.repo.data_dir.root().as_str(),
        f.root.as_str(),
        "/tmp",
        "/var",
        "/root",
        "/home",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    assert!(
        forbidden
            .iter()
            .any(|p| Utf8Path::new(p).starts_with("/tmp")),
        "the scene lives under /tmp, so its paths would be seen"
    );

    let mut asked = Vec::new();
    for r in ROUTES.iter().filter(|r| r.answer.is_json()) {
        if r.path.contains("{nightly_run_id}") || r.method.as_str() != "get" {
            continue;
        }
        let path = r
            .path
            .replace("{run_id}", run.as_str())
            .replace("{branch_id}", &branch.to_string())
            .replace("{lane_run_id}", &lane.id.to_string());
        for uri in [
            path.clone(),
            format!("{path}?kind=both&name=main&job=test"),
            format!("{path}?job=nope"),
            path.replace(run.as_str(), "20990101T000000Z-00000000"),
        ] {
            asked.push(uri);
        }
    }
    asked.push(format!(
        "/news/api/forge/branch/{branch}/logs?lane=pikaci-ci"
    ));
    asked.push("/git/api/forge/branch/resolve?name=main".to_owned());
    let auth = format!("Bearer {token}");
    let mut seen = 0;
    for uri in &asked {
        let (status, _, bytes) = oneshot(
            router(state.clone()),
            "GET",
            uri,
            &[("authorization", &auth)],
            Body::empty(),
        )
        .await;
        let Ok(answer) = serde_json::from_slice::<Value>(&bytes) else {
            continue;
        };
        seen += 1;
        let mut found = Vec::new();
        strings(&answer, String::new(), &mut found);
        for (at, s) in found {
            let leak = forbidden.iter().find(|p| s.starts_with(p.as_str()));
            assert!(
                leak.is_none(),
                "GET {uri} ({status}) names a server path at {at}: {s:?}\n{answer:#}"
            );
        }
    }
    assert!(seen >= 20, "only {seen} JSON answers of {asked:?}");
    // The record is still whole: its paths became names in the run folder.
    let (_, _, bytes) = oneshot(
        router(state.clone()),
        "GET",
        &format!("/news/api/forge/pikaci/run/{run}"),
        &[("authorization", &auth)],
        Body::empty(),
    )
    .await;
    let record: pikaci_core::RunRecord = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(record.jobs[1].guest_log_path, "jobs/test/guest.log");
    assert_eq!(record.snapshot_dir, "snapshot");
}
