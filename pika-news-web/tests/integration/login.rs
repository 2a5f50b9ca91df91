//! `ph login` end to end through the router: a challenge, an event signed
//! in the test, the token it gives, and every way a login is refused.

use std::sync::Arc;

use axum::body::Body;
use axum::http::StatusCode;
use camino::Utf8PathBuf;
use jiff::{SignedDuration, Timestamp};
use pika_news_core::clock::ManualClock;
use pika_news_core::db::{Db, Role};
use pika_news_core::login::Logins;
use pika_news_core::login::testing::{TestSigner, event_json};
use pika_news_core::login::{LOGIN_KIND, LoginPolicy, MAX_OUTSTANDING};
use pika_news_web::{AppState, router};
use serde_json::{Value, json};

use crate::support::oneshot;

struct World {
    _dir: tempfile::TempDir,
    db: Db,
    clock: ManualClock,
    state: AppState,
    /// Who may log in: the state's, kept to look into.
    logins: Arc<Logins>,
    admin: TestSigner,
}

impl World {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = Utf8PathBuf::try_from(dir.path().to_owned()).expect("utf-8");
        let clock = ManualClock::new(Timestamp::now());
        let db =
            Db::open_with_clock(&root.join("news.sqlite"), Arc::new(clock.clone())).expect("db");
        let admin = TestSigner::from_seed(1);
        let logins = Arc::new(Logins::new(LoginPolicy::default(), [admin.npub()]));
        let state =
            AppState::new(db.clone(), root.join("state"), false).with_logins(logins.clone());
        Self {
            _dir: dir,
            db,
            clock,
            state,
            logins,
            admin,
        }
    }

    async fn call(
        &self,
        method: &str,
        uri: &str,
        auth: Option<&str>,
        body: Value,
    ) -> (StatusCode, Value) {
        let auth = auth.map(|t| format!("Bearer {t}"));
        let mut headers = vec![("content-type", "application/json")];
        if let Some(a) = &auth {
            headers.push(("authorization", a.as_str()));
        }
        let body = if body.is_null() {
            Body::empty()
        } else {
            Body::from(body.to_string())
        };
        let (status, _, bytes) =
            oneshot(router(self.state.clone()), method, uri, &headers, body).await;
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    async fn challenge(&self, prefix: &str) -> String {
        let (status, body) = self
            .call(
                "POST",
                &format!("{prefix}/auth/challenge"),
                None,
                Value::Null,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["challenge"].as_str().expect("a challenge").to_owned()
    }

    fn now(&self) -> u64 {
        self.clock.now_secs()
    }

    async fn verify(&self, prefix: &str, event: String) -> (StatusCode, Value) {
        self.call(
            "POST",
            &format!("{prefix}/auth/verify"),
            None,
            json!({ "event": event }),
        )
        .await
    }

    async fn me(&self, token: &str) -> StatusCode {
        self.call("GET", "/git/api/me", Some(token), Value::Null)
            .await
            .0
    }

    /// A login of `who` as `ph` makes it, under `prefix`.
    async fn log_in(&self, prefix: &str, who: &TestSigner) -> (StatusCode, Value) {
        let c = self.challenge(prefix).await;
        let url = format!("http://127.0.0.1:8788{prefix}/auth/verify");
        self.verify(prefix, who.login_json(&c, &url, self.now()))
            .await
    }
}

trait Secs {
    fn now_secs(&self) -> u64;
}

impl Secs for ManualClock {
    fn now_secs(&self) -> u64 {
        use pika_news_core::clock::Clock;
        self.now().as_second().try_into().expect("after 1970")
    }
}

fn login_tags(url: &str, method: &str) -> Vec<Vec<String>> {
    vec![
        vec!["u".to_owned(), url.to_owned()],
        vec!["method".to_owned(), method.to_owned()],
    ]
}

#[tokio::test]
async fn an_admin_logs_in_and_the_token_names_its_key() {
    let w = World::new();
    for prefix in ["/git", "/news"] {
        let (status, body) = w.log_in(prefix, &w.admin).await;
        assert_eq!(status, StatusCode::OK, "{prefix}: {body}");
        assert_eq!(body["npub"], w.admin.npub().to_string());
        assert_eq!(
            (body["is_admin"].clone(), body["can_forge_write"].clone()),
            (json!(true), json!(true))
        );
        let token = body["token"].as_str().expect("a token");
        let (status, me) = w
            .call("GET", &format!("{prefix}/api/me"), Some(token), Value::Null)
            .await;
        assert_eq!(status, StatusCode::OK, "{me}");
        assert_eq!(me["npub"], w.admin.npub().to_string());
        assert_eq!(me["is_admin"], true);
    }
    // `token list` shows both logins' tokens, tied to the key and expiring.
    let tokens = w.db.list_tokens().expect("listed");
    assert_eq!(tokens.len(), 2);
    for t in &tokens {
        assert_eq!(t.npub.as_deref(), Some(w.admin.npub().to_string().as_str()));
        assert!(t.expires_at.is_some());
    }
}

#[tokio::test]
async fn a_login_token_ends_with_its_revocation_or_after_90_days() {
    let w = World::new();
    let reviewer = TestSigner::from_seed(2);
    w.db.allow_npub(&reviewer.npub(), Role::Read, None, "test")
        .expect("allowed");
    let (_, body) = w.log_in("/git", &reviewer).await;
    let token = body["token"].as_str().expect("a token").to_owned();
    assert_eq!(
        (body["is_admin"].clone(), body["can_forge_write"].clone()),
        (json!(false), json!(false))
    );
    assert_eq!(w.me(&token).await, StatusCode::OK);
    let name = w.db.list_tokens().expect("listed")[0].name.clone();
    w.db.revoke_token(&name).expect("revoked");
    assert_eq!(w.me(&token).await, StatusCode::UNAUTHORIZED);

    let (_, body) = w.log_in("/git", &reviewer).await;
    let token = body["token"].as_str().expect("a token").to_owned();
    w.clock.advance(SignedDuration::from_hours(90 * 24));
    assert_eq!(
        w.me(&token).await,
        StatusCode::UNAUTHORIZED,
        "expired after 90 days"
    );

    w.clock.set(Timestamp::now());
    let (_, body) = w.log_in("/git", &reviewer).await;
    let token = body["token"].as_str().expect("a token").to_owned();
    w.db.revoke_npub(&reviewer.npub(), "test").expect("revoked");
    assert_eq!(
        w.me(&token).await,
        StatusCode::UNAUTHORIZED,
        "npub revoke ends its tokens"
    );
    let (status, body) = w.log_in("/git", &reviewer).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        body["error"]
            .as_str()
            .unwrap_or_default()
            .contains("revoked"),
        "{body}"
    );
}

#[tokio::test]
async fn every_refusal_is_a_401_that_names_the_check() {
    let w = World::new();
    let url = "http://127.0.0.1:8788/git/auth/verify";
    let refused = |(status, body): (StatusCode, Value), says: &str| {
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        let error = body["error"].as_str().unwrap_or_default().to_owned();
        assert!(error.contains(says), "{error:?} should say {says:?}");
    };

    let c = w.challenge("/git").await;
    let at = w.now();
    let wrong_kind = w.admin.sign(1, at, login_tags(url, "POST"), &c);
    refused(w.verify("/git", event_json(&wrong_kind)).await, "kind");
    let get = w.admin.sign(LOGIN_KIND, at, login_tags(url, "GET"), &c);
    refused(w.verify("/git", event_json(&get)).await, "method");
    let elsewhere = w.admin.sign(
        LOGIN_KIND,
        at,
        login_tags("http://x/git/api/me", "POST"),
        &c,
    );
    refused(w.verify("/git", event_json(&elsewhere)).await, "u tag");
    let stale = w
        .admin
        .sign(LOGIN_KIND, at - 3600, login_tags(url, "POST"), &c);
    refused(w.verify("/git", event_json(&stale)).await, "created_at");
    let mut forged = w.admin.sign(LOGIN_KIND, at, login_tags(url, "POST"), &c);
    forged.sig = TestSigner::from_seed(9)
        .sign(LOGIN_KIND, at, login_tags(url, "POST"), &c)
        .sig;
    refused(w.verify("/git", event_json(&forged)).await, "signature");
    refused(
        w.verify("/git", "{not json".to_owned()).await,
        "not a Nostr event",
    );

    // None of those used the challenge: the real login still works, once.
    let good = w.admin.login_json(&c, url, at);
    assert_eq!(w.verify("/git", good.clone()).await.0, StatusCode::OK);
    refused(w.verify("/git", good).await, "already used");

    // An expired challenge.
    let c = w.challenge("/git").await;
    w.clock.advance(SignedDuration::from_secs(121));
    refused(
        w.verify("/git", w.admin.login_json(&c, url, w.now())).await,
        "expired",
    );

    // A key nobody allowed.
    let stranger = TestSigner::from_seed(3);
    refused(w.log_in("/git", &stranger).await, "may not log in");

    // A body that is not the verify shape is a 4xx with {"error"} too.
    let (status, body) = w
        .call("POST", "/git/auth/verify", None, json!({"evt": 1}))
        .await;
    assert!(status.is_client_error(), "{status}");
    assert!(body["error"].is_string(), "{body}");
}

#[tokio::test]
async fn ten_thousand_challenges_keep_the_outstanding_set_bounded() {
    let w = World::new();
    let first = w.challenge("/git").await;
    for _ in 0..10_000 {
        w.challenge("/git").await;
    }
    assert_eq!(w.logins.outstanding_challenges(), MAX_OUTSTANDING);
    // The oldest went first; the newest still works.
    let url = "http://127.0.0.1:8788/git/auth/verify";
    let (status, _) = w
        .verify("/git", w.admin.login_json(&first, url, w.now()))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(w.log_in("/git", &w.admin).await.0, StatusCode::OK);
}

#[tokio::test]
async fn admins_keep_the_allowlist_through_upstreams_routes() {
    let w = World::new();
    let (_, body) = w.log_in("/git", &w.admin).await;
    let admin = body["token"].as_str().expect("a token").to_owned();
    let dev = TestSigner::from_seed(4);

    let (status, body) = w
        .call(
            "POST",
            "/git/api/admin/allowlist",
            Some(&admin),
            json!({"npub": dev.npub().to_string(), "note": "dev", "active": true, "can_forge_write": true}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["entry"]["can_forge_write"], true);
    assert_eq!(body["entry"]["role"], "write");
    assert_eq!(body["backfilled"], 0);

    let (status, list) = w
        .call("GET", "/git/api/admin/allowlist", Some(&admin), Value::Null)
        .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(
        list["bootstrap_admin_npubs"],
        json!([w.admin.npub().to_string()])
    );
    assert_eq!(list["entries"][0]["npub"], dev.npub().to_string());
    assert_eq!(list["entries"][0]["note"], "dev");

    let (status, body) = w.log_in("/git", &dev).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (body["is_admin"].clone(), body["can_forge_write"].clone()),
        (json!(false), json!(true))
    );
    let dev_token = body["token"].as_str().expect("a token").to_owned();

    // Only admins; the configured admin cannot be changed here.
    let (status, _) = w
        .call(
            "GET",
            "/git/api/admin/allowlist",
            Some(&dev_token),
            Value::Null,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = w
        .call(
            "POST",
            "/git/api/admin/allowlist",
            Some(&admin),
            json!({"npub": w.admin.npub().to_string(), "active": false}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = w
        .call(
            "POST",
            "/git/api/admin/allowlist",
            Some(&admin),
            json!({"npub": "npub1nope", "active": true}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    // Deactivated: its token stops at once.
    let (status, _) = w
        .call(
            "POST",
            "/git/api/admin/allowlist",
            Some(&admin),
            json!({"npub": dev.npub().to_string(), "active": false}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = w
        .call("GET", "/git/api/me", Some(&dev_token), Value::Null)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}
