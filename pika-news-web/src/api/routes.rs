//! THE route list. Every route is declared once, below, with the access it
//! needs, its parameters and its answer's type; [`router`] and the OpenAPI
//! document ([`openapi_document`]) are both made from it.

use axum::Json;
use axum::Router;
use axum::routing::{MethodFilter, on};

pub use crate::auth::Access;
use crate::state::AppState;

use super::compat::{actions, meta as compat_meta, nightly};
use super::dto;
use super::openapi::{self, Answer, Method, ParamKind, RouteDoc, path, query};
use super::{branch, lane_runs, meta, page, pikaci};

fn filter(method: Method) -> MethodFilter {
    match method {
        Method::Get => MethodFilter::GET,
        Method::Post => MethodFilter::POST,
    }
}

/// Declares every route once, building both [`ROUTES`] and the router.
macro_rules! routes {
    ($( $method:ident $path:literal => $handler:path {
        access: $access:ident,
        summary: $summary:literal,
        params: [$($param:expr),* $(,)?],
        answer: $answer:expr $(,)?
    } )*) => {
        /// Every route: method, path, access, parameters, answer.
        pub const ROUTES: &[RouteDoc] = &[
            $( RouteDoc {
                method: Method::$method,
                path: $path,
                access: Access::$access,
                summary: $summary,
                params: &[$($param),*],
                answer: $answer,
            }, )*
        ];

        fn add_routes(router: Router<AppState>) -> Router<AppState> {
            router $( .route($path, on(filter(Method::$method), $handler)) )*
        }
    };
}

const LOG_KIND: ParamKind = ParamKind::OneOf(&["host", "guest", "both"]);
const LANE_ACTION: ParamKind = ParamKind::OneOf(&["rerun", "requeue", "fail", "recover"]);

routes! {
    Get "/health" => meta::health {
        access: Public,
        summary: "Liveness",
        params: [],
        answer: Answer::json::<dto::Health>("`{\"status\":\"ok\"}`"),
    }
    Get "/news/api/openapi.json" => openapi_json {
        access: Public,
        summary: "This document",
        params: [],
        answer: Answer::json::<meta::OpenApiDocument>("The OpenAPI 3.1 document of every route"),
    }
    Get "/news/api/forge/pikaci/run/{run_id}" => pikaci::run {
        access: Read,
        summary: "A pikaci run's RunRecord",
        params: [path("run_id", ParamKind::Id, "The pikaci run")],
        answer: Answer::json::<pikaci_core::RunRecord>("The run record; a run whose pikaci died reads as failed / interrupted"),
    }
    Get "/news/api/forge/pikaci/logs/{run_id}" => pikaci::logs {
        access: Read,
        summary: "A job's logs: {run_id, job, host, guest, host_log, guest_log}",
        params: [
            path("run_id", ParamKind::Id, "The pikaci run"),
            query("job", ParamKind::Id, "The job (default: the run's first job)"),
            query("kind", LOG_KIND, "Which log (default: both)"),
            query("offset", ParamKind::Bytes, "The first byte to return (with limit)"),
            query("limit", ParamKind::Bytes, "How many bytes to return at most (with offset)"),
            query("tail", ParamKind::Bytes, "Return the last N bytes (not with offset or limit)"),
        ],
        answer: Answer::json::<dto::LogsResponse>("The logs asked for, and what part of each was returned"),
    }
    Get "/news/api/forge/branch/resolve" => branch::resolve {
        access: Read,
        summary: "The branch of a name",
        params: [
            query("name", ParamKind::Text, "The branch name, e.g. feature/x (this or branch_name is required)"),
            query("branch_name", ParamKind::Text, "The same, under upstream's name"),
        ],
        answer: Answer::json::<dto::Branch>("The branch, with upstream's keys (branch_id, repo, branch_name, branch_state)"),
    }
    Get "/news/api/forge/branch/{branch_id}" => branch::detail {
        access: Read,
        summary: "A branch with its suites and lanes, and upstream's view of them (branch, ci_runs)",
        params: [path("branch_id", ParamKind::RowId, "The branch")],
        answer: Answer::json::<dto::BranchDetail>("The branch, its suites (newest first) and their lanes; upstream's branch summary and CI runs"),
    }
    Get "/news/api/forge/branch/{branch_id}/logs" => branch::logs {
        access: Read,
        summary: "ForgeBranchLogsResponse: {branch_id, branch_name, run_id, lane, pikaci_run, pikaci_log_metadata}",
        params: [
            path("branch_id", ParamKind::RowId, "The branch"),
            query("lane", ParamKind::Id, "The newest run of this lane"),
            query("lane_run_id", ParamKind::RowId, "This lane run (it must belong to the branch)"),
        ],
        answer: Answer::json::<dto::BranchLogsResponse>("The lane run (by default the newest failed one) with the end of its log, its suite as run_id, and its pikaci run and log facts (null when it has none or the run is gone)"),
    }
    Get "/news/api/forge/lane/{lane_run_id}/log" => lane_runs::log {
        access: Read,
        summary: "A lane run's own log: {lane_run_id, log, offset, len, total_size, truncated, exists}",
        params: [
            path("lane_run_id", ParamKind::RowId, "The lane run"),
            query("offset", ParamKind::Bytes, "The first byte to return (with limit)"),
            query("limit", ParamKind::Bytes, "How many bytes to return at most (with offset)"),
            query("tail", ParamKind::Bytes, "Return the last N bytes (not with offset or limit)"),
        ],
        answer: Answer::json::<dto::LaneLog>("What pika-news ran, the lane's output, and how it ended"),
    }
    Post "/news/api/forge/lane/{lane_run_id}/{action}" => lane_runs::action {
        access: Write,
        summary: "Lane action: rerun, requeue, fail or recover",
        params: [
            path("lane_run_id", ParamKind::RowId, "The lane run"),
            path("action", LANE_ACTION, "rerun: queue a new run; requeue: queue this one again; fail: mark it failed; recover: requeue a running lane whose runner is gone"),
        ],
        answer: Answer::json::<dto::LaneActionDone>("The lane run changed, or the new one a rerun made"),
    }
    Post "/news/api/forge/wake" => lane_runs::wake {
        access: Write,
        summary: "Look for new heads and queued lanes now",
        params: [],
        answer: Answer::json::<dto::Woken>("Whether a scheduler was woken"),
    }
    Post "/news/api/forge/ci/wake" => compat_meta::wake {
        access: Write,
        summary: "Look for new heads and queued lanes now (upstream's wake)",
        params: [],
        answer: Answer::json::<dto::WakeCi>("`{\"status\":\"ok\", \"message\"}`"),
    }
    Get "/news/api/me" => compat_meta::me {
        access: Read,
        summary: "Who the token is: {npub, is_admin, can_chat, can_forge_write} (a token is needed)",
        params: [],
        answer: Answer::json::<dto::Me>("The token's name as npub and what its role allows"),
    }
    Post "/news/branch/{branch_id}/ci/fail/{lane_run_id}" => actions::branch_fail {
        access: Write,
        summary: "Fail a queued or running lane of the branch",
        params: [
            path("branch_id", ParamKind::RowId, "The branch"),
            path("lane_run_id", ParamKind::RowId, "A lane run of the branch's suites"),
        ],
        answer: Answer::json::<dto::LaneMutation>("The lane run and its status now"),
    }
    Post "/news/branch/{branch_id}/ci/requeue/{lane_run_id}" => actions::branch_requeue {
        access: Write,
        summary: "Put a queued, running or failed lane of the branch back in the queue",
        params: [
            path("branch_id", ParamKind::RowId, "The branch"),
            path("lane_run_id", ParamKind::RowId, "A lane run of the branch's suites"),
        ],
        answer: Answer::json::<dto::LaneMutation>("The lane run and its status now"),
    }
    Post "/news/branch/{branch_id}/ci/rerun/{lane_run_id}" => actions::branch_rerun {
        access: Write,
        summary: "Run a finished lane of the branch again (a new lane run in the same suite)",
        params: [
            path("branch_id", ParamKind::RowId, "The branch"),
            path("lane_run_id", ParamKind::RowId, "A lane run of the branch's suites"),
        ],
        answer: Answer::json::<dto::BranchRerun>("The suite and the new lane run"),
    }
    Post "/news/branch/{branch_id}/ci/recover/{run_id}" => actions::branch_recover {
        access: Write,
        summary: "Put every queued, running or failed lane of a suite back in the queue",
        params: [
            path("branch_id", ParamKind::RowId, "The branch"),
            path("run_id", ParamKind::RowId, "One of the branch's suites (a ci_runs id)"),
        ],
        answer: Answer::json::<dto::RecoverDone>("How many lanes were requeued"),
    }
    Get "/news/api/forge/nightly" => nightly::list {
        access: Read,
        summary: "The newest nightly runs",
        params: [],
        answer: Answer::json::<dto::NightlyList>("Nightly runs, newest first, with their lanes"),
    }
    Get "/news/api/forge/nightly/{nightly_run_id}" => nightly::detail {
        access: Read,
        summary: "A nightly run with its lanes (upstream's NightlyDetailResponse)",
        params: [path("nightly_run_id", ParamKind::RowId, "The nightly run")],
        answer: Answer::json::<dto::NightlyDetail>("The nightly run"),
    }
    Post "/news/nightly/{nightly_run_id}/fail/{lane_run_id}" => actions::nightly_fail {
        access: Write,
        summary: "Fail a queued or running lane of the nightly run",
        params: [
            path("nightly_run_id", ParamKind::RowId, "The nightly run"),
            path("lane_run_id", ParamKind::RowId, "A lane run of the nightly run"),
        ],
        answer: Answer::json::<dto::LaneMutation>("The lane run and its status now"),
    }
    Post "/news/nightly/{nightly_run_id}/requeue/{lane_run_id}" => actions::nightly_requeue {
        access: Write,
        summary: "Put a queued, running or failed lane of the nightly run back in the queue",
        params: [
            path("nightly_run_id", ParamKind::RowId, "The nightly run"),
            path("lane_run_id", ParamKind::RowId, "A lane run of the nightly run"),
        ],
        answer: Answer::json::<dto::LaneMutation>("The lane run and its status now"),
    }
    Post "/news/nightly/{nightly_run_id}/rerun/{lane_run_id}" => actions::nightly_rerun {
        access: Write,
        summary: "Run a finished lane of the nightly run again (a new lane run in the same nightly run)",
        params: [
            path("nightly_run_id", ParamKind::RowId, "The nightly run"),
            path("lane_run_id", ParamKind::RowId, "A lane run of the nightly run"),
        ],
        answer: Answer::json::<dto::NightlyRerun>("The nightly run and the new lane run"),
    }
    Post "/news/nightly/{nightly_run_id}/recover" => actions::nightly_recover {
        access: Write,
        summary: "Put every queued, running or failed lane of the nightly run back in the queue",
        params: [path("nightly_run_id", ParamKind::RowId, "The nightly run")],
        answer: Answer::json::<dto::RecoverDone>("How many lanes were requeued"),
    }
    Get "/news/branch/{branch_id}" => compat_meta::branch_page {
        access: Public,
        summary: "The branch's address (what `ph url` prints): 303 to its CI page, keeping the query",
        params: [path("branch_id", ParamKind::RowId, "The branch")],
        answer: Answer::redirect("To /news/branch/{branch_id}/ci"),
    }
    Get "/news/branch/{branch_id}/ci" => page::branch_ci {
        access: Read,
        summary: "The branch CI page (HTML); ?token= sets a read cookie",
        params: [
            path("branch_id", ParamKind::RowId, "The branch"),
            query("token", ParamKind::Text, "A token to exchange for an HttpOnly cookie (answers 303 to the same page without it)"),
        ],
        answer: Answer::html("The page"),
    }
}

/// Every route of pika-news, over `state`. The caller binds and serves it.
pub fn router(state: AppState) -> Router {
    add_routes(Router::new())
        .fallback(meta::not_found)
        .with_state(state)
}

/// The OpenAPI 3.1 document of every route.
pub fn openapi_document() -> serde_json::Value {
    openapi::document(ROUTES)
}

async fn openapi_json() -> Json<serde_json::Value> {
    Json(openapi_document())
}
