//! GitHub: connecting an account by the OAuth App web flow ([`oauth`]), listing the
//! repositories the user can push to and their branches ([`repos`]), and opening a pull
//! request from a code session's working branch ([`pulls`]). Everything goes through the
//! GitHub REST API with the user's own token ([`client`]); the token is stored encrypted like
//! every connection and never leaves this module except as a request header.

pub mod client;
mod oauth;
mod pulls;
mod repos;

use utoipa_axum::router::OpenApiRouter;
use uuid::Uuid;

use crate::connections::{Sealed, origin_of};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::state::AppState;
use axum::http::StatusCode;

pub use client::GithubError;
pub use oauth::revoke_grant;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(oauth::router())
        .merge(repos::router())
        .merge(pulls::router())
}

/// The user's GitHub account on the configured GitHub: the OAuth connection, else a personal
/// access token checked as GitHub on that host.
pub struct Account {
    pub connection: Uuid,
    pub login: String,
    pub token: String,
}

/// The origin connections to the configured GitHub are stored under (`https://github.com`).
pub fn web_origin(state: &AppState) -> Option<String> {
    url::Url::parse(&state.config.settings.github.url)
        .ok()
        .as_ref()
        .and_then(origin_of)
}

/// The caller's GitHub account with its token decrypted, or `github_not_connected` (409).
pub async fn account(state: &AppState, user: Uuid) -> AppResult<Account> {
    let not_connected = || AppError::Conflict {
        code: ErrorCode::GithubNotConnected,
        message: "connect GitHub first (Settings → Connections)".into(),
    };
    let (Some(keyring), Some(host)) = (state.config.keyring.as_ref(), web_origin(state)) else {
        return Err(not_connected());
    };
    let row: Option<(Uuid, String, Vec<u8>, String)> = sqlx::query_as(
        "SELECT id, login, secret, key_id FROM connections
         WHERE user_id = $1 AND host = $2 AND provider = 'github' AND kind IN ('github', 'pat')
         ORDER BY kind = 'github' DESC LIMIT 1",
    )
    .bind(user)
    .bind(&host)
    .fetch_optional(&state.db)
    .await?;
    let (id, login, data, key_id) = row.ok_or_else(not_connected)?;
    let token = keyring
        .open(user, id, &Sealed { key_id, data })
        .ok()
        .and_then(|t| String::from_utf8(t).ok())
        .ok_or_else(|| {
            tracing::warn!(connection = %id, "a stored GitHub token does not decrypt");
            AppError::from(GithubError::Unauthorized)
        })?;
    Ok(Account {
        connection: id,
        login,
        token,
    })
}

/// `github_unavailable`: no OAuth App configured.
fn unavailable(what: &str) -> AppError {
    AppError::Upstream {
        status: StatusCode::UNPROCESSABLE_ENTITY,
        code: ErrorCode::GithubUnavailable,
        message: format!("{what} is not configured on this deployment"),
    }
}

/// The commit author for a GitHub account: `<id>+<login>@users.noreply.github.com`, GitHub's
/// private address that still attributes the commit to the account.
pub fn noreply_email(account_id: &str, login: &str) -> String {
    format!("{account_id}+{login}@users.noreply.github.com")
}
