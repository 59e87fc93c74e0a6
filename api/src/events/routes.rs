use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::StoredEvent;
use crate::auth::AuthUser;
use crate::error::{AppError, AppResult, ErrorBody, ErrorCode};
use crate::json::Json;
use crate::sessions::{owned_session, parse_id};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(stream))
        .routes(routes!(resume))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// Events after this seq (default 0: from the start).
    after: Option<i64>,
    /// At most this many, 1 to 5000 (default 1000; others are clamped).
    limit: Option<i64>,
}

#[derive(Serialize, ToSchema)]
struct EventPage {
    events: Vec<StoredEvent>,
}

/// The session's stored events in seq order.
#[utoipa::path(
    get, path = "/api/sessions/{id}/events", operation_id = "listEvents", tag = "events",
    params(("id" = Uuid, Path, description = "A session id"), ListQuery),
    responses(
        (status = 200, description = "Events", body = EventPage),
        (status = 404, description = "`not_found`", body = ErrorBody),
    ),
)]
async fn list(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<String>,
    Query(q): Query<ListQuery>,
) -> AppResult<Json<EventPage>> {
    let id = parse_id(&id)?;
    owned_session(&state, auth.user.id, id).await?;
    let after = q.after.unwrap_or(0).max(0);
    let limit = q.limit.unwrap_or(1000).clamp(1, 5000);
    let mut conn = state.db.acquire().await?;
    let events = super::list_after(&mut *conn, id, after, limit).await?;
    Ok(Json(EventPage { events }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
struct StreamQuery {
    /// Resume after this seq (a first connect; reconnects send the `Last-Event-ID` header).
    #[param(pattern = "^[0-9]{0,18}$")]
    last_event_id: Option<String>,
}

/// The resume point: `Last-Event-ID` (what EventSource sends on reconnect) wins over
/// `?lastEventId=` (for first connects). Anything but a non-negative integer is a 400.
pub fn resume_point(headers: &HeaderMap, query: Option<&str>) -> AppResult<i64> {
    let raw = headers
        .get("last-event-id")
        .map(|v| v.to_str().unwrap_or("invalid").to_string())
        .or_else(|| query.map(str::to_string));
    match raw {
        None => Ok(0),
        Some(v) if v.trim().is_empty() => Ok(0),
        Some(v) => v
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .ok_or_else(|| AppError::BadRequest {
                code: ErrorCode::InvalidLastEventId,
                message: "Last-Event-ID must be a non-negative integer (an event seq)".into(),
            }),
    }
}

/// The session's events as server-sent events: everything after the resume point, then live.
/// Each frame is `id: <seq>`, `event: <type>` and `data: <data>` (an `Event`'s `type` and
/// `data`); comments keep the connection alive.
#[utoipa::path(
    get, path = "/api/sessions/{id}/events/stream", operation_id = "streamEvents", tag = "events",
    params(
        ("id" = Uuid, Path, description = "A session id"),
        ("Last-Event-ID" = Option<String>, Header, pattern = "^[0-9]{0,18}$", description = "Resume after this seq (wins over `lastEventId`)"),
        StreamQuery,
    ),
    responses(
        (status = 200, content_type = "text/event-stream", body = crate::events::kinds::EventFrame,
            description = "Frames of `Event`s (see the `Event` schema) until the connection ends"),
        (status = 404, description = "`not_found`", body = ErrorBody),
    ),
)]
async fn stream(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<String>,
    headers: HeaderMap,
    Query(q): Query<StreamQuery>,
) -> AppResult<Response> {
    let id = parse_id(&id)?;
    let after = resume_point(&headers, q.last_event_id.as_deref())?;
    owned_session(&state, auth.user.id, id).await?;
    // A resume point past the end would wait for events that may never come (and `i64::MAX`
    // would overflow the next-seq arithmetic): refuse it at once.
    if after > 0 {
        let last: i64 = sqlx::query_scalar("SELECT last_seq FROM chat_sessions WHERE id = $1")
            .bind(id)
            .fetch_one(state.db.pool())
            .await?;
        if after > last {
            return Err(AppError::BadRequest {
                code: ErrorCode::InvalidLastEventId,
                message: format!("Last-Event-ID {after} is past the session's last event ({last})"),
            });
        }
    }
    let slot = super::stream_slot(&state, &auth)?;
    Ok(super::session_stream(state, id, after, slot))
}

/// The same stream as `streamEvents`, at the path clients of the original WebEDT resume on.
#[utoipa::path(
    get, path = "/api/resume/{id}", operation_id = "resumeEvents", tag = "events",
    params(
        ("id" = Uuid, Path, description = "A session id"),
        ("Last-Event-ID" = Option<String>, Header, pattern = "^[0-9]{0,18}$", description = "Resume after this seq (wins over `lastEventId`)"),
        StreamQuery,
    ),
    responses(
        (status = 200, content_type = "text/event-stream", body = crate::events::kinds::EventFrame,
            description = "Frames of `Event`s (see the `Event` schema) until the connection ends"),
        (status = 404, description = "`not_found`", body = ErrorBody),
    ),
)]
async fn resume(
    state: State<AppState>,
    auth: AuthUser,
    id: Path<String>,
    headers: HeaderMap,
    query: Query<StreamQuery>,
) -> AppResult<Response> {
    stream(state, auth, id, headers, query).await
}
