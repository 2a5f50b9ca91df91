//! The list routes: branches and a branch's suites page by page (a cursor
//! in the body's `next` and in a `Link: <...>; rel="next"` header, never a
//! silent cap), one lane run, and the combined CI status of a commit.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use super::dto::{Branch, LaneRun, Suite};
use super::lane_view::LaneView;
use crate::auth::ReadAccess;
use crate::db::{self, DEFAULT_PAGE, LaneStatus, MAX_PAGE, RowId};
use crate::error::ApiError;
use crate::links::Prefix;
use crate::query::{self, Params};
use crate::rows::branch_or_404;
use crate::state::AppState;

/// A page of branches, newest first.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct BranchList {
    /// The branches of this page.
    pub(crate) branches: Vec<Branch>,
    /// The address of the next page (`null`: this is the last).
    #[schema(required = true)]
    pub(crate) next: Option<String>,
}

/// A page of a branch's suites, newest first, each with its lanes.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SuiteList {
    /// The suites of this page.
    pub(crate) suites: Vec<Suite>,
    /// The address of the next page (`null`: this is the last).
    #[schema(required = true)]
    pub(crate) next: Option<String>,
}

/// The CI of one commit, all its lanes together (GitHub's combined status).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CommitStatus {
    /// The commit.
    pub(crate) sha: String,
    /// `none` (no lane), `failed` (one failed), `running` (one is queued
    /// or running), `passed` (all passed) or `cancelled` (the rest).
    pub(crate) state: CombinedState,
    /// How many lane runs are counted: the newest run of each lane.
    pub(crate) total_count: usize,
    /// The newest run of each lane of the commit's suites.
    pub(crate) lanes: Vec<LaneRun>,
}

/// One word for all of a commit's lanes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum CombinedState {
    /// No lane ran for it.
    None,
    /// A lane failed.
    Failed,
    /// A lane is queued or running, none failed.
    Running,
    /// Every lane passed.
    Passed,
    /// Lanes were cancelled, none failed, none still going.
    Cancelled,
}

impl CombinedState {
    /// The state of these lanes.
    fn of<'a>(lanes: impl IntoIterator<Item = &'a LaneStatus>) -> Self {
        let mut all = lanes.into_iter().peekable();
        if all.peek().is_none() {
            return Self::None;
        }
        let (mut going, mut cancelled, mut failed) = (false, false, false);
        for s in all {
            match s {
                LaneStatus::Failed => failed = true,
                LaneStatus::Queued | LaneStatus::Running => going = true,
                LaneStatus::Cancelled => cancelled = true,
                LaneStatus::Passed => {}
            }
        }
        match (failed, going, cancelled) {
            (true, _, _) => Self::Failed,
            (_, true, _) => Self::Running,
            (_, _, true) => Self::Cancelled,
            _ => Self::Passed,
        }
    }
}

/// `limit` (default [`DEFAULT_PAGE`], at most [`MAX_PAGE`]) and `cursor`
/// (a row id a page gave) of a list request.
fn page_params<T: RowId>(params: &Params) -> Result<(u32, Option<T>), ApiError> {
    for key in params.keys() {
        if !matches!(key.as_str(), "limit" | "cursor") {
            return Err(ApiError::BadRequest(format!(
                "unknown parameter {:?}: a list takes limit and cursor",
                query::shorten(key)
            )));
        }
    }
    let limit = match query::number(params, "limit")? {
        None => DEFAULT_PAGE,
        Some(n @ 1..) if n <= u64::from(MAX_PAGE) => n as u32,
        Some(n) => {
            return Err(ApiError::BadRequest(format!(
                "limit {n} is out of range: 1 to {MAX_PAGE}"
            )));
        }
    };
    let cursor = params
        .get("cursor")
        .map(|c| query::row_id("cursor", c))
        .transpose()?;
    Ok((limit, cursor))
}

/// `body` as JSON, with a `Link` header to `next` when there is a next page.
fn with_next<T: Serialize>(body: T, next: Option<&str>) -> Response {
    let mut response = Json(body).into_response();
    if let Some(next) = next
        && let Ok(link) = HeaderValue::from_str(&format!("<{next}>; rel=\"next\""))
    {
        response.headers_mut().insert(header::LINK, link);
    }
    response
}

/// `GET {prefix}/api/forge/branches`: branches, newest first, a page at a time.
pub(crate) async fn branches(
    _: ReadAccess,
    prefix: Prefix,
    State(state): State<AppState>,
    Query(params): Query<Params>,
) -> Result<Response, ApiError> {
    let (limit, cursor) = page_params(&params)?;
    let page = state.db.branches_page(cursor, limit).await?;
    let next = page.next.map(|id| {
        format!(
            "{}/api/forge/branches?limit={limit}&cursor={id}",
            prefix.as_str()
        )
    });
    let branches = page
        .items
        .into_iter()
        .map(|b| Branch::new(b, &state.repo))
        .collect();
    let n = next.clone();
    Ok(with_next(BranchList { branches, next }, n.as_deref()))
}

/// `GET {prefix}/api/forge/branch/{branch_id}/suites`: a branch's suites,
/// newest first, a page at a time, each with its lanes.
pub(crate) async fn suites(
    _: ReadAccess,
    prefix: Prefix,
    State(state): State<AppState>,
    Path(branch_id): Path<String>,
    Query(params): Query<Params>,
) -> Result<Response, ApiError> {
    let branch = branch_or_404(&state, &branch_id).await?;
    let (limit, cursor) = page_params(&params)?;
    let page = state.db.suites_page(branch.id, cursor, limit).await?;
    let next = page.next.map(|id| {
        format!(
            "{}/api/forge/branch/{}/suites?limit={limit}&cursor={id}",
            prefix.as_str(),
            branch.id
        )
    });
    let suites = page.items.into_iter().map(Suite::from).collect();
    let n = next.clone();
    Ok(with_next(SuiteList { suites, next }, n.as_deref()))
}

/// `GET {prefix}/api/forge/lane/{lane_run_id}`: one lane run.
pub(crate) async fn lane(
    _: ReadAccess,
    State(state): State<AppState>,
    Path(lane_run_id): Path<String>,
) -> Result<Json<LaneRun>, ApiError> {
    let id: db::LaneRunId = query::row_id("lane run id", &lane_run_id)?;
    let lane = state
        .db
        .lane(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("lane run {id} not found")))?;
    Ok(Json(LaneRun::from(LaneView::from(lane))))
}

/// `GET {prefix}/api/forge/commit/{sha}/status`: every lane of a commit as
/// one state, from the newest run of each lane.
pub(crate) async fn commit_status(
    _: ReadAccess,
    State(state): State<AppState>,
    Path(sha): Path<String>,
) -> Result<Json<CommitStatus>, ApiError> {
    let valid = (4..=64).contains(&sha.len()) && sha.bytes().all(|b| b.is_ascii_hexdigit());
    if !valid {
        return Err(ApiError::BadRequest(format!(
            "invalid commit {:?}: a full hexadecimal commit id",
            query::shorten(&sha)
        )));
    }
    let sha = sha.to_ascii_lowercase();
    let suites = state.db.suites_of_commit(&sha).await?;
    // The newest run of each lane (by its id), across the commit's suites.
    let mut by_lane: std::collections::BTreeMap<String, db::Lane> = Default::default();
    for lane in suites.into_iter().flat_map(|s| s.lanes) {
        match by_lane.get(&lane.lane) {
            Some(kept) if kept.id > lane.id => {}
            _ => {
                by_lane.insert(lane.lane.clone(), lane);
            }
        }
    }
    let mut newest: Vec<db::Lane> = by_lane.into_values().collect();
    newest.sort_by_key(|l| l.id);
    let state_word = CombinedState::of(newest.iter().map(|l| &l.status));
    Ok(Json(CommitStatus {
        sha,
        state: state_word,
        total_count: newest.len(),
        lanes: newest
            .into_iter()
            .map(|l| LaneRun::from(LaneView::from(l)))
            .collect(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_failed_lane_fails_the_commit_and_a_running_one_keeps_it_going() {
        use LaneStatus::*;
        assert_eq!(CombinedState::of(&[]), CombinedState::None);
        assert_eq!(CombinedState::of(&[Passed, Passed]), CombinedState::Passed);
        assert_eq!(
            CombinedState::of(&[Passed, Running]),
            CombinedState::Running
        );
        assert_eq!(CombinedState::of(&[Queued, Failed]), CombinedState::Failed);
        assert_eq!(
            CombinedState::of(&[Passed, Cancelled]),
            CombinedState::Cancelled
        );
        assert_eq!(
            CombinedState::of(&[Cancelled, Queued]),
            CombinedState::Running
        );
    }

    #[test]
    fn page_parameters_are_checked() {
        let p = |pairs: &[(&str, &str)]| -> Params {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        };
        let ok = page_params::<db::BranchId>(&p(&[])).unwrap();
        assert_eq!(ok, (DEFAULT_PAGE, None));
        let (limit, cursor) =
            page_params::<db::BranchId>(&p(&[("limit", "7"), ("cursor", "9")])).unwrap();
        assert_eq!(
            (limit, cursor.map(|c| c.to_string())),
            (7, Some("9".into()))
        );
        for bad in [
            p(&[("limit", "0")]),
            p(&[("limit", "201")]),
            p(&[("cursor", "-1")]),
            p(&[("cursor", "x")]),
            p(&[("page", "2")]),
        ] {
            let e = page_params::<db::BranchId>(&bad).unwrap_err();
            assert!(matches!(e, ApiError::BadRequest(_)), "{bad:?}: {e:?}");
        }
    }
}
