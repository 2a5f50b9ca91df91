//! A stand-in for upstream pika's `ph` client: exactly its requests
//! (`Accept: application/json`, a bearer token, `{}` as every POST body, its
//! paths and query names) and its answer types, made strict: every key its
//! types name without a default must be there (an `Option` one too, which
//! serde alone would let pass), no `null` where it has a plain value, and its
//! enums know only upstream's words. Keys it does not know are ignored, as
//! `ph` ignores them.

#![expect(
    dead_code,
    reason = "fields are read by the decoding, not by every test"
)]

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde::{Deserialize, Deserializer, de::DeserializeOwned};
use tower::ServiceExt;

/// An `Option` whose key must be present (`null` is fine).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    Option::<T>::deserialize(d)
}

/// Decodes as `ph` does, strictly.
pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    serde_json::from_slice(bytes).map_err(|e| format!("{e}: {}", String::from_utf8_lossy(bytes)))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum BranchState {
    Open,
    Merged,
    Closed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum TutorialStatus {
    Pending,
    Ready,
    Failed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ForgeCiStatus {
    Queued,
    Running,
    Success,
    Failed,
    Skipped,
    Pending,
    Error,
    Ready,
    Waiting,
    WaitingForCapacity,
    BlockedByConcurrencyGroup,
    NeedsAttention,
    Lost,
    TimedOut,
    Timeout,
    Cancelled,
    Passed,
    Succeeded,
}

impl ForgeCiStatus {
    /// `ph wait` keeps waiting while this is true.
    pub(crate) fn is_active(self) -> bool {
        matches!(self, Self::Queued | Self::Running)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum CiLaneStatus {
    Queued,
    Running,
    Success,
    Failed,
    Skipped,
    Lost,
    TimedOut,
    Cancelled,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub(crate) enum CiLaneExecutionReason {
    #[default]
    Queued,
    Running,
    BlockedByConcurrencyGroup,
    WaitingForCapacity,
    StaleRecovered,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum CiLaneFailureKind {
    TestFailure,
    Timeout,
    Infrastructure,
}

#[derive(Debug, Deserialize)]
pub(crate) struct BranchResolveResponse {
    pub(crate) branch_id: i64,
    pub(crate) repo: String,
    pub(crate) branch_name: String,
    pub(crate) branch_state: BranchState,
}

#[derive(Debug, Deserialize)]
pub(crate) struct BranchSummary {
    pub(crate) branch_id: i64,
    pub(crate) repo: String,
    pub(crate) branch_name: String,
    pub(crate) title: String,
    pub(crate) branch_state: BranchState,
    pub(crate) updated_at: String,
    pub(crate) target_branch: String,
    pub(crate) head_sha: String,
    pub(crate) merge_base_sha: String,
    #[serde(deserialize_with = "present")]
    pub(crate) merge_commit_sha: Option<String>,
    pub(crate) tutorial_status: TutorialStatus,
    pub(crate) ci_status: ForgeCiStatus,
    #[serde(deserialize_with = "present")]
    pub(crate) error_message: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct BranchDetailResponse {
    pub(crate) branch: BranchSummary,
    pub(crate) ci_runs: Vec<CiRun>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct CiRun {
    pub(crate) id: i64,
    pub(crate) source_head_sha: String,
    pub(crate) status: ForgeCiStatus,
    #[serde(default)]
    pub(crate) status_tone: Option<String>,
    pub(crate) lane_count: usize,
    #[serde(deserialize_with = "present")]
    pub(crate) rerun_of_run_id: Option<i64>,
    pub(crate) created_at: String,
    #[serde(deserialize_with = "present")]
    pub(crate) started_at: Option<String>,
    #[serde(deserialize_with = "present")]
    pub(crate) finished_at: Option<String>,
    #[serde(default)]
    pub(crate) timing_summary: Option<String>,
    pub(crate) lanes: Vec<CiLane>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct CiLane {
    pub(crate) id: i64,
    pub(crate) lane_id: String,
    pub(crate) title: String,
    pub(crate) entrypoint: String,
    pub(crate) status: CiLaneStatus,
    #[serde(default)]
    pub(crate) status_tone: Option<String>,
    #[serde(default)]
    pub(crate) status_badge_class: Option<String>,
    #[serde(default)]
    pub(crate) is_failed: Option<bool>,
    #[serde(default)]
    pub(crate) execution_reason: CiLaneExecutionReason,
    #[serde(default)]
    pub(crate) execution_reason_label: Option<String>,
    #[serde(default)]
    pub(crate) failure_kind: Option<CiLaneFailureKind>,
    #[serde(default)]
    pub(crate) failure_kind_label: Option<String>,
    #[serde(deserialize_with = "present")]
    pub(crate) pikaci_run_id: Option<String>,
    #[serde(deserialize_with = "present")]
    pub(crate) pikaci_target_id: Option<String>,
    #[serde(default)]
    pub(crate) ci_target_key: Option<String>,
    #[serde(deserialize_with = "present")]
    pub(crate) log_text: Option<String>,
    pub(crate) retry_count: i64,
    #[serde(deserialize_with = "present")]
    pub(crate) rerun_of_lane_run_id: Option<i64>,
    pub(crate) created_at: String,
    #[serde(deserialize_with = "present")]
    pub(crate) started_at: Option<String>,
    #[serde(deserialize_with = "present")]
    pub(crate) finished_at: Option<String>,
    #[serde(default)]
    pub(crate) timing_summary: Option<String>,
    #[serde(default)]
    pub(crate) last_heartbeat_at: Option<String>,
    #[serde(default)]
    pub(crate) lease_expires_at: Option<String>,
    #[serde(default)]
    pub(crate) operator_hint: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct BranchLogsResponse {
    pub(crate) branch_id: i64,
    pub(crate) branch_name: String,
    pub(crate) run_id: i64,
    pub(crate) lane: CiLane,
    #[serde(deserialize_with = "present")]
    pub(crate) pikaci_run: Option<serde_json::Value>,
    #[serde(deserialize_with = "present")]
    pub(crate) pikaci_log_metadata: Option<serde_json::Value>,
    #[serde(deserialize_with = "present")]
    pub(crate) pikaci_prepared_outputs: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct NightlyDetailResponse {
    pub(crate) nightly_run_id: i64,
    pub(crate) repo: String,
    pub(crate) scheduled_for: String,
    pub(crate) created_at: String,
    pub(crate) source_ref: String,
    pub(crate) source_head_sha: String,
    pub(crate) status: ForgeCiStatus,
    #[serde(deserialize_with = "present")]
    pub(crate) summary: Option<String>,
    #[serde(deserialize_with = "present")]
    pub(crate) rerun_of_run_id: Option<i64>,
    #[serde(deserialize_with = "present")]
    pub(crate) started_at: Option<String>,
    #[serde(deserialize_with = "present")]
    pub(crate) finished_at: Option<String>,
    pub(crate) lanes: Vec<CiLane>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct LaneMutationResponse {
    pub(crate) status: String,
    #[serde(deserialize_with = "present")]
    pub(crate) branch_id: Option<i64>,
    #[serde(deserialize_with = "present")]
    pub(crate) nightly_run_id: Option<i64>,
    pub(crate) lane_run_id: i64,
    pub(crate) lane_status: CiLaneStatus,
}

#[derive(Debug, Deserialize)]
pub(crate) struct RecoverRunResponse {
    pub(crate) status: String,
    #[serde(deserialize_with = "present")]
    pub(crate) branch_id: Option<i64>,
    #[serde(deserialize_with = "present")]
    pub(crate) run_id: Option<i64>,
    #[serde(deserialize_with = "present")]
    pub(crate) nightly_run_id: Option<i64>,
    pub(crate) recovered_lane_count: usize,
}

#[derive(Debug, Deserialize)]
pub(crate) struct WakeCiResponse {
    pub(crate) status: String,
    pub(crate) message: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct MeResponse {
    pub(crate) npub: String,
    pub(crate) is_admin: bool,
    pub(crate) can_chat: bool,
    pub(crate) can_forge_write: bool,
}

/// `ph`'s session file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Session {
    pub(crate) base_url: String,
    pub(crate) token: String,
    pub(crate) npub: String,
    pub(crate) is_admin: bool,
    pub(crate) can_forge_write: bool,
}

/// A failed call: the status and the server's `error`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Failed {
    pub(crate) status: StatusCode,
    pub(crate) error: String,
}

/// `ph`'s `ApiClient`, over a router instead of a socket.
pub(crate) struct Ph {
    app: Router,
    token: String,
}

fn encode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => {
                (b as char).to_string()
            }
            b' ' => "+".to_owned(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl Ph {
    pub(crate) fn new(app: Router, token: &str) -> Self {
        Self {
            app,
            token: token.to_owned(),
        }
    }

    async fn send<T: DeserializeOwned>(&self, method: &str, path: &str) -> Result<T, Failed> {
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header("accept", "application/json")
            .header("authorization", format!("Bearer {}", self.token));
        let req = if method == "POST" {
            req.header("content-type", "application/json")
                .body(Body::from("{}"))
        } else {
            req.body(Body::empty())
        }
        .unwrap();
        let resp = self.app.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        if !status.is_success() {
            let error = serde_json::from_slice::<serde_json::Value>(&bytes)
                .ok()
                .and_then(|v| v["error"].as_str().map(str::to_owned))
                .unwrap_or_else(|| String::from_utf8_lossy(&bytes).into_owned());
            return Err(Failed { status, error });
        }
        Ok(decode(&bytes).unwrap_or_else(|e| panic!("{method} {path}: ph cannot read this: {e}")))
    }

    pub(crate) async fn me(&self) -> Result<MeResponse, Failed> {
        self.send("GET", "/news/api/me").await
    }

    pub(crate) async fn resolve_branch(&self, name: &str) -> Result<BranchResolveResponse, Failed> {
        self.send(
            "GET",
            &format!(
                "/news/api/forge/branch/resolve?branch_name={}",
                encode(name)
            ),
        )
        .await
    }

    pub(crate) async fn branch_detail(&self, branch: i64) -> Result<BranchDetailResponse, Failed> {
        self.send("GET", &format!("/news/api/forge/branch/{branch}"))
            .await
    }

    pub(crate) async fn branch_logs(
        &self,
        branch: i64,
        lane: Option<&str>,
        lane_run_id: Option<i64>,
    ) -> Result<BranchLogsResponse, Failed> {
        let mut query = Vec::new();
        if let Some(lane) = lane {
            query.push(format!("lane={}", encode(lane)));
        }
        if let Some(id) = lane_run_id {
            query.push(format!("lane_run_id={id}"));
        }
        let suffix = if query.is_empty() {
            String::new()
        } else {
            format!("?{}", query.join("&"))
        };
        self.send(
            "GET",
            &format!("/news/api/forge/branch/{branch}/logs{suffix}"),
        )
        .await
    }

    pub(crate) async fn nightly_detail(&self, id: i64) -> Result<NightlyDetailResponse, Failed> {
        self.send("GET", &format!("/news/api/forge/nightly/{id}"))
            .await
    }

    pub(crate) async fn fail_branch_ci_lane(
        &self,
        branch: i64,
        lane: i64,
    ) -> Result<LaneMutationResponse, Failed> {
        self.send("POST", &format!("/news/branch/{branch}/ci/fail/{lane}"))
            .await
    }

    pub(crate) async fn requeue_branch_ci_lane(
        &self,
        branch: i64,
        lane: i64,
    ) -> Result<LaneMutationResponse, Failed> {
        self.send("POST", &format!("/news/branch/{branch}/ci/requeue/{lane}"))
            .await
    }

    pub(crate) async fn recover_branch_ci_run(
        &self,
        branch: i64,
        run: i64,
    ) -> Result<RecoverRunResponse, Failed> {
        self.send("POST", &format!("/news/branch/{branch}/ci/recover/{run}"))
            .await
    }

    pub(crate) async fn fail_nightly_lane(
        &self,
        nightly: i64,
        lane: i64,
    ) -> Result<LaneMutationResponse, Failed> {
        self.send("POST", &format!("/news/nightly/{nightly}/fail/{lane}"))
            .await
    }

    pub(crate) async fn requeue_nightly_lane(
        &self,
        nightly: i64,
        lane: i64,
    ) -> Result<LaneMutationResponse, Failed> {
        self.send("POST", &format!("/news/nightly/{nightly}/requeue/{lane}"))
            .await
    }

    pub(crate) async fn recover_nightly_run(
        &self,
        nightly: i64,
    ) -> Result<RecoverRunResponse, Failed> {
        self.send("POST", &format!("/news/nightly/{nightly}/recover"))
            .await
    }

    pub(crate) async fn wake_ci(&self) -> Result<WakeCiResponse, Failed> {
        self.send("POST", "/news/api/forge/ci/wake").await
    }

    /// Not in `ph`, but upstream's server has it (the page's button).
    pub(crate) async fn rerun_branch_ci_lane(
        &self,
        branch: i64,
        lane: i64,
    ) -> Result<serde_json::Value, Failed> {
        self.send("POST", &format!("/news/branch/{branch}/ci/rerun/{lane}"))
            .await
    }
}

#[test]
fn the_strict_types_refuse_what_ph_refuses() {
    // A missing key upstream requires, null in a plain string, an unknown word.
    let ok = r#"{"branch_id":1,"repo":"r","branch_name":"b","branch_state":"open"}"#;
    assert!(decode::<BranchResolveResponse>(ok.as_bytes()).is_ok());
    for bad in [
        r#"{"branch_id":1,"repo":"r","branch_state":"open"}"#,
        r#"{"branch_id":1,"repo":null,"branch_name":"b","branch_state":"open"}"#,
        r#"{"branch_id":1,"repo":"r","branch_name":"b","branch_state":"gone"}"#,
    ] {
        assert!(
            decode::<BranchResolveResponse>(bad.as_bytes()).is_err(),
            "{bad}"
        );
    }
    // An Option key must be there (null is fine); extra keys are ignored.
    let m = r#"{"status":"ok","branch_id":null,"nightly_run_id":3,"lane_run_id":4,"lane_status":"queued","extra":1}"#;
    assert!(decode::<LaneMutationResponse>(m.as_bytes()).is_ok());
    let missing = r#"{"status":"ok","nightly_run_id":3,"lane_run_id":4,"lane_status":"queued"}"#;
    assert!(decode::<LaneMutationResponse>(missing.as_bytes()).is_err());
    let passed = r#"{"status":"ok","branch_id":null,"nightly_run_id":3,"lane_run_id":4,"lane_status":"passed"}"#;
    assert!(decode::<LaneMutationResponse>(passed.as_bytes()).is_err());
}
