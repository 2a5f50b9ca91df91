//! THE route list, of the API and the pages alike. Every route is declared
//! once, below, with the access it needs, its parameters and its answer's
//! type; [`router`] and the OpenAPI document ([`openapi_document`]) are both
//! made from it. It sits beside `api` and `pages`, which never import each
//! other.

use axum::Json;
use axum::Router;
use axum::routing::{MethodFilter, on};

pub use crate::auth::Access;
use crate::state::AppState;

use crate::api::compat::{actions, branch_end, dto as compat_dto, meta as compat_meta, nightly};
use crate::api::dto;
use crate::api::openapi::{self, Answer, Method, ParamKind, RouteDoc, path, query};
use crate::api::{
    branch, json_errors, lane_runs, lists, login, meta, pikaci, raw, stream, suite_reruns,
};
use crate::pages;

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

        fn add_routes(mut router: Router<AppState>) -> Router<AppState> {
            $(
                for served in served_paths($path) {
                    router = router.route(&served, on(filter(Method::$method), $handler));
                }
            )*
            router
        }
    };
}

pub(crate) use crate::links::{GIT_PREFIX, NEWS_PREFIX};

/// The paths a declared route is served at: itself, and for a route under
/// `/git` (`GIT_PREFIX`) the same path under `/news` (`NEWS_PREFIX`).
pub fn served_paths(path: &'static str) -> Vec<String> {
    match path.strip_prefix(GIT_PREFIX) {
        Some(rest) if rest.starts_with('/') => {
            vec![path.to_owned(), format!("{NEWS_PREFIX}{rest}")]
        }
        _ => vec![path.to_owned()],
    }
}

const LOG_KIND: ParamKind = ParamKind::OneOf(&["host", "guest", "both"]);
const ONE_LOG: ParamKind = ParamKind::OneOf(&["host", "guest"]);
const FLAG: ParamKind = ParamKind::OneOf(&["1", "0"]);
const PAGE_LOG_KIND: ParamKind = ParamKind::OneOf(&["guest", "host", "lane"]);
const LANE_ACTION: ParamKind = ParamKind::OneOf(&["rerun", "requeue", "fail", "recover"]);

routes! {
    Get "/" => meta::root {
        access: Public,
        summary: "The service's front door: 308 to /git/, the CI overview",
        params: [],
        answer: Answer::permanent_redirect("To /git/"),
    }
    Get "/health" => meta::health {
        access: Public,
        summary: "Liveness",
        params: [],
        answer: Answer::json::<dto::Health>("`{\"status\":\"ok\"}`"),
    }
    Get "/git/api/openapi.json" => openapi_json {
        access: Public,
        summary: "This document",
        params: [],
        answer: Answer::json::<meta::OpenApiDocument>("The OpenAPI 3.1 document of every route"),
    }
    Get "/git/api/forge/pikaci/run/{run_id}" => pikaci::run {
        access: Read,
        summary: "A pikaci run's RunRecord",
        params: [path("run_id", ParamKind::Id, "The pikaci run")],
        answer: Answer::json::<pikaci_core::RunRecord>("The run record; a run whose pikaci died reads as failed / interrupted"),
    }
    Get "/git/api/forge/pikaci/prepared-outputs/{run_id}" => pikaci::prepared_outputs {
        access: Read,
        summary: "What a pikaci run prepared: {run_id, prepared_outputs}",
        params: [path("run_id", ParamKind::Id, "The pikaci run")],
        answer: Answer::json::<dto::PreparedOutputsResponse>("The run's prepared-outputs.json, every key as read; 404 when the run has none, 500 when it is over 16 MiB, damaged, or a link or FIFO"),
    }
    Get "/git/api/forge/pikaci/logs/{run_id}" => pikaci::logs {
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
    Get "/git/api/forge/pikaci/logs/{run_id}/raw" => raw::raw {
        access: Read,
        summary: "One log as text/plain, streamed whole (no size cap), with byte ranges, ETag and HEAD",
        params: [
            path("run_id", ParamKind::Id, "The pikaci run"),
            query("job", ParamKind::Id, "The job (default: the run's first job)"),
            query("kind", ONE_LOG, "Which log (default: guest)"),
            query("download", FLAG, "1: answer as an attachment (Content-Disposition), named <run>-<job>-<kind>.log"),
            query("timestamps", FLAG, "1: each line that starts in the answer is prefixed with its arrival time, `2026-03-24T16:12:38.123Z ` (RFC 3339, UTC, milliseconds, one space; lines of a log without a timestamp sidecar get none). The span is then chosen with offset/limit/tail (bytes of the log, no cap) and Range is not used; X-Log-Offset and X-Log-End name the bytes covered"),
            query("offset", ParamKind::Bytes, "With timestamps=1: the first byte of the log to return"),
            query("limit", ParamKind::Bytes, "With timestamps=1: how many bytes of the log to return at most"),
            query("tail", ParamKind::Bytes, "With timestamps=1: the last N bytes of the log (starting on a character boundary)"),
        ],
        answer: Answer::text_with_ranges("The log as it was when opened. Range: one of bytes=a-b, a-, -n (206); a range outside the log or several ranges: 416 with Content-Range: bytes */size. ETag changes as the log grows; If-None-Match (304) and If-Range are honoured. HEAD gives the headers alone, Content-Length included."),
    }
    Get "/git/api/forge/pikaci/logs/{run_id}/stream" => stream::stream {
        access: Read,
        summary: "A job's log as Server-Sent Events, live until the job ends",
        params: [
            path("run_id", ParamKind::Id, "The pikaci run"),
            query("job", ParamKind::Id, "The job (default: the run's first job)"),
            query("kind", ONE_LOG, "Which log (default: guest)"),
            query("offset", ParamKind::Bytes, "The byte to start from (default 0); a Last-Event-ID header wins over it"),
            query("timestamps", FLAG, "1: each line starts with its arrival time, `2026-03-24T16:12:38.123Z ` (RFC 3339, UTC, milliseconds, one space); ids stay offsets in the log"),
        ],
        answer: Answer::event_stream("Events: `status` (data: StreamStatus; first, and whenever the job's status changes), `log` (id: the byte offset after the text, which Last-Event-ID resumes from; data: the text as one JSON string, cut on character boundaries), `end` (data: StreamEnd; the job has finished and its log is all sent; the stream then closes), and `: keep-alive` comments while the job is quiet"),
    }
    Get "/git/api/forge/branch/resolve" => branch::resolve {
        access: Read,
        summary: "The branch of a name",
        params: [
            query("name", ParamKind::Text, "The branch name, e.g. feature/x (this or branch_name is required)"),
            query("branch_name", ParamKind::Text, "The same, under upstream's name"),
        ],
        answer: Answer::json::<dto::Branch>("The branch, with upstream's keys (branch_id, repo, branch_name, branch_state)"),
    }
    Get "/git/api/forge/branch/{branch_id}" => branch::detail {
        access: Read,
        summary: "A branch with its suites and lanes, and upstream's view of them (branch, ci_runs)",
        params: [path("branch_id", ParamKind::RowId, "The branch")],
        answer: Answer::json::<dto::BranchDetail>("The branch, its suites (newest first) and their lanes; upstream's branch summary and CI runs"),
    }
    Get "/git/api/forge/branches" => lists::branches {
        access: Read,
        summary: "Branches, newest first, a page at a time (no silent cap: follow `next` or the Link header)",
        params: [
            query("limit", ParamKind::Bytes, "How many per page: 1 to 200 (default 50)"),
            query("cursor", ParamKind::RowId, "Where the page starts: the `cursor` of the previous page's `next`"),
        ],
        answer: Answer::json::<lists::BranchList>("A page of branches and the address of the next page (null on the last), also as `Link: <...>; rel=\"next\"`"),
    }
    Get "/git/api/forge/branch/{branch_id}/suites" => lists::suites {
        access: Read,
        summary: "A branch's suites, newest first, a page at a time, each with its lanes",
        params: [
            path("branch_id", ParamKind::RowId, "The branch"),
            query("limit", ParamKind::Bytes, "How many per page: 1 to 200 (default 50)"),
            query("cursor", ParamKind::RowId, "Where the page starts: the `cursor` of the previous page's `next`"),
        ],
        answer: Answer::json::<lists::SuiteList>("A page of suites and the address of the next page (null on the last), also as `Link: <...>; rel=\"next\"`"),
    }
    Get "/git/api/forge/lane/{lane_run_id}" => lists::lane {
        access: Read,
        summary: "One lane run",
        params: [path("lane_run_id", ParamKind::RowId, "The lane run")],
        answer: Answer::json::<dto::LaneRun>("The lane run"),
    }
    Get "/git/api/forge/commit/{sha}/status" => lists::commit_status {
        access: Read,
        summary: "A commit's CI as one state, from the newest run of each of its lanes (GitHub's combined status)",
        params: [path("sha", ParamKind::Text, "The full commit id (hexadecimal)")],
        answer: Answer::json::<lists::CommitStatus>("The combined state (none, failed, running, passed, cancelled), the count and the lanes"),
    }
    Get "/git/api/forge/branch/{branch_id}/logs" => branch::logs {
        access: Read,
        summary: "ForgeBranchLogsResponse: {branch_id, branch_name, run_id, lane, pikaci_run, pikaci_log_metadata}",
        params: [
            path("branch_id", ParamKind::RowId, "The branch"),
            query("lane", ParamKind::Id, "The newest run of this lane"),
            query("lane_run_id", ParamKind::RowId, "This lane run (it must belong to the branch)"),
        ],
        answer: Answer::json::<dto::BranchLogsResponse>("The lane run (by default the newest failed one) with the end of its log, its suite as run_id, and its pikaci run and log facts (null when it has none or the run is gone)"),
    }
    Get "/git/api/forge/lane/{lane_run_id}/log" => lane_runs::log {
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
    Post "/git/api/forge/lane/{lane_run_id}/{action}" => lane_runs::action {
        access: Write,
        summary: "Lane action: rerun, requeue, fail or recover. From a page: a form post with the page cookie and its csrf field, answered with 303 to the page",
        params: [
            path("lane_run_id", ParamKind::RowId, "The lane run"),
            path("action", LANE_ACTION, "rerun: queue a new run; requeue: queue this one again; fail: mark it failed; recover: requeue a running lane whose runner is gone"),
        ],
        answer: Answer::json::<dto::LaneActionDone>("The lane run changed, or the new one a rerun made"),
    }
    Post "/git/api/forge/wake" => lane_runs::wake {
        access: Write,
        summary: "Look for new heads and queued lanes now",
        params: [],
        answer: Answer::json::<dto::Woken>("Whether a scheduler was woken"),
    }
    Post "/git/api/forge/ci/wake" => compat_meta::wake {
        access: Write,
        summary: "Look for new heads and queued lanes now (upstream's wake)",
        params: [],
        answer: Answer::json::<dto::WakeCi>("`{\"status\":\"ok\", \"message\"}`"),
    }
    Post "/git/auth/challenge" => login::challenge {
        access: Public,
        summary: "`ph login`, step 1: a single-use challenge to sign, valid 120 s",
        params: [],
        answer: Answer::json::<compat_dto::LoginChallenge>("`{challenge}`"),
    }
    Post "/git/auth/verify" => login::verify {
        access: Public,
        summary: "`ph login`, step 2: body `{\"event\": \"<signed Nostr event as JSON text>\"}`, a kind 27235 event over the challenge with tags u (this URL) and method POST; its key must be a configured admin or active on the allowlist. 401 says which check failed",
        params: [],
        answer: Answer::login::<compat_dto::LoginDone>("A token for the key, valid 90 days"),
    }
    Get "/git/api/admin/allowlist" => login::allowlist {
        access: Admin,
        summary: "Who may log in with `ph login`: the configured admins and the allowlist's entries",
        params: [],
        answer: Answer::json::<compat_dto::Allowlist>("`{bootstrap_admin_npubs, entries}`"),
    }
    Post "/git/api/admin/allowlist" => login::set_allowlist {
        access: Admin,
        summary: "Add or change a key: body `{npub, note?, active, can_forge_write?}` (write role with can_forge_write, else read; inactive also revokes its tokens)",
        params: [],
        answer: Answer::json::<compat_dto::AllowlistChanged>("`{entry, backfilled}`"),
    }
    Get "/git/api/me" => compat_meta::me {
        access: Read,
        summary: "Who the token is: {npub, is_admin, can_chat, can_forge_write} (a token is needed)",
        params: [],
        answer: Answer::json::<dto::Me>("The token's name as npub and what its role allows"),
    }
    Post "/git/branch/{branch_id}/ci/fail/{lane_run_id}" => actions::act::<actions::Fail> {
        access: Write,
        summary: "Fail a queued or running lane of the branch",
        params: [
            path("branch_id", ParamKind::RowId, "The branch"),
            path("lane_run_id", ParamKind::RowId, "A lane run of the branch's suites"),
        ],
        answer: Answer::json::<dto::LaneMutation>("The lane run and its status now"),
    }
    Post "/git/branch/{branch_id}/ci/requeue/{lane_run_id}" => actions::act::<actions::Requeue> {
        access: Write,
        summary: "Put a queued, running or failed lane of the branch back in the queue",
        params: [
            path("branch_id", ParamKind::RowId, "The branch"),
            path("lane_run_id", ParamKind::RowId, "A lane run of the branch's suites"),
        ],
        answer: Answer::json::<dto::LaneMutation>("The lane run and its status now"),
    }
    Post "/git/branch/{branch_id}/ci/rerun/{lane_run_id}" => actions::act::<actions::Rerun> {
        access: Write,
        summary: "Run a finished lane of the branch again (a new lane run in the same suite)",
        params: [
            path("branch_id", ParamKind::RowId, "The branch"),
            path("lane_run_id", ParamKind::RowId, "A lane run of the branch's suites"),
        ],
        answer: Answer::json::<dto::BranchRerun>("The suite and the new lane run"),
    }
    Post "/git/branch/{branch_id}/ci/recover/{run_id}" => actions::act::<actions::Recover> {
        access: Write,
        summary: "Put every queued, running or failed lane of a suite back in the queue",
        params: [
            path("branch_id", ParamKind::RowId, "The branch"),
            path("run_id", ParamKind::RowId, "One of the branch's suites (a ci_runs id)"),
        ],
        answer: Answer::json::<dto::RecoverDone>("How many lanes were requeued"),
    }
    Post "/git/api/forge/branch/{branch_id}/merge" => branch_end::merge {
        access: Write,
        summary: "`ph merge`: merge the branch's head into the default branch (a merge commit; the branch ref deleted, in one atomic ref update). `[forge_repo] merge_policy` decides: `green` (its newest suite passed, for this very head), `green-or-admin` (the default: green, or any head for an admin, which is what `ph merge --force` by an admin relies on) or `any`. 409 with the reason for a refused, conflicting (naming the paths), moved or not open branch; nothing is changed then. The body is not read",
        params: [path("branch_id", ParamKind::RowId, "The branch")],
        answer: Answer::json::<compat_dto::BranchAction>("`{status, branch_id, merge_commit_sha, deleted: null}`"),
    }
    Post "/git/api/forge/branch/{branch_id}/close" => branch_end::close {
        access: Write,
        summary: "`ph close`: delete the branch's ref (only if still at the head pika-news saw), mark it closed and cancel its queued and running lanes. 409 for a moved or not open branch",
        params: [path("branch_id", ParamKind::RowId, "The branch")],
        answer: Answer::json::<compat_dto::BranchAction>("`{status, branch_id, merge_commit_sha: null, deleted: true}`"),
    }
    Post "/git/branch/{branch_id}/merge" => branch_end::merge {
        access: Write,
        summary: "The branch page's Merge button (upstream's form route): as the API's merge. From a page: a form post with the page cookie and its csrf field, answered with 303 to the form's `back` page (the branch page)",
        params: [path("branch_id", ParamKind::RowId, "The branch")],
        answer: Answer::json::<compat_dto::BranchAction>("To a bearer token, as the API's merge"),
    }
    Post "/git/branch/{branch_id}/close" => branch_end::close {
        access: Write,
        summary: "The branch page's Close button (upstream's form route): as the API's close. From a page: a form post with the page cookie and its csrf field, answered with 303 to the form's `back` page (the branch page)",
        params: [path("branch_id", ParamKind::RowId, "The branch")],
        answer: Answer::json::<compat_dto::BranchAction>("To a bearer token, as the API's close"),
    }
    Get "/git/api/forge/nightly" => nightly::list {
        access: Read,
        summary: "The newest nightly runs",
        params: [],
        answer: Answer::json::<dto::NightlyList>("Nightly runs, newest first, with their lanes"),
    }
    Get "/git/api/forge/nightly/{nightly_run_id}" => nightly::detail {
        access: Read,
        summary: "A nightly run with its lanes (upstream's NightlyDetailResponse)",
        params: [path("nightly_run_id", ParamKind::RowId, "The nightly run")],
        answer: Answer::json::<dto::NightlyDetail>("The nightly run"),
    }
    Post "/git/nightly/{nightly_run_id}/fail/{lane_run_id}" => actions::act::<actions::Fail> {
        access: Write,
        summary: "Fail a queued or running lane of the nightly run",
        params: [
            path("nightly_run_id", ParamKind::RowId, "The nightly run"),
            path("lane_run_id", ParamKind::RowId, "A lane run of the nightly run"),
        ],
        answer: Answer::json::<dto::LaneMutation>("The lane run and its status now"),
    }
    Post "/git/nightly/{nightly_run_id}/requeue/{lane_run_id}" => actions::act::<actions::Requeue> {
        access: Write,
        summary: "Put a queued, running or failed lane of the nightly run back in the queue",
        params: [
            path("nightly_run_id", ParamKind::RowId, "The nightly run"),
            path("lane_run_id", ParamKind::RowId, "A lane run of the nightly run"),
        ],
        answer: Answer::json::<dto::LaneMutation>("The lane run and its status now"),
    }
    Post "/git/nightly/{nightly_run_id}/rerun/{lane_run_id}" => actions::act::<actions::Rerun> {
        access: Write,
        summary: "Run a finished lane of the nightly run again (a new lane run in the same nightly run)",
        params: [
            path("nightly_run_id", ParamKind::RowId, "The nightly run"),
            path("lane_run_id", ParamKind::RowId, "A lane run of the nightly run"),
        ],
        answer: Answer::json::<dto::NightlyRerun>("The nightly run and the new lane run"),
    }
    Post "/git/nightly/{nightly_run_id}/recover" => actions::act::<actions::Recover> {
        access: Write,
        summary: "Put every queued, running or failed lane of the nightly run back in the queue",
        params: [path("nightly_run_id", ParamKind::RowId, "The nightly run")],
        answer: Answer::json::<dto::RecoverDone>("How many lanes were requeued"),
    }
    Post "/git/branch/{branch_id}/ci/rerun" => suite_reruns::branch {
        access: Write,
        summary: "Rerun the branch's newest suite: a new attempt, in the same suite, of every finished lane (or with failed=1 of the failed ones); lanes still queued or running are left alone. From a page's form (cookie and csrf), 303 back to the page",
        params: [
            path("branch_id", ParamKind::RowId, "The branch"),
            query("failed", FLAG, "1: only the lanes that failed"),
        ],
        answer: Answer::json::<suite_reruns::SuiteRerun>("The suite and the new lane runs (409 when nothing is to rerun, saying why)"),
    }
    Post "/git/nightly/{nightly_run_id}/rerun" => suite_reruns::nightly {
        access: Write,
        summary: "Rerun a whole nightly run: a new attempt of every finished lane (or with failed=1 of the failed ones), in the same run. From a page's form, 303 back to the page",
        params: [
            path("nightly_run_id", ParamKind::RowId, "The nightly run"),
            query("failed", FLAG, "1: only the lanes that failed"),
        ],
        answer: Answer::json::<suite_reruns::SuiteRerun>("The suite and the new lane runs (409 when nothing is to rerun, saying why)"),
    }
    Get "/git/branch/{branch_id}" => compat_meta::branch_page {
        access: Public,
        summary: "The branch's address (what `ph url` prints): 303 to its CI page, keeping the query",
        params: [path("branch_id", ParamKind::RowId, "The branch")],
        answer: Answer::redirect("To /git/branch/{branch_id}/ci (under /news, to /news/branch/{branch_id}/ci)"),
    }
    Get "/git/" => pages::ci::overview {
        access: Read,
        summary: "The CI overview page (HTML), as /git/ci",
        params: [],
        answer: Answer::html("The page"),
    }
    Get "/git/ci" => pages::ci::overview {
        access: Read,
        summary: "The CI overview page (HTML): every branch with its latest suite",
        params: [
            query("token", ParamKind::Text, "Logs nobody in: answers 303 to the sign-in form, without the token"),
        ],
        answer: Answer::html("The page"),
    }
    Get "/git/nightly/{nightly_run_id}" => pages::nightly::page {
        access: Read,
        summary: "A nightly run's page (HTML): its summary line and lanes",
        params: [path("nightly_run_id", ParamKind::RowId, "The nightly run")],
        answer: Answer::html("The page"),
    }
    Get "/git/nightly/{nightly_run_id}/lane/{lane_run_id}" => pages::lane::nightly_page {
        access: Read,
        summary: "A nightly run's lane page (HTML): its jobs and the log viewer (the same parameters as a branch's lane page)",
        params: [
            path("nightly_run_id", ParamKind::RowId, "The nightly run"),
            path("lane_run_id", ParamKind::RowId, "The lane run (of that nightly run)"),
            query("job", ParamKind::Id, "The job whose log is shown"),
            query("kind", PAGE_LOG_KIND, "guest, host or lane"),
            query("line", ParamKind::Bytes, "Open the log at this line"),
            query("timestamps", FLAG, "1: show the time each line arrived"),
        ],
        answer: Answer::html("The page"),
    }
    Get "/git/branch/{branch_id}/ci" => pages::branch::page {
        access: Read,
        summary: "The branch CI page (HTML): the latest suite's summary, lanes and jobs, earlier suites",
        params: [
            path("branch_id", ParamKind::RowId, "The branch"),
            query("token", ParamKind::Text, "Logs nobody in: answers 303 to the sign-in form, without the token"),
        ],
        answer: Answer::html("The page"),
    }
    Get "/git/branch/{branch_id}/ci/lane/{lane_run_id}" => pages::lane::page {
        access: Read,
        summary: "A lane run's page (HTML): its jobs and the log viewer",
        params: [
            path("branch_id", ParamKind::RowId, "The branch"),
            path("lane_run_id", ParamKind::RowId, "The lane run (of that branch)"),
            query("job", ParamKind::Id, "The job whose log is shown (default: a running, else a failed, else the first job)"),
            query("kind", PAGE_LOG_KIND, "guest (the job's output, default), host (pikaci's account) or lane (the lane's own log)"),
            query("line", ParamKind::Bytes, "Open the log at this line (from 1) instead of at its end"),
            query("timestamps", FLAG, "1: show the time each line arrived"),
            query("token", ParamKind::Text, "Logs nobody in: answers 303 to the sign-in form, without the token"),
        ],
        answer: Answer::html("The page"),
    }
    Get "/git/sign-in" => pages::sign_in::form {
        access: Public,
        summary: "The sign-in form (HTML): a token field posted to this address",
        params: [query("back", ParamKind::Text, "The page of this server to go on to once signed in")],
        answer: Answer::html("The form"),
    }
    Post "/git/sign-in" => pages::sign_in::submit {
        access: Public,
        summary: "Exchanges a token (form field `token`, with `back`) for the page cookie: HttpOnly, SameSite=Strict, Secure when public_url is https. Refused (403) when the browser says the form is another site's; an unknown token answers 401 with the form again",
        params: [],
        answer: Answer::redirect("To `back` (a page of this server), with the cookie set"),
    }
    Post "/git/sign-out" => pages::sign_in::sign_out {
        access: Public,
        summary: "Forgets this browser's page cookie (the sign-in form's Sign out button): sets it empty with Max-Age=0. Refused (403) when the browser says the form is another site's",
        params: [],
        answer: Answer::redirect("To the sign-in form, with the cookie cleared"),
    }
}

/// Every route of pika-news, over `state`. The caller binds and serves it.
pub fn router(state: AppState) -> Router {
    let routes = add_routes(Router::new())
        .fallback(meta::not_found)
        .with_state(state);
    // Around the whole router, not each route: a 405's `Allow` header is
    // added by the route's method router after its own layers ran. Page
    // requests' errors are made pages last, once every error is JSON, so a
    // mistyped page address (the fallback) is a page too.
    Router::new()
        .fallback_service(routes)
        .layer(json_errors::JsonErrorsLayer)
        .layer(pages::errors::PageErrorsLayer)
}

/// The OpenAPI 3.1 document of every route.
pub fn openapi_document() -> serde_json::Value {
    openapi::document(ROUTES)
}

async fn openapi_json() -> Json<serde_json::Value> {
    Json(openapi_document())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::links::page_request;

    fn method(m: Method) -> axum::http::Method {
        match m {
            Method::Get => axum::http::Method::GET,
            Method::Post => axum::http::Method::POST,
        }
    }

    /// The page family (`links::page_request`, which decides whether errors
    /// are pages) is exactly the routes answering HTML, their addresses'
    /// redirects and the sign-in form's post; no JSON route is in it.
    #[test]
    fn the_page_family_is_the_html_routes_and_no_json_route() {
        for r in ROUTES {
            let html = r.answer.content_type.starts_with("text/html");
            for served in served_paths(r.path) {
                let page = page_request(&method(r.method), &served).is_some();
                if html {
                    assert!(page, "{served} answers HTML but is not a page");
                }
                if r.answer.is_json() || r.answer.content_type.starts_with("text/") && !html {
                    assert!(
                        !page,
                        "{served} answers {} but is a page",
                        r.answer.content_type
                    );
                }
            }
        }
        assert!(page_request(&axum::http::Method::POST, "/git/sign-in").is_some());
    }
}
