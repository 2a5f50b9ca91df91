//! A strict stand-in for today's `ph` (sledtools/pika `crates/ph` at
//! dd226e25) over a real socket: its requests exactly (paths under `/git`,
//! `Accept: application/json`, a bearer token, `{}` as every POST body, no
//! body for the login challenge), its answer types (`pika-forge-model`, the
//! strict copies in `ph_client`), and each of its 13 subcommands as its
//! `commands.rs` runs them: login, whoami, status, wait, logs, url,
//! fail-lane, requeue-lane, recover-run (branch and nightly), wake-ci, merge
//! (and `merge --force`), close, logout. The older `ph`'s login, merge and
//! close run the same way under `/news`.

use std::net::SocketAddr;

use pika_news_core::db::{LaneStatus, NewNightly, NewNightlyLane, Role};
use pika_news_core::forge::MergePolicy;
use pika_news_core::login::LoginPolicy;
use pika_news_core::login::Logins;
use pika_news_core::login::testing::TestSigner;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::merge::Site;
use crate::ph_client::{
    BranchDetailResponse, BranchLogsResponse, BranchResolveResponse, CiLaneStatus,
    LaneMutationResponse, MeResponse, NightlyDetailResponse, RecoverRunResponse, WakeCiResponse,
    decode,
};
use crate::support::serve;

/// `pika-forge-model`'s `BranchActionResponse`, strictly: both options present.
#[derive(Debug, Deserialize)]
struct BranchActionResponse {
    status: String,
    branch_id: i64,
    #[serde(deserialize_with = "present")]
    merge_commit_sha: Option<String>,
    #[serde(deserialize_with = "present")]
    deleted: Option<bool>,
}

fn present<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<T>, D::Error> {
    Option::<T>::deserialize(d)
}

/// `ph`'s `ChallengeResponse` and `LoginResponse`.
#[derive(Debug, Deserialize)]
struct ChallengeResponse {
    challenge: String,
}

#[derive(Debug, Deserialize)]
struct LoginResponse {
    token: String,
    npub: String,
    is_admin: bool,
    can_forge_write: bool,
}

/// `ph`'s session file, as `save_session` writes it.
#[derive(Debug, Clone)]
struct Session {
    base_url: String,
    token: String,
    npub: String,
    is_admin: bool,
}

/// A failed call, as `ph` reports it: the status and the server's `error`.
#[derive(Debug)]
struct Failed {
    status: u16,
    error: String,
}

/// `ph`'s `ApiClient` over a real socket: `prefix` is `/git` for today's
/// `ph`, `/news` for the older one.
struct Ph {
    addr: SocketAddr,
    prefix: &'static str,
    token: Option<String>,
}

impl Ph {
    fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// One request as reqwest sends it for `ph`: `body` is JSON or none.
    async fn send<T: DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
        auth: bool,
    ) -> Result<T, Failed> {
        let (status, _, body) = self.exchange(method, path, body, auth).await;
        if !(200..300).contains(&status) {
            let error = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v["error"].as_str().map(str::to_owned))
                .unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned());
            return Err(Failed { status, error });
        }
        Ok(decode(&body).unwrap_or_else(|e| panic!("{method} {path}: ph cannot read this: {e}")))
    }

    /// The status, the head (lowercase) and the body of one request.
    async fn exchange(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
        auth: bool,
    ) -> (u16, String, Vec<u8>) {
        let mut s = tokio::net::TcpStream::connect(self.addr).await.unwrap();
        let mut req = format!(
            "{method} {}{path} HTTP/1.1\r\nhost: {}\r\naccept: application/json\r\nconnection: close\r\n",
            self.prefix, self.addr
        );
        if auth {
            let token = self
                .token
                .as_deref()
                .expect("not logged in; run `ph login` first");
            req.push_str(&format!("authorization: Bearer {token}\r\n"));
        }
        match body {
            Some(b) => req.push_str(&format!(
                "content-type: application/json\r\ncontent-length: {}\r\n\r\n{b}",
                b.len()
            )),
            None => req.push_str("\r\n"),
        }
        s.write_all(req.as_bytes()).await.unwrap();
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).await.unwrap();
        let split = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("a head");
        let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
        let status: u16 = head.split_whitespace().nth(1).unwrap().parse().unwrap();
        let mut body = raw[split + 4..].to_vec();
        if head.contains("transfer-encoding: chunked") {
            body = crate::served::dechunk(&body);
        }
        (status, head, body)
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, Failed> {
        self.send("GET", path, None, true).await
    }

    async fn post<T: DeserializeOwned>(&self, path: &str) -> Result<T, Failed> {
        self.send("POST", path, Some("{}"), true).await
    }

    /// `ph login --nsec`: challenge, a signed kind 27235 event over it for
    /// `<base_url><prefix>/auth/verify`, verify; the session it saves.
    async fn login(&mut self, key: &TestSigner, now: u64) -> Result<Session, Failed> {
        let c: ChallengeResponse = self.send("POST", "/auth/challenge", None, false).await?;
        let url = format!("{}{}/auth/verify", self.base_url(), self.prefix);
        let event = key.login_json(&c.challenge, &url, now);
        let body = serde_json::json!({ "event": event }).to_string();
        let l: LoginResponse = self
            .send("POST", "/auth/verify", Some(&body), false)
            .await?;
        assert!(l.token.len() >= 32 && l.can_forge_write || !l.is_admin);
        self.token = Some(l.token.clone());
        Ok(Session {
            base_url: self.base_url(),
            token: l.token,
            npub: l.npub,
            is_admin: l.is_admin,
        })
    }

    /// `resolve_branch_ref` by name.
    async fn resolve(&self, name: &str) -> BranchResolveResponse {
        self.get(&format!(
            "/api/forge/branch/resolve?branch_name={}",
            name.replace('/', "%2F")
        ))
        .await
        .unwrap()
    }

    async fn detail(&self, id: i64) -> BranchDetailResponse {
        self.get(&format!("/api/forge/branch/{id}")).await.unwrap()
    }

    /// `ph merge [--force]`: resolve, detail, the client's own CI guard
    /// (skipped by `--force`), then the merge.
    async fn merge(&self, name: &str, force: bool) -> Result<BranchActionResponse, Failed> {
        let id = self.resolve(name).await.branch_id;
        let branch = self.detail(id).await;
        if !force {
            let latest = branch.ci_runs.first();
            let stale = latest.is_some_and(|r| r.source_head_sha != branch.branch.head_sha);
            let active = branch.branch.ci_status.is_active();
            let success = branch.branch.ci_status == crate::ph_client::ForgeCiStatus::Success;
            if stale || !(success || active) {
                return Err(Failed {
                    status: 0,
                    error: format!("refusing to merge branch #{id} because ci is not green"),
                });
            }
        }
        self.post(&format!("/api/forge/branch/{id}/merge")).await
    }

    /// `ph close`.
    async fn close(&self, name: &str) -> Result<BranchActionResponse, Failed> {
        let id = self.resolve(name).await.branch_id;
        self.post(&format!("/api/forge/branch/{id}/close")).await
    }
}

/// Now on the server's clock (the test forge's is a manual one), as a
/// login event's `created_at`.
fn now(s: &Site) -> u64 {
    s.f.db.clock().now().as_second().try_into().unwrap()
}

/// A served site with a configured admin key and an allowed writer key.
async fn site(policy: MergePolicy) -> (Site, SocketAddr, TestSigner, TestSigner) {
    let s = Site::new().await;
    let (admin, writer) = (TestSigner::from_seed(1), TestSigner::from_seed(2));
    s.f.db
        .allow_npub(&writer.npub(), Role::Write, Some("dev"), "test")
        .unwrap();
    let logins = Logins::new(LoginPolicy::default(), [admin.npub()]);
    let (addr, _server) = serve(pika_news_web::router(s.state(policy).with_logins(logins))).await;
    (s, addr, admin, writer)
}

#[tokio::test]
async fn todays_ph_runs_every_subcommand_against_git() {
    let (s, addr, admin_key, writer_key) = site(MergePolicy::GreenOrAdmin).await;
    let state_dir = tempfile::tempdir().unwrap();
    let session_file = state_dir.path().join("session.json");
    let mut ph = Ph {
        addr,
        prefix: "/git",
        token: None,
    };

    // login, whoami.
    let session = ph.login(&writer_key, now(&s)).await.unwrap();
    assert_eq!(session.npub, writer_key.npub().to_string());
    assert!(!session.is_admin);
    std::fs::write(&session_file, &session.token).unwrap();
    let me: MeResponse = ph.get("/api/me").await.unwrap();
    assert_eq!(
        (me.npub.as_str(), me.can_forge_write, me.is_admin),
        (session.npub.as_str(), true, false)
    );

    // status: resolve and detail, with upstream's newest lane and run fields.
    let b = ph.resolve("feature/x").await;
    assert_eq!(b.branch_id, s.branch.get());
    let detail = ph.detail(b.branch_id).await;
    let run = &detail.ci_runs[0];
    assert_eq!(run.status_tone.as_deref(), Some("warning"));
    assert!(run.timing_summary.is_some());
    let lane = &run.lanes[0];
    assert_eq!(lane.status, CiLaneStatus::Queued);
    assert_eq!(lane.status_tone.as_deref(), Some("warning"));
    assert_eq!(lane.is_failed, Some(false));
    assert_eq!(lane.execution_reason_label.as_deref(), Some("queued"));
    assert!(
        lane.operator_hint
            .as_deref()
            .unwrap()
            .starts_with("queued "),
        "{lane:?}"
    );

    // fail-lane, requeue-lane, recover-run on the branch.
    let lane_id = lane.id;
    let failed: LaneMutationResponse = ph
        .post(&format!("/branch/{}/ci/fail/{lane_id}", b.branch_id))
        .await
        .unwrap();
    assert_eq!(failed.lane_status, CiLaneStatus::Failed);
    let after = ph.detail(b.branch_id).await;
    let l = &after.ci_runs[0].lanes[0];
    assert_eq!(
        (l.is_failed, l.failure_kind_label.as_deref()),
        (Some(true), Some("infrastructure"))
    );
    assert_eq!(l.status_tone.as_deref(), Some("danger"));
    let requeued: LaneMutationResponse = ph
        .post(&format!("/branch/{}/ci/requeue/{lane_id}", b.branch_id))
        .await
        .unwrap();
    assert_eq!(requeued.lane_status, CiLaneStatus::Queued);
    let recovered: RecoverRunResponse = ph
        .post(&format!("/branch/{}/ci/recover/{}", b.branch_id, run.id))
        .await
        .unwrap();
    assert_eq!(recovered.run_id, Some(run.id));

    // Nightly: fail-lane, requeue-lane and recover-run with --nightly-run-id.
    let main = s.f.db.branch_by_name("main").await.unwrap().unwrap();
    let nightly =
        s.f.db
            .create_nightly(NewNightly {
                branch_id: main.id,
                head: main.head.clone().unwrap(),
                source_ref: "refs/heads/main".into(),
                scheduled_for: "2026-03-24T08:00:00Z".into(),
                lane_source: None,
                lanes: vec![NewNightlyLane {
                    lane: "nightly".into(),
                    title: "nightly".into(),
                    entrypoint: "just nightly".into(),
                    concurrency_group: None,
                    command: Some(r#"{"argv":["true"]}"#.into()),
                    timeout_secs: None,
                }],
            })
            .await
            .unwrap()
            .unwrap();
    let n: NightlyDetailResponse = ph
        .get(&format!("/api/forge/nightly/{nightly}"))
        .await
        .unwrap();
    let nl = n.lanes[0].id;
    let f: LaneMutationResponse = ph
        .post(&format!("/nightly/{nightly}/fail/{nl}"))
        .await
        .unwrap();
    assert_eq!(f.nightly_run_id, Some(nightly.get()));
    let r: LaneMutationResponse = ph
        .post(&format!("/nightly/{nightly}/requeue/{nl}"))
        .await
        .unwrap();
    assert_eq!(r.lane_status, CiLaneStatus::Queued);
    let rr: RecoverRunResponse = ph
        .post(&format!("/nightly/{nightly}/recover"))
        .await
        .unwrap();
    assert_eq!(rr.nightly_run_id, Some(nightly.get()));

    // wake-ci.
    let w: WakeCiResponse = ph.post("/api/forge/ci/wake").await.unwrap();
    assert_eq!(w.status, "ok");

    // wait: CI passes; the branch settles green on its head.
    s.finish_ci(LaneStatus::Passed).await;
    let settled = ph.detail(b.branch_id).await;
    assert!(!settled.branch.ci_status.is_active());
    assert_eq!(
        settled.branch.ci_status,
        crate::ph_client::ForgeCiStatus::Success
    );
    assert_eq!(settled.ci_runs[0].source_head_sha, settled.branch.head_sha);

    // logs: the branch's logs, with upstream's prepared-outputs key (null).
    let logs: BranchLogsResponse = ph
        .get(&format!("/api/forge/branch/{}/logs", b.branch_id))
        .await
        .unwrap();
    assert!(logs.pikaci_prepared_outputs.is_none());
    assert_eq!(logs.lane.id, lane_id);

    // url: `<base_url>/git/branch/{id}`, which leads to the branch's page.
    let url = format!("{}/git/branch/{}", session.base_url, b.branch_id);
    assert!(url.starts_with(&ph.base_url()));
    let (status, head, _) = ph
        .exchange("GET", &format!("/branch/{}", b.branch_id), None, true)
        .await;
    assert_eq!(status, 303);
    assert!(
        head.contains(&format!("location: /git/branch/{}/ci", b.branch_id)),
        "{head}"
    );

    // merge: green, so the client's guard and the server's policy agree.
    let head = settled.branch.head_sha.clone();
    let merged = ph.merge("feature/x", false).await.unwrap();
    assert_eq!(
        (merged.status.as_str(), merged.branch_id, merged.deleted),
        ("ok", b.branch_id, None)
    );
    let merge_commit = merged.merge_commit_sha.unwrap();
    assert_eq!(s.head("main").as_deref(), Some(merge_commit.as_str()));
    assert_eq!(
        crate::merge::rev(&s.f, &format!("{merge_commit}^2")),
        Some(head)
    );
    let after = ph.detail(b.branch_id).await;
    assert_eq!(
        after.branch.branch_state,
        crate::ph_client::BranchState::Merged
    );
    assert_eq!(
        after.branch.merge_commit_sha.as_deref(),
        Some(merge_commit.as_str())
    );

    // merge --force: a red head. The writer's --force skips only the
    // client's guard: the server refuses. An admin's goes through.
    s.f.push("feature/red", &[("red", "1\n")]);
    s.sync().await;
    let red = s.f.db.branch_by_name("feature/red").await.unwrap().unwrap();
    let suite = &s.f.db.suites(red.id).await.unwrap()[0];
    for lane in &suite.lanes {
        s.f.db
            .set_lane_status(
                lane.id,
                LaneStatus::Failed,
                Some(pikaci_core::FailureKind::TestFailure),
                None,
            )
            .await
            .unwrap();
    }
    s.f.db.refresh_suite_status(suite.id).await.unwrap();
    let guard = ph.merge("feature/red", false).await.unwrap_err();
    assert_eq!(guard.status, 0, "the client's own guard refuses first");
    let refused = ph.merge("feature/red", true).await.unwrap_err();
    assert_eq!(refused.status, 409);
    assert!(
        refused.error.contains("merge_policy = \"green-or-admin\""),
        "{}",
        refused.error
    );
    let mut admin = Ph {
        addr,
        prefix: "/git",
        token: None,
    };
    let admin_session = admin.login(&admin_key, now(&s)).await.unwrap();
    assert!(admin_session.is_admin);
    let forced = admin.merge("feature/red", true).await.unwrap();
    assert!(forced.merge_commit_sha.is_some());
    assert_eq!(s.head("feature/red"), None);

    // close.
    s.f.push("feature/closing", &[("c", "1\n")]);
    s.sync().await;
    let closed = ph.close("feature/closing").await.unwrap();
    assert_eq!(
        (closed.merge_commit_sha, closed.deleted),
        (None, Some(true))
    );
    assert_eq!(s.head("feature/closing"), None);

    // logout: `ph` deletes its session file; nothing is sent.
    std::fs::remove_file(&session_file).unwrap();
    assert!(!session_file.exists());
}

#[tokio::test]
async fn the_older_ph_logs_in_merges_and_closes_under_news() {
    let (s, addr, _admin, writer_key) = site(MergePolicy::Green).await;
    let mut ph = Ph {
        addr,
        prefix: "/news",
        token: None,
    };
    let session = ph.login(&writer_key, now(&s)).await.unwrap();
    assert_eq!(session.npub, writer_key.npub().to_string());
    // A login event signed for /git is refused under /news: the u tag is this URL.
    let mut wrong = Ph {
        addr,
        prefix: "/news",
        token: None,
    };
    let c: ChallengeResponse = wrong
        .send("POST", "/auth/challenge", None, false)
        .await
        .unwrap();
    let event = writer_key.login_json(
        &c.challenge,
        &format!("http://{addr}/git/auth/other"),
        now(&s),
    );
    let body = serde_json::json!({ "event": event }).to_string();
    let err = wrong
        .send::<LoginResponse>("POST", "/auth/verify", Some(&body), false)
        .await
        .unwrap_err();
    assert_eq!(err.status, 401, "{}", err.error);
    wrong.token = None;

    s.finish_ci(LaneStatus::Passed).await;
    let merged = ph.merge("feature/x", false).await.unwrap();
    assert_eq!(s.head("main"), merged.merge_commit_sha);
    s.f.push("feature/y", &[("y", "1\n")]);
    s.sync().await;
    let closed = ph.close("feature/y").await.unwrap();
    assert_eq!(closed.deleted, Some(true));
    assert_eq!(s.head("feature/y"), None);
}
