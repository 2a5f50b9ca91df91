//! `ph login`'s routes: `POST {prefix}/auth/challenge`,
//! `POST {prefix}/auth/verify`, and the admin's allowlist
//! (`GET`/`POST {prefix}/api/admin/allowlist`). The checks are
//! [`crate::login`]'s.

use axum::Json;
use axum::extract::State;
use axum::http::Uri;
use pika_news_core::login::Npub;
use serde::Deserialize;

use super::compat::dto::{Allowlist, AllowlistChanged, AllowlistEntry, LoginChallenge, LoginDone};
use crate::auth::AdminAccess;
use crate::db::{NpubEntry, Role};
use crate::error::ApiError;
use crate::login::LoginRefusal;
use crate::reads::blocking;
use crate::state::AppState;

/// `POST {prefix}/auth/challenge`.
pub(crate) async fn challenge(State(state): State<AppState>) -> Json<LoginChallenge> {
    let challenge = state.logins.challenge(state.db.clock().now());
    Json(LoginChallenge {
        challenge: challenge.nonce().to_owned(),
    })
}

/// The body of `POST {prefix}/auth/verify`: the signed event, as a JSON
/// text inside the JSON body (upstream's `VerifyRequest`).
#[derive(Debug, Deserialize)]
pub(crate) struct VerifyBody {
    event: String,
}

/// `POST {prefix}/auth/verify`.
pub(crate) async fn verify(
    State(state): State<AppState>,
    uri: Uri,
    Json(body): Json<VerifyBody>,
) -> Result<Json<LoginDone>, ApiError> {
    let path = uri.path().to_owned();
    let done = blocking(move || state.logins.log_in(&state.db, &body.event, &path)).await?;
    let done = done.map_err(|refusal| match refusal {
        LoginRefusal::Db(e) => ApiError::from(e),
        other => ApiError::LoginRefused(other.to_string()),
    })?;
    Ok(Json(LoginDone {
        token: done.token.secret,
        npub: done.npub.to_string(),
        is_admin: done.role == Role::Admin,
        can_forge_write: done.role >= Role::Write,
        expires_at: done.token.expires_at.to_string(),
    }))
}

fn shown(e: NpubEntry) -> AllowlistEntry {
    AllowlistEntry {
        can_forge_write: e.role >= Role::Write,
        role: e.role.as_str().to_owned(),
        npub: e.npub,
        active: e.active,
        note: e.note,
        updated_by: e.updated_by,
        updated_at: e.updated_at,
    }
}

/// `GET {prefix}/api/admin/allowlist`.
pub(crate) async fn allowlist(
    _: AdminAccess,
    State(state): State<AppState>,
) -> Result<Json<Allowlist>, ApiError> {
    let db = state.db.clone();
    let entries = blocking(move || db.list_npubs()).await??;
    Ok(Json(Allowlist {
        bootstrap_admin_npubs: state.logins.admins().map(Npub::to_string).collect(),
        entries: entries.into_iter().map(shown).collect(),
    }))
}

/// The body of `POST {prefix}/api/admin/allowlist` (upstream's
/// `AdminAllowlistUpsertRequest`).
#[derive(Debug, Deserialize)]
pub(crate) struct AllowlistUpsert {
    npub: String,
    note: Option<String>,
    active: bool,
    #[serde(default)]
    can_forge_write: bool,
}

/// `POST {prefix}/api/admin/allowlist`: adds or changes a key.
/// `can_forge_write` gives the write role (an admin entry stays admin),
/// its absence the read role; `active = false` also revokes the key's
/// tokens.
pub(crate) async fn set_allowlist(
    _: AdminAccess,
    State(state): State<AppState>,
    Json(body): Json<AllowlistUpsert>,
) -> Result<Json<AllowlistChanged>, ApiError> {
    let npub: Npub = body
        .npub
        .parse()
        .map_err(|e: pika_news_core::login::NpubError| ApiError::BadRequest(e.to_string()))?;
    if state.logins.is_configured_admin(&npub) {
        return Err(ApiError::BadRequest(format!(
            "{npub} is an admin by configuration (bootstrap_admin_npubs) and cannot be changed here"
        )));
    }
    let note = body
        .note
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty());
    let db = state.db.clone();
    let entry = blocking(move || {
        let current = db.npub_entry(&npub)?.map(|e| e.role);
        let role = match (current, body.can_forge_write) {
            (Some(Role::Admin), true) => Role::Admin,
            (_, true) => Role::Write,
            (_, false) => Role::Read,
        };
        db.set_npub(&npub, role, note.as_deref(), body.active, "api")
    })
    .await??;
    Ok(Json(AllowlistChanged {
        entry: shown(entry),
        backfilled: 0,
    }))
}
