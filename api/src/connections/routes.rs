use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::hosts::{self, CheckError, Provider};
use super::{MAX_PER_USER, Sealed, origin_of};
use crate::auth::AuthUser;
use crate::error::{AppError, AppResult, ErrorBody, ErrorCode};
use crate::json::Json;
use crate::outbound::OutboundError;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(delete))
}

/// A stored connection as clients see it: never the token.
#[derive(Debug, Serialize, sqlx::FromRow, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Connection {
    pub id: Uuid,
    /// `pat` (a personal access token), `github` (connected with GitHub sign-in) or `ai_key`
    /// (the user's own AI provider key).
    pub kind: String,
    /// The API the host speaks: `github`, `gitlab` or `gitea`; for `ai_key`: `anthropic` or
    /// `openai`.
    pub provider: String,
    /// `https://host[:port]`; for `ai_key`: the API's base URL.
    pub host: String,
    /// Who the token belongs to, as the host reported it; for `ai_key`: the model its runs use
    /// by default (empty: none chosen).
    pub login: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CreateBody {
    /// The git host: `github.com`, `https://gitlab.example.com`, …
    #[schema(min_length = 1, max_length = 300)]
    host: String,
    /// A personal access token; checked with the host, stored encrypted, never shown again.
    #[schema(min_length = 1, max_length = 1000)]
    token: String,
    /// The host's API; default: detected by trying each.
    provider: Option<Provider>,
}

#[derive(Serialize, ToSchema)]
struct ConnectionList {
    connections: Vec<Connection>,
}

fn unprocessable(code: ErrorCode, field: &'static str, message: impl Into<String>) -> AppError {
    AppError::Unprocessable {
        code,
        field,
        message: message.into(),
    }
}

/// `github.com` or `https://host[:port]` (a path is ignored) → the origin URL.
fn parse_host(raw: &str) -> AppResult<url::Url> {
    let bad = || {
        unprocessable(
            ErrorCode::Validation,
            "host",
            "host: is not a host name or URL",
        )
    };
    let raw = raw.trim();
    if raw.is_empty() || raw.len() > 300 || raw.chars().any(|c| c.is_control() || c == ' ') {
        return Err(bad());
    }
    let with_scheme = if raw.contains("://") {
        raw.to_string()
    } else {
        format!("https://{raw}")
    };
    let url = url::Url::parse(&with_scheme).map_err(|_| bad())?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(unprocessable(
            ErrorCode::Validation,
            "host",
            "host: must not carry credentials",
        ));
    }
    let origin = origin_of(&url).ok_or_else(bad)?;
    url::Url::parse(&origin).map_err(|_| bad())
}

fn check_error(e: CheckError) -> AppError {
    match e {
        CheckError::Outbound(OutboundError::NotHttps) => unprocessable(
            ErrorCode::HostForbidden,
            "host",
            "host: only https:// hosts can be connected",
        ),
        CheckError::Outbound(e @ OutboundError::Forbidden { .. }) => {
            unprocessable(ErrorCode::HostForbidden, "host", format!("host: {e}"))
        }
        CheckError::Outbound(e @ OutboundError::Unresolvable(_)) => {
            unprocessable(ErrorCode::HostUnreachable, "host", format!("host: {e}"))
        }
        CheckError::Unreachable => unprocessable(
            ErrorCode::HostUnreachable,
            "host",
            "host: could not be reached",
        ),
        CheckError::Unrecognized => unprocessable(
            ErrorCode::HostUnrecognized,
            "provider",
            "host: does not answer like GitHub, GitLab or Gitea; pick the provider",
        ),
        CheckError::Rejected => unprocessable(
            ErrorCode::TokenRejected,
            "token",
            "token: the host did not accept it (wrong, expired or missing the read:user scope)",
        ),
    }
}

/// Connects a git host with a personal access token, after checking the token with the host's
/// user API. One connection per host: connect again after deleting to replace a token.
#[utoipa::path(
    post, path = "/api/connections", operation_id = "createConnection", tag = "connections",
    request_body = CreateBody,
    responses(
        (status = 201, description = "Connected", body = Connection, links(
            ("deleteConnection" = (operation_id = "deleteConnection", parameters(("id" = "$response.body#/id")))),
        )),
        (status = 409, description = "`connection_exists`, `connection_limit`", body = ErrorBody),
        (status = 422, description = "`validation`, `host_forbidden`, `host_unreachable`, `host_unrecognized`, `token_rejected`, `connections_unavailable`", body = ErrorBody),
    ),
)]
async fn create(
    State(state): State<AppState>,
    auth: AuthUser,
    Json(body): Json<CreateBody>,
) -> AppResult<(StatusCode, Json<Connection>)> {
    let keyring = state.config.keyring.as_ref().ok_or_else(|| {
        unprocessable(
            ErrorCode::ConnectionsUnavailable,
            "host",
            "connections are not configured on this deployment (CREDENTIALS_KEYS)",
        )
    })?;
    let origin = parse_host(&body.host)?;
    let token = body.token.trim();
    if token.is_empty() || token.len() > 1000 || !token.chars().all(|c| c.is_ascii_graphic()) {
        // The message describes the rule only: the value is a secret.
        return Err(unprocessable(
            ErrorCode::Validation,
            "token",
            "token: must be 1 to 1000 printable characters",
        ));
    }
    let host = origin_of(&origin).expect("parsed with a host");
    let user = auth.user.id;
    let (count, exists): (i64, bool) = sqlx::query_as(
        "SELECT count(*), coalesce(bool_or(host = $2 AND kind = 'pat'), false)
         FROM connections WHERE user_id = $1",
    )
    .bind(user)
    .bind(&host)
    .fetch_one(&state.db)
    .await?;
    if exists {
        return Err(AppError::Conflict {
            code: ErrorCode::ConnectionExists,
            message: format!("{host} is already connected; delete that connection first"),
        });
    }
    if count >= MAX_PER_USER {
        return Err(AppError::Conflict {
            code: ErrorCode::ConnectionLimit,
            message: format!("at most {MAX_PER_USER} connections per user"),
        });
    }
    let identity = hosts::check(&state.config.outbound, &origin, body.provider, token)
        .await
        .map_err(check_error)?;
    let id = Uuid::new_v4();
    let sealed = keyring.seal(user, id, token.as_bytes());
    let inserted: Option<Connection> = sqlx::query_as(
        "INSERT INTO connections (id, user_id, kind, provider, host, login, secret, key_id, account_id)
         SELECT $1, $2, 'pat', $3, $4, $5, $6, $7, $9
         WHERE (SELECT count(*) FROM connections WHERE user_id = $2) < $8
         ON CONFLICT (user_id, kind, host) DO NOTHING
         RETURNING id, kind, provider, host, login, created_at",
    )
    .bind(id)
    .bind(user)
    .bind(identity.provider.as_str())
    .bind(&host)
    .bind(&identity.login)
    .bind(&sealed.data)
    .bind(&sealed.key_id)
    .bind(MAX_PER_USER)
    .bind(&identity.account_id)
    .fetch_optional(&state.db)
    .await?;
    // Lost a race with a concurrent request for the same host (or the last free slot).
    let connection = inserted.ok_or_else(|| AppError::Conflict {
        code: ErrorCode::ConnectionExists,
        message: format!("{host} is already connected, or the connection limit is reached"),
    })?;
    tracing::info!(connection = %connection.id, host = %host, provider = identity.provider.as_str(), "connection created");
    Ok((StatusCode::CREATED, Json(connection)))
}

/// The caller's connections, newest first. Tokens are never returned.
#[utoipa::path(
    get, path = "/api/connections", operation_id = "listConnections", tag = "connections",
    responses((status = 200, description = "The connections", body = ConnectionList)),
)]
async fn list(State(state): State<AppState>, auth: AuthUser) -> AppResult<Json<ConnectionList>> {
    let connections = sqlx::query_as(
        "SELECT id, kind, provider, host, login, created_at FROM connections
         WHERE user_id = $1 ORDER BY created_at DESC, id",
    )
    .bind(auth.user.id)
    .fetch_all(&state.db)
    .await?;
    Ok(Json(ConnectionList { connections }))
}

/// Deletes one of the caller's connections and its stored token; for a `github` connection
/// also revokes the OAuth grant at GitHub (best effort).
#[utoipa::path(
    delete, path = "/api/connections/{id}", operation_id = "deleteConnection", tag = "connections",
    params(("id" = Uuid, Path, description = "A connection id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "`not_found`", body = ErrorBody),
    ),
)]
async fn delete(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<String>,
) -> AppResult<StatusCode> {
    let id = Uuid::parse_str(&id).map_err(|_| AppError::NotFound)?;
    let deleted: Option<(String, Vec<u8>, String)> = sqlx::query_as(
        "DELETE FROM connections WHERE id = $1 AND user_id = $2 RETURNING kind, secret, key_id",
    )
    .bind(id)
    .bind(auth.user.id)
    .fetch_optional(&state.db)
    .await?;
    let (kind, data, key_id) = deleted.ok_or(AppError::NotFound)?;
    // A GitHub OAuth connection: also revoke the grant, so the token is dead at GitHub too.
    if kind == "github"
        && let Some(keyring) = state.config.keyring.as_ref()
        && let Ok(token) = keyring.open(auth.user.id, id, &Sealed { key_id, data })
    {
        crate::github::revoke_grant(&state, &String::from_utf8_lossy(&token)).await;
    }
    Ok(StatusCode::NO_CONTENT)
}
