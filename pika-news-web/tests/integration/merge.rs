//! Merge and close through the server, against a real bare repository: the
//! API routes `ph merge` / `ph close` call and the page's form routes, the
//! merge policy, and what a refused merge or close leaves (nothing changed).

use axum::body::Body;
use axum::http::StatusCode;
use pika_news_core::branch_actions::Forge as Merger;
use pika_news_core::db::{BranchId, BranchState, LaneStatus, Role};
use pika_news_core::forge::MergePolicy;
use pika_news_core::lanes::git::Git;
use pika_news_core::scheduler::sync_heads;
use pika_news_web::{AppState, router};
use pikaci_core::FailureKind;

use crate::forge::{Forge, sh};
use crate::support::oneshot;

const MANIFEST: &str = "version = 1\n\n[[branch.lanes]]\nid = \"check\"\ncommand = [\"true\"]\n";

/// A forge with `main` and a branch `feature/x` whose suite is queued, and
/// tokens of each role.
pub(crate) struct Site {
    pub(crate) f: Forge,
    pub(crate) admin: String,
    pub(crate) write: String,
    pub(crate) read: String,
    pub(crate) branch: BranchId,
}

pub(crate) fn rev(f: &Forge, rev: &str) -> Option<String> {
    let out = std::process::Command::new("git")
        .args([
            "--git-dir",
            f.bare.as_str(),
            "rev-parse",
            "--verify",
            "--quiet",
            rev,
        ])
        .output()
        .unwrap();
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn is_ancestor(f: &Forge, commit: &str, of: &str) -> bool {
    std::process::Command::new("git")
        .args([
            "--git-dir",
            f.bare.as_str(),
            "merge-base",
            "--is-ancestor",
            commit,
            of,
        ])
        .status()
        .unwrap()
        .success()
}

async fn sync(f: &Forge) {
    sync_heads(&f.db, &Git::new(f.bare.clone()), &f.repo)
        .await
        .unwrap();
}

impl Site {
    pub(crate) async fn new() -> Self {
        let f = Forge::new();
        f.push(
            "main",
            &[("README", "hi\n"), ("ci/forge-lanes.toml", MANIFEST)],
        );
        f.push("feature/x", &[("src/x", "x\n")]);
        let admin = f.db.create_token("root", Role::Admin).unwrap();
        let write = f.db.create_token("writer", Role::Write).unwrap();
        let read = f.db.create_token("reader", Role::Read).unwrap();
        sync(&f).await;
        let branch = f.db.branch_by_name("feature/x").await.unwrap().unwrap().id;
        Self {
            admin,
            write,
            read,
            branch,
            f,
        }
    }

    pub(crate) async fn sync(&self) {
        sync(&self.f).await;
    }

    /// Ends every lane of the branch's newest suite with `status`.
    pub(crate) async fn finish_ci(&self, status: LaneStatus) {
        let suite = &self.f.db.suites(self.branch).await.unwrap()[0];
        for lane in &suite.lanes {
            let kind = (status == LaneStatus::Failed).then_some(FailureKind::TestFailure);
            self.f
                .db
                .set_lane_status(lane.id, status, kind, None)
                .await
                .unwrap();
        }
        self.f.db.refresh_suite_status(suite.id).await.unwrap();
    }

    pub(crate) fn state(&self, policy: MergePolicy) -> AppState {
        AppState::new(
            self.f.db.clone(),
            self.f.repo.pikaci_state_root.clone(),
            false,
        )
        .with_repo("sledtools/pika", "main")
        .with_forge(Merger::new(self.f.bare.as_std_path(), "main", policy))
    }

    pub(crate) async fn post(
        &self,
        policy: MergePolicy,
        uri: &str,
        token: &str,
    ) -> (StatusCode, serde_json::Value) {
        let auth = format!("Bearer {token}");
        let headers = [
            ("authorization", auth.as_str()),
            ("content-type", "application/json"),
        ];
        let (status, _, body) = oneshot(
            router(self.state(policy)),
            "POST",
            uri,
            &headers,
            Body::from("{}"),
        )
        .await;
        (status, serde_json::from_slice(&body).unwrap_or_default())
    }

    pub(crate) fn head(&self, branch: &str) -> Option<String> {
        rev(&self.f, &format!("refs/heads/{branch}"))
    }
}

#[tokio::test]
async fn a_green_head_merges_into_main_and_the_branch_is_merged() {
    let s = Site::new().await;
    s.finish_ci(LaneStatus::Passed).await;
    let head = s.head("feature/x").unwrap();
    let main_before = s.head("main").unwrap();
    let uri = format!("/git/api/forge/branch/{}/merge", s.branch);
    let (status, body) = s.post(MergePolicy::Green, &uri, &s.write).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let merge = s.head("main").unwrap();
    assert_eq!(
        body,
        serde_json::json!({"status": "ok", "branch_id": s.branch.get(), "merge_commit_sha": merge, "deleted": null})
    );
    assert!(
        is_ancestor(&s.f, &head, "refs/heads/main"),
        "main contains the head"
    );
    assert_eq!(rev(&s.f, &format!("{merge}^1")), Some(main_before));
    assert_eq!(rev(&s.f, &format!("{merge}^2")), Some(head));
    assert_eq!(s.head("feature/x"), None, "the branch ref is gone");
    let branch = s.f.db.branch(s.branch).await.unwrap().unwrap();
    assert_eq!(branch.state, BranchState::Merged);
    assert_eq!(branch.merge_commit.as_deref(), Some(merge.as_str()));
    // The poller, seeing the ref gone, leaves a merged branch merged; `ph`
    // sees it so.
    s.sync().await;
    let detail = s
        .post_get(&format!("/git/api/forge/branch/{}", s.branch))
        .await;
    assert_eq!(detail["branch"]["branch_state"], "merged");
    assert_eq!(detail["branch"]["merge_commit_sha"], merge.as_str());
    // Merging again: 409, nothing changed.
    let (status, body) = s.post(MergePolicy::Any, &uri, &s.admin).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("is merged"),
        "{body}"
    );
    assert_eq!(s.head("main"), Some(merge));
}

impl Site {
    async fn post_get(&self, uri: &str) -> serde_json::Value {
        let auth = format!("Bearer {}", self.read);
        let (status, _, body) = oneshot(
            router(self.state(MergePolicy::default())),
            "GET",
            uri,
            &[("authorization", auth.as_str())],
            Body::empty(),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        serde_json::from_slice(&body).unwrap()
    }
}

#[tokio::test]
async fn close_deletes_the_ref_marks_the_branch_and_cancels_its_lanes() {
    let s = Site::new().await;
    let uri = format!("/news/api/forge/branch/{}/close", s.branch);
    let (status, body) = s.post(MergePolicy::default(), &uri, &s.read).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "a read token may not close: {body}"
    );
    assert!(s.head("feature/x").is_some());
    let (status, body) = s.post(MergePolicy::default(), &uri, &s.write).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        serde_json::json!({"status": "ok", "branch_id": s.branch.get(), "merge_commit_sha": null, "deleted": true})
    );
    assert_eq!(s.head("feature/x"), None);
    let branch = s.f.db.branch(s.branch).await.unwrap().unwrap();
    assert_eq!(branch.state, BranchState::Closed);
    let suite = &s.f.db.suites(s.branch).await.unwrap()[0];
    assert!(
        suite
            .lanes
            .iter()
            .all(|l| l.status == LaneStatus::Cancelled),
        "{suite:?}"
    );
    assert_eq!(
        suite.lanes[0].message.as_deref(),
        Some("cancelled: the branch was closed")
    );
}

#[tokio::test]
async fn a_moved_head_changes_nothing() {
    let s = Site::new().await;
    s.finish_ci(LaneStatus::Passed).await;
    // A push the poller has not seen yet.
    s.f.push("feature/x", &[("src/x", "newer\n")]);
    let (pushed, main) = (s.head("feature/x"), s.head("main"));
    for action in ["merge", "close"] {
        let uri = format!("/git/api/forge/branch/{}/{action}", s.branch);
        let (status, body) = s.post(MergePolicy::Any, &uri, &s.admin).await;
        assert_eq!(status, StatusCode::CONFLICT, "{action}: {body}");
        assert!(
            body["error"]
                .as_str()
                .unwrap()
                .contains("pika-news last saw"),
            "{body}"
        );
        assert_eq!(
            (s.head("feature/x"), s.head("main")),
            (pushed.clone(), main.clone())
        );
    }
    let branch = s.f.db.branch(s.branch).await.unwrap().unwrap();
    assert_eq!(branch.state, BranchState::Open);
}

#[tokio::test]
async fn a_conflict_names_the_paths_and_changes_nothing() {
    let s = Site::new().await;
    s.f.push("feature/x", &[("README", "branch side\n")]);
    s.sync().await;
    s.finish_ci(LaneStatus::Passed).await;
    sh(&s.f.work, "git checkout -q main");
    s.f.push("main", &[("README", "main side\n")]);
    let (branch, main) = (s.head("feature/x"), s.head("main"));
    let uri = format!("/git/api/forge/branch/{}/merge", s.branch);
    let (status, body) = s.post(MergePolicy::Green, &uri, &s.write).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(
        body["error"],
        "merging `feature/x` into `main` conflicts in: README"
    );
    assert_eq!((s.head("feature/x"), s.head("main")), (branch, main));
    assert_eq!(
        s.f.db.branch(s.branch).await.unwrap().unwrap().state,
        BranchState::Open
    );
}

#[tokio::test]
async fn the_policy_refuses_red_queued_and_stale_heads() {
    let s = Site::new().await;
    let uri = format!("/git/api/forge/branch/{}/merge", s.branch);
    let main = s.head("main");
    let refused = |body: &serde_json::Value, policy: &str, why: &str| {
        let e = body["error"].as_str().unwrap();
        assert!(
            e.starts_with(&format!(
                "merge refused by merge_policy = \"{policy}\": {why}"
            )),
            "{e}"
        );
    };
    // Queued (CI still running for this head).
    let (status, body) = s.post(MergePolicy::GreenOrAdmin, &uri, &s.write).await;
    assert_eq!(status, StatusCode::CONFLICT);
    refused(
        &body,
        "green-or-admin",
        "CI for this head is running, not passed",
    );
    // Red.
    s.finish_ci(LaneStatus::Failed).await;
    let (status, body) = s.post(MergePolicy::GreenOrAdmin, &uri, &s.write).await;
    assert_eq!(status, StatusCode::CONFLICT);
    refused(&body, "green-or-admin", "CI for this head is failed");
    let (status, body) = s.post(MergePolicy::Green, &uri, &s.admin).await;
    assert_eq!(status, StatusCode::CONFLICT, "green refuses admins too");
    refused(&body, "green", "CI for this head is failed");
    assert_eq!(s.head("main"), main);
    // Stale: the poller recorded a new head whose suite is not made yet.
    s.f.push("feature/x", &[("src/x", "y\n")]);
    let new_head = s.head("feature/x").unwrap();
    s.f.db.upsert_branch("feature/x", &new_head).await.unwrap();
    let (status, body) = s.post(MergePolicy::Green, &uri, &s.write).await;
    assert_eq!(status, StatusCode::CONFLICT);
    refused(&body, "green", "the newest CI suite is for head");
    assert_eq!(s.head("main"), main);
    assert_eq!(s.head("feature/x"), Some(new_head.clone()));
    // `any` merges it for a writer; green-or-admin for an admin (`ph merge --force`).
    let (status, body) = s.post(MergePolicy::GreenOrAdmin, &uri, &s.admin).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(is_ancestor(&s.f, &new_head, "refs/heads/main"));
}

#[tokio::test]
async fn the_page_forms_merge_and_close_with_the_cookie_and_csrf() {
    let s = Site::new().await;
    let app = || router(s.state(MergePolicy::Any));
    let cookie = format!("pika_news_token={}", s.write);
    // The csrf field the branch page's forms carry.
    let (_, _, page) = oneshot(
        app(),
        "GET",
        &format!("/git/branch/{}/ci", s.branch),
        &[("cookie", cookie.as_str())],
        Body::empty(),
    )
    .await;
    let page = String::from_utf8_lossy(&page);
    // The branch's own Merge and Close buttons are on its page, under the
    // prefix it was asked under, with the policy beside them.
    for action in ["merge", "close"] {
        let form = format!("action=\"/git/branch/{}/{action}\"", s.branch);
        assert!(page.contains(&form), "no {action} form: {page}");
    }
    assert!(page.contains("This server merges any head."), "{page}");
    let at = page
        .find("name=\"csrf\" value=\"")
        .expect("a form on the page")
        + 19;
    let csrf = &page[at..at + 32];
    let form = "application/x-www-form-urlencoded";
    let uri = format!("/git/branch/{}/close", s.branch);
    let back = format!("/git/branch/{}/ci", s.branch);
    // Without the csrf field: refused, nothing changed.
    let (status, _, _) = oneshot(
        app(),
        "POST",
        &uri,
        &[("cookie", cookie.as_str()), ("content-type", form)],
        Body::from(format!("back={back}")),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(s.head("feature/x").is_some());
    let (status, headers, _) = oneshot(
        app(),
        "POST",
        &uri,
        &[("cookie", cookie.as_str()), ("content-type", form)],
        Body::from(format!("csrf={csrf}&back={back}")),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers["location"], back.as_str());
    assert_eq!(s.head("feature/x"), None);
    assert_eq!(
        s.f.db.branch(s.branch).await.unwrap().unwrap().state,
        BranchState::Closed
    );
    // Closed: the page says so and offers no button.
    let (_, _, page) = oneshot(
        app(),
        "GET",
        &back,
        &[("cookie", cookie.as_str())],
        Body::empty(),
    )
    .await;
    let page = String::from_utf8_lossy(&page);
    assert!(page.contains("Closed."), "{page}");
    assert!(!page.contains("/close\""), "{page}");
    // A reader sees no buttons.
    let reader = format!("pika_news_token={}", s.read);
    let (_, _, page) = oneshot(
        app(),
        "GET",
        &format!("/news/branch/{}/ci", s.branch),
        &[("cookie", reader.as_str())],
        Body::empty(),
    )
    .await;
    assert!(!String::from_utf8_lossy(&page).contains("/merge\""));
}

#[tokio::test]
async fn a_refused_form_post_from_a_browser_is_a_page_and_from_ph_stays_json() {
    let s = Site::new().await;
    let app = || router(s.state(MergePolicy::Green));
    let main = s.head("main");
    let cookie = format!("pika_news_token={}", s.write);
    let page_uri = format!("/git/branch/{}/ci", s.branch);
    let (_, _, page) = oneshot(
        app(),
        "GET",
        &page_uri,
        &[("cookie", cookie.as_str())],
        Body::empty(),
    )
    .await;
    let page = String::from_utf8_lossy(&page);
    let at = page.find("name=\"csrf\" value=\"").expect("a form") + 19;
    let csrf = page[at..at + 32].to_owned();
    let uri = format!("/git/branch/{}/merge", s.branch);
    let referer = format!("https://forge.example{page_uri}");
    let browser = [
        ("cookie", cookie.as_str()),
        ("content-type", "application/x-www-form-urlencoded"),
        ("accept", "text/html,application/xhtml+xml,*/*;q=0.8"),
        ("referer", referer.as_str()),
    ];
    // CI is still running: the green policy refuses, as a page that says
    // why and leads back to the branch.
    let (status, headers, body) = oneshot(
        app(),
        "POST",
        &uri,
        &browser,
        Body::from(format!("csrf={csrf}&back={page_uri}")),
    )
    .await;
    let body = String::from_utf8_lossy(&body);
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"),
        "{headers:?}"
    );
    assert!(
        body.contains("CI for this head is running, not passed"),
        "{body}"
    );
    assert!(
        body.contains(&format!(
            "href=\"{page_uri}\">Back to the page you came from"
        )),
        "{body}"
    );
    // Without its csrf field: the sign-in form, going back to the branch page.
    let (status, _, body) = oneshot(
        app(),
        "POST",
        &uri,
        &browser,
        Body::from(format!("back={page_uri}")),
    )
    .await;
    let body = String::from_utf8_lossy(&body);
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body.contains("<form"), "{body}");
    assert!(body.contains(&page_uri), "{body}");
    // `ph` (a bearer token, JSON) keeps its JSON answer on the same route.
    let bearer = format!("Bearer {}", s.write);
    let (status, headers, body) = oneshot(
        app(),
        "POST",
        &uri,
        &[
            ("authorization", bearer.as_str()),
            ("content-type", "application/json"),
        ],
        Body::from("{}"),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json"),
        "{headers:?}"
    );
    let error: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert!(error["error"].is_string(), "{error}");
    assert_eq!(s.head("main"), main, "nothing merged");
}
