use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::resolve;
use crate::auth::{AuthUser, token};
use crate::error::{AppError, AppResult, ErrorBody, ErrorCode};
use crate::events::StoredEvent;
use crate::json::Json;
use crate::sessions::{owned_session, parse_id};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(show_share, create_share, revoke_share))
        .routes(routes!(shared_session))
        .routes(routes!(shared_events))
        .routes(routes!(shared_stream))
}

fn audit(action: &'static str, user: Uuid, session: Uuid) -> crate::audit::Entry {
    crate::audit::Entry {
        action,
        actor: Some(user),
        subject: Some(session),
        ..Default::default()
    }
}

/// A session's link, as its owner sees it (the token itself is shown only when it is created).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct ShareInfo {
    created_at: DateTime<Utc>,
}

/// A new link: `token` is shown this once (only its hash is kept).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct CreatedShare {
    /// Send it as `X-Share-Token` to the `/api/shared…` routes.
    token: String,
    /// The page to hand out: `/shared#<token>` (the fragment never reaches a server).
    path: String,
    created_at: DateTime<Utc>,
}

/// Whether the caller's session has a link, and since when.
#[utoipa::path(
    get, path = "/api/sessions/{id}/share", operation_id = "getShare", tag = "shares",
    params(("id" = Uuid, Path, description = "A session id")),
    responses(
        (status = 200, description = "The session has a link", body = ShareInfo),
        (status = 404, description = "`not_found`: no link, or not the caller's session", body = ErrorBody),
    ),
)]
async fn show_share(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<String>,
) -> AppResult<Json<ShareInfo>> {
    let id = parse_id(&id)?;
    let mut conn = state.db.acquire().await?;
    let created_at: DateTime<Utc> = sqlx::query_scalar(
        "SELECT sh.created_at FROM session_shares sh JOIN chat_sessions s ON s.id = sh.chat_session_id
         WHERE sh.chat_session_id = $1 AND s.user_id = $2",
    )
    .bind(id)
    .bind(auth.user.id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(AppError::NotFound)?;
    Ok(Json(ShareInfo { created_at }))
}

/// Creates the session's read-only link; a link it had stops working (its streams end).
#[utoipa::path(
    post, path = "/api/sessions/{id}/share", operation_id = "createShare", tag = "shares",
    params(("id" = Uuid, Path, description = "A session id")),
    responses(
        (status = 201, description = "Created; the token is shown only now", body = CreatedShare),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`session_deleted`: the session is in the trash", body = ErrorBody),
    ),
)]
async fn create_share(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<String>,
) -> AppResult<(StatusCode, Json<CreatedShare>)> {
    let id = parse_id(&id)?;
    let session = owned_session(&state, auth.user.id, id).await?;
    if session.deleted_at.is_some() {
        return Err(AppError::Conflict {
            code: ErrorCode::SessionDeleted,
            message: "the session is in the trash: restore it to share it".into(),
        });
    }
    let token = token::generate();
    let key = super::key(&state, &token.0);
    let mut conn = state.db.acquire().await?;
    let mut tx = conn.begin().await?;
    // The old row's delete trigger ends the old link's streams everywhere.
    sqlx::query("DELETE FROM session_shares WHERE chat_session_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    let created_at: DateTime<Utc> = sqlx::query_scalar(
        "INSERT INTO session_shares (id, chat_session_id, token_key)
         SELECT $1, id, $3 FROM chat_sessions WHERE id = $2 AND user_id = $4 AND deleted_at IS NULL
         RETURNING created_at",
    )
    .bind(Uuid::new_v4())
    .bind(id)
    .bind(&key[..])
    .bind(auth.user.id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(AppError::NotFound)?;
    tx.commit().await?;
    crate::audit::record(&state, audit("share_created", auth.user.id, id)).await;
    let path = format!("/shared#{}", token.0);
    Ok((
        StatusCode::CREATED,
        Json(CreatedShare {
            token: token.0,
            path,
            created_at,
        }),
    ))
}

/// Revokes the session's link at once: its page stops loading and its open streams end, on
/// every replica. No link: nothing to do (still 204).
#[utoipa::path(
    delete, path = "/api/sessions/{id}/share", operation_id = "revokeShare", tag = "shares",
    params(("id" = Uuid, Path, description = "A session id")),
    responses(
        (status = 204, description = "Revoked (or there was none)"),
        (status = 404, description = "`not_found`", body = ErrorBody),
    ),
)]
async fn revoke_share(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<String>,
) -> AppResult<StatusCode> {
    let id = parse_id(&id)?;
    owned_session(&state, auth.user.id, id).await?;
    let mut conn = state.db.acquire().await?;
    let revoked = sqlx::query(
        "DELETE FROM session_shares sh USING chat_sessions s
         WHERE sh.chat_session_id = $1 AND s.id = sh.chat_session_id AND s.user_id = $2",
    )
    .bind(id)
    .bind(auth.user.id)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if revoked > 0 {
        crate::audit::record(&state, audit("share_revoked", auth.user.id, id)).await;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// What a link shows of its session: no owner, no id, nothing of the account.
#[derive(Serialize, ToSchema, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
struct SharedSession {
    title: String,
    /// `idle`, `running`, `completed`, `error` or `interrupted`.
    status: String,
    provider: String,
    model: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

/// The shared session (read-only, no login: the link's token is the credential).
#[utoipa::path(
    get, path = "/api/shared", operation_id = "getSharedSession", tag = "shares", security(()),
    params(("X-Share-Token" = String, Header, description = "The token of a share link (`/shared#<token>`)")),
    responses(
        (status = 200, description = "The session", body = SharedSession),
        (status = 404, description = "`not_found`: no such link (revoked, or the session is in the trash)", body = ErrorBody),
    ),
)]
async fn shared_session(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> AppResult<Json<SharedSession>> {
    let share = resolve(&state, &headers).await?;
    let mut conn = state.db.acquire().await?;
    let session: SharedSession = sqlx::query_as(
        "SELECT title, status, provider, model, created_at, updated_at FROM chat_sessions WHERE id = $1",
    )
    .bind(share.session)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(AppError::NotFound)?;
    Ok(Json(session))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct EventsQuery {
    /// Events after this seq (default 0: from the start).
    after: Option<i64>,
    /// At most this many, 1 to 5000 (default 1000; others are clamped).
    limit: Option<i64>,
}

#[derive(Serialize, ToSchema)]
struct SharedEventPage {
    events: Vec<StoredEvent>,
}

/// The shared session's events in seq order.
#[utoipa::path(
    get, path = "/api/shared/events", operation_id = "listSharedEvents", tag = "shares", security(()),
    params(
        ("X-Share-Token" = String, Header, description = "The token of a share link"),
        EventsQuery,
    ),
    responses(
        (status = 200, description = "Events", body = SharedEventPage),
        (status = 404, description = "`not_found`: no such link", body = ErrorBody),
    ),
)]
async fn shared_events(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<EventsQuery>,
) -> AppResult<Json<SharedEventPage>> {
    let share = resolve(&state, &headers).await?;
    let after = q.after.unwrap_or(0).max(0);
    let limit = q.limit.unwrap_or(1000).clamp(1, 5000);
    let mut conn = state.db.acquire().await?;
    let events = crate::events::list_after(&mut *conn, share.session, after, limit).await?;
    Ok(Json(SharedEventPage { events }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
struct StreamQuery {
    /// Resume after this seq (a first connect; reconnects send the `Last-Event-ID` header).
    #[param(pattern = "^[0-9]{0,18}$")]
    last_event_id: Option<String>,
}

/// The shared session's events as server-sent events, replayed then live, exactly as
/// `streamEvents`; ends when the link is revoked. At most `LIMIT_STREAMS_PER_SHARE` open per
/// link on one replica (then 429 `stream_limit`).
#[utoipa::path(
    get, path = "/api/shared/events/stream", operation_id = "streamSharedEvents", tag = "shares", security(()),
    params(
        ("X-Share-Token" = String, Header, description = "The token of a share link"),
        ("Last-Event-ID" = Option<String>, Header, pattern = "^[0-9]{0,18}$", description = "Resume after this seq (wins over `lastEventId`)"),
        StreamQuery,
    ),
    responses(
        (status = 200, content_type = "text/event-stream", body = crate::events::kinds::EventFrame,
            description = "Frames of `Event`s (see the `Event` schema) until the run ends or the link is revoked"),
        (status = 404, description = "`not_found`: no such link", body = ErrorBody),
        (status = 429, description = "`stream_limit`: too many open streams of this link", body = ErrorBody),
    ),
)]
async fn shared_stream(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<StreamQuery>,
) -> AppResult<Response> {
    let after = crate::events::resume_point(&headers, q.last_event_id.as_deref())?;
    let share = resolve(&state, &headers).await?;
    if after > 0 {
        let last: i64 = sqlx::query_scalar("SELECT last_seq FROM chat_sessions WHERE id = $1")
            .bind(share.session)
            .fetch_one(state.db.pool())
            .await?;
        if after > last {
            return Err(AppError::BadRequest {
                code: ErrorCode::InvalidLastEventId,
                message: format!("Last-Event-ID {after} is past the session's last event ({last})"),
            });
        }
    }
    let limit = state.config.settings.shares.streams_per_share;
    let slot = state
        .hub
        .share_streams
        .open(share.id, share.id, limit)
        .ok_or_else(|| {
            crate::audit::limit_hit(&state, None, None, "streams_per_share");
            AppError::LimitReached {
                code: ErrorCode::StreamLimit,
                message: format!(
                    "at most {limit} open streams per share link on one server; retry later"
                ),
                retry_after_secs: 5,
            }
        })?;
    // Registered first, checked second: a revocation that committed before the check is seen
    // here, one that commits after it ends this slot through its NOTIFY.
    let live: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM session_shares WHERE id = $1)")
            .bind(share.id)
            .fetch_one(state.db.pool())
            .await?;
    if !live {
        return Err(AppError::NotFound);
    }
    Ok(crate::events::session_stream(
        state,
        share.session,
        after,
        slot,
    ))
}
