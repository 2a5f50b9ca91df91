//! Query-string and path values parsed by hand, so every bad value gets a
//! clear 400: shared by the API and the pages.

use std::collections::HashMap;
use std::str::FromStr;

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query};
use pikaci_core::{IdError, LogFile, RunId};
use pikaci_store::LogRange;

use crate::db::RowId;
use crate::error::ApiError;

/// The query string as a map (the last value of a repeated key wins).
pub(crate) type Params = HashMap<String, String>;

/// A run id taken from the path (400 when it is not one).
pub(crate) fn parse_run_id(raw: &str) -> Result<RunId, ApiError> {
    raw.parse()
        .map_err(|e| ApiError::BadRequest(format!("invalid run id: {e}")))
}

/// An optional id-typed parameter.
pub(crate) fn id<T: FromStr<Err = IdError>>(
    params: &Params,
    key: &str,
) -> Result<Option<T>, ApiError> {
    params
        .get(key)
        .map(|v| {
            v.parse()
                .map_err(|e: IdError| ApiError::BadRequest(format!("invalid {key}: {e}")))
        })
        .transpose()
}

/// An optional unsigned number.
pub(crate) fn number(params: &Params, key: &str) -> Result<Option<u64>, ApiError> {
    params
        .get(key)
        .map(|v| {
            v.parse().map_err(|_| {
                ApiError::BadRequest(format!(
                    "{key} must be a whole number of bytes, not {:?}",
                    shorten(v)
                ))
            })
        })
        .transpose()
}

/// `kind=host|guest`: one log of a job (`guest` when left out).
pub(crate) fn one_log(params: &Params) -> Result<LogFile, ApiError> {
    match params.get("kind").map(String::as_str) {
        None | Some("guest") => Ok(LogFile::Guest),
        Some("host") => Ok(LogFile::Host),
        Some(other) => Err(ApiError::BadRequest(format!(
            "invalid kind {:?}: this route reads one log, host or guest",
            shorten(other)
        ))),
    }
}

/// An optional yes/no parameter: `1`/`true` or `0`/`false` (absent: no).
pub(crate) fn flag(params: &Params, key: &str) -> Result<bool, ApiError> {
    match params.get(key).map(String::as_str) {
        None | Some("0" | "false") => Ok(false),
        Some("1" | "true" | "") => Ok(true),
        Some(other) => Err(ApiError::BadRequest(format!(
            "{key} must be 1 or 0, not {:?}",
            shorten(other)
        ))),
    }
}

/// The byte range asked for by `tail`, `offset` and `limit`, by the one rule
/// of [`LogRange::from_parts`] (shared with `pikaci logs`): tail alone,
/// offset and/or limit, or nothing for the whole log (capped); tail with
/// offset or limit is a 400 that names the conflict.
pub(crate) fn range(params: &Params) -> Result<LogRange, ApiError> {
    LogRange::from_parts(
        number(params, "tail")?,
        number(params, "offset")?,
        number(params, "limit")?,
    )
    .map_err(|e| ApiError::BadRequest(format!("invalid range: {e}")))
}

/// A row id (a positive integer) from the path or the query; `what` names
/// it in the error.
pub(crate) fn row_id<T: RowId>(what: &str, v: &str) -> Result<T, ApiError> {
    v.parse().map_err(|_| {
        ApiError::BadRequest(format!(
            "invalid {what} {:?}: must be a positive integer",
            shorten(v)
        ))
    })
}

pub(crate) fn shorten(v: &str) -> String {
    let mut s: String = v.chars().take(64).collect();
    if s.len() < v.len() {
        s.push('…');
    }
    s
}

/// A page's path parameters, or a JSON 400 (axum's own rejection is text).
pub(crate) fn path_params<T>(p: Result<Path<T>, PathRejection>) -> Result<T, ApiError> {
    p.map(|Path(t)| t)
        .map_err(|_| ApiError::BadRequest("invalid path".into()))
}

/// A page's query string, or a JSON 400.
pub(crate) fn query_params<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    q.map(|Query(t)| t)
        .map_err(|_| ApiError::BadRequest("invalid query string".into()))
}
