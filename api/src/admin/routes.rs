//! `/api/admin/*`: list and search users, disable and enable them, end their runs, read the
//! audit log. Every route takes [`Admin`], which refuses anyone whose account is not an admin.

use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::audit::Entry;
use crate::auth::{AuthUser, ClientIp};
use crate::error::{AppError, AppResult, ErrorBody, ErrorCode};
use crate::json::Json;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_users))
        .routes(routes!(disable))
        .routes(routes!(enable))
        .routes(routes!(stop_runs))
        .routes(routes!(audit_log))
}

/// An authenticated admin: 401 without a session, 403 `admin_required` for everyone else.
pub struct Admin(pub AuthUser);

impl FromRequestParts<AppState> for Admin {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let user = AuthUser::from_request_parts(parts, state).await?;
        if !user.user.is_admin {
            return Err(AppError::Forbidden {
                code: ErrorCode::AdminRequired,
                message: "this needs an administrator".into(),
            });
        }
        Ok(Self(user))
    }
}

fn user_id(raw: &str) -> AppResult<Uuid> {
    Uuid::parse_str(raw).map_err(|_| AppError::NotFound)
}

fn entry(action: &'static str, admin: &AuthUser, subject: Uuid, ip: &str) -> Entry {
    Entry {
        action,
        actor: Some(admin.user.id),
        subject: Some(subject),
        ip: Some(ip.to_owned()),
        ..Default::default()
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct UsersQuery {
    /// Part of an email or display name.
    q: Option<String>,
    /// Page size, 1 to 200 (default 50; others are clamped).
    limit: Option<i64>,
    /// The email of the last user of the previous page.
    after: Option<String>,
}

#[derive(Serialize, sqlx::FromRow, ToSchema)]
#[serde(rename_all = "camelCase")]
struct UserRow {
    id: Uuid,
    email: String,
    display_name: Option<String>,
    is_admin: bool,
    created_at: DateTime<Utc>,
    disabled_at: Option<DateTime<Utc>>,
    active_sessions: i64,
    running_runs: i64,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct UserPage {
    users: Vec<UserRow>,
    /// `after` for the next page; `null` on the last.
    next_after: Option<String>,
}

/// Users by email, optionally searched.
#[utoipa::path(
    get, path = "/api/admin/users", operation_id = "adminListUsers", tag = "admin",
    params(UsersQuery),
    responses((status = 200, description = "A page of users", body = UserPage)),
)]
async fn list_users(
    State(state): State<AppState>,
    _admin: Admin,
    Query(q): Query<UsersQuery>,
) -> AppResult<Json<UserPage>> {
    let search = q.q.as_deref().map(str::trim).filter(|s| !s.is_empty());
    if let Some(s) = search {
        crate::validate::text("q", s, 254)?;
    }
    if let Some(a) = &q.after {
        crate::validate::text("after", a, 254)?;
    }
    let limit = q.limit.unwrap_or(50).clamp(1, 200);
    // `%` and `_` in the search are literal.
    let pattern = search.map(|s| {
        format!(
            "%{}%",
            s.to_lowercase()
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        )
    });
    let mut conn = state.db.acquire().await?;
    let users: Vec<UserRow> = sqlx::query_as(
        "SELECT u.id, u.email, u.display_name, u.is_admin, u.created_at, u.disabled_at,
                (SELECT count(*) FROM auth_sessions s WHERE s.user_id = u.id AND s.expires_at > now())
                    AS active_sessions,
                (SELECT count(*) FROM active_runs a JOIN chat_sessions c ON c.id = a.chat_session_id
                  WHERE c.user_id = u.id) AS running_runs
         FROM users u
         WHERE ($1::text IS NULL OR u.email LIKE $1 OR lower(coalesce(u.display_name, '')) LIKE $1)
           AND ($2::text IS NULL OR u.email > $2)
         ORDER BY u.email LIMIT $3",
    )
    .bind(&pattern)
    .bind(&q.after)
    .bind(limit + 1)
    .fetch_all(&mut *conn)
    .await?;
    let mut users = users;
    let next = if users.len() as i64 > limit {
        users.truncate(limit as usize);
        users.last().map(|u| u.email.clone())
    } else {
        None
    };
    Ok(Json(UserPage {
        users,
        next_after: next,
    }))
}

/// Disables the account and ends every one of its sessions in the same transaction: every
/// replica refuses its cookies from the commit on, and the sessions' delete trigger ends their
/// open streams everywhere.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct Disabled {
    disabled: bool,
    /// Login sessions ended.
    ended_sessions: u64,
}

#[utoipa::path(
    post, path = "/api/admin/users/{id}/disable", operation_id = "adminDisableUser", tag = "admin",
    params(("id" = Uuid, Path, description = "A user id")),
    responses(
        (status = 200, description = "Disabled; every login session ended", body = Disabled),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`cannot_disable_self`", body = ErrorBody),
    ),
)]
async fn disable(
    State(state): State<AppState>,
    Admin(admin): Admin,
    ClientIp(ip): ClientIp,
    Path(id): Path<String>,
) -> AppResult<Json<Disabled>> {
    let id = user_id(&id)?;
    if id == admin.user.id {
        return Err(AppError::Conflict {
            code: ErrorCode::CannotDisableSelf,
            message: "an administrator cannot disable their own account".into(),
        });
    }
    let mut conn = state.db.acquire().await?;
    let mut tx = conn.begin().await?;
    let found: Option<Uuid> = sqlx::query_scalar(
        "UPDATE users SET disabled_at = coalesce(disabled_at, now()) WHERE id = $1 RETURNING id",
    )
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    if found.is_none() {
        return Err(AppError::NotFound);
    }
    let ended = sqlx::query("DELETE FROM auth_sessions WHERE user_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    tx.commit().await?;
    drop(conn);
    let mut e = entry("user_disabled", &admin, id, &ip);
    e.detail = json!({ "endedSessions": ended });
    crate::audit::record(&state, e).await;
    Ok(Json(Disabled {
        disabled: true,
        ended_sessions: ended,
    }))
}

#[derive(Serialize, ToSchema)]
struct Enabled {
    disabled: bool,
}

#[utoipa::path(
    post, path = "/api/admin/users/{id}/enable", operation_id = "adminEnableUser", tag = "admin",
    params(("id" = Uuid, Path, description = "A user id")),
    responses(
        (status = 200, description = "Enabled", body = Enabled),
        (status = 404, description = "`not_found`", body = ErrorBody),
    ),
)]
async fn enable(
    State(state): State<AppState>,
    Admin(admin): Admin,
    ClientIp(ip): ClientIp,
    Path(id): Path<String>,
) -> AppResult<Json<Enabled>> {
    let id = user_id(&id)?;
    let mut conn = state.db.acquire().await?;
    let found: Option<Uuid> =
        sqlx::query_scalar("UPDATE users SET disabled_at = NULL WHERE id = $1 RETURNING id")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
    drop(conn);
    found.ok_or(AppError::NotFound)?;
    crate::audit::record(&state, entry("user_enabled", &admin, id, &ip)).await;
    Ok(Json(Enabled { disabled: false }))
}

/// Asks every run of the user, on whatever replica, to stop (as the user's own stop button).
#[derive(Serialize, ToSchema)]
struct Stopping {
    /// Runs asked to stop.
    stopping: u64,
}

#[utoipa::path(
    post, path = "/api/admin/users/{id}/runs/stop", operation_id = "adminStopUserRuns", tag = "admin",
    params(("id" = Uuid, Path, description = "A user id")),
    responses(
        (status = 202, description = "The user's runs are stopping", body = Stopping),
        (status = 404, description = "`not_found`", body = ErrorBody),
    ),
)]
async fn stop_runs(
    State(state): State<AppState>,
    Admin(admin): Admin,
    ClientIp(ip): ClientIp,
    Path(id): Path<String>,
) -> AppResult<(StatusCode, Json<Stopping>)> {
    let id = user_id(&id)?;
    let mut conn = state.db.acquire().await?;
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM users WHERE id = $1)")
        .bind(id)
        .fetch_one(&mut *conn)
        .await?;
    if !exists {
        return Err(AppError::NotFound);
    }
    let sessions: Vec<Uuid> = sqlx::query_scalar(
        "SELECT a.chat_session_id FROM active_runs a
         JOIN chat_sessions c ON c.id = a.chat_session_id WHERE c.user_id = $1",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    drop(conn);
    let mut stopping = 0;
    for session in &sessions {
        if crate::runs::interrupt(&state, *session).await? {
            stopping += 1;
        }
    }
    let mut e = entry("user_runs_stopped", &admin, id, &ip);
    e.detail = json!({ "runs": stopping });
    crate::audit::record(&state, e).await;
    Ok((StatusCode::ACCEPTED, Json(Stopping { stopping })))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
struct AuditQuery {
    action: Option<String>,
    /// Entries by or about this user.
    user: Option<Uuid>,
    /// Entries older than this id (the `nextBefore` of the previous page).
    before: Option<i64>,
    /// Page size, 1 to 500 (default 100; others are clamped).
    limit: Option<i64>,
}

#[derive(Serialize, sqlx::FromRow, ToSchema)]
#[serde(rename_all = "camelCase")]
struct AuditRow {
    id: i64,
    at: DateTime<Utc>,
    action: String,
    actor_id: Option<Uuid>,
    actor_email: Option<String>,
    subject_id: Option<Uuid>,
    subject_email: Option<String>,
    email: Option<String>,
    ip: Option<String>,
    replica: String,
    detail: Value,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct AuditPage {
    entries: Vec<AuditRow>,
    /// `before` for the next page; `null` on the last.
    next_before: Option<i64>,
}

/// The audit log, newest first.
#[utoipa::path(
    get, path = "/api/admin/audit", operation_id = "adminAuditLog", tag = "admin",
    params(AuditQuery),
    responses((status = 200, description = "A page of entries", body = AuditPage)),
)]
async fn audit_log(
    State(state): State<AppState>,
    _admin: Admin,
    Query(q): Query<AuditQuery>,
) -> AppResult<Json<AuditPage>> {
    if let Some(a) = &q.action {
        crate::validate::text("action", a, 64)?;
    }
    let limit = q.limit.unwrap_or(100).clamp(1, 500);
    let mut conn = state.db.acquire().await?;
    let mut rows: Vec<AuditRow> = sqlx::query_as(
        "SELECT l.id, l.at, l.action, l.actor_id, a.email AS actor_email, l.subject_id,
                s.email AS subject_email, l.email, l.ip, l.replica, l.detail
         FROM audit_log l
         LEFT JOIN users a ON a.id = l.actor_id
         LEFT JOIN users s ON s.id = l.subject_id
         WHERE ($1::text IS NULL OR l.action = $1)
           AND ($2::uuid IS NULL OR l.actor_id = $2 OR l.subject_id = $2)
           AND ($3::bigint IS NULL OR l.id < $3)
         ORDER BY l.id DESC LIMIT $4",
    )
    .bind(&q.action)
    .bind(q.user)
    .bind(q.before)
    .bind(limit + 1)
    .fetch_all(&mut *conn)
    .await?;
    let next = if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|r| r.id)
    } else {
        None
    };
    Ok(Json(AuditPage {
        entries: rows,
        next_before: next,
    }))
}
