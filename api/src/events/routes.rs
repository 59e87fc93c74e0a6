use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::AuthUser;
use crate::error::{AppError, AppResult};
use crate::json::Json;
use crate::sessions::{owned_session, parse_id};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/sessions/{id}/events", get(list))
        .route("/api/sessions/{id}/events/stream", get(stream))
        .route("/api/resume/{id}", get(stream))
}

#[derive(Deserialize)]
struct ListQuery {
    after: Option<i64>,
    limit: Option<i64>,
}

async fn list(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<String>,
    Query(q): Query<ListQuery>,
) -> AppResult<Json<Value>> {
    let id = parse_id(&id)?;
    owned_session(&state, auth.user.id, id).await?;
    let after = q.after.unwrap_or(0).max(0);
    let limit = q.limit.unwrap_or(1000).clamp(1, 5000);
    let mut conn = state.db.acquire().await?;
    let events = super::list_after(&mut *conn, id, after, limit).await?;
    Ok(Json(json!({ "events": events })))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StreamQuery {
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
                code: "invalid_last_event_id",
                message: "Last-Event-ID must be a non-negative integer (an event seq)".into(),
            }),
    }
}

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
                code: "invalid_last_event_id",
                message: format!("Last-Event-ID {after} is past the session's last event ({last})"),
            });
        }
    }
    let slot = super::stream_slot(&state, &auth)?;
    Ok(super::session_stream(state, id, after, slot))
}
