//! Several sessions at once: move to the trash or restore up to [`MAX_IDS`] in one request,
//! and empty the caller's trash now (the same purge as the retention job, scoped to the caller).
//! Ids the caller does not own (another user's, unknown, not a UUID) answer `not_found` in
//! their place of the result and are never touched.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::retention;
use crate::auth::AuthUser;
use crate::error::{AppError, AppResult, ErrorBody};
use crate::json::Json;
use crate::state::AppState;

/// Ids per bulk request.
pub const MAX_IDS: usize = 100;

#[derive(Deserialize, Clone, Copy, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BulkAction {
    /// Move to the trash (already there: stays, with its first deletion time).
    Delete,
    /// Take out of the trash.
    Restore,
}

#[derive(Deserialize, ToSchema)]
pub struct BulkBody {
    pub action: BulkAction,
    /// Session ids, 1 to 100; duplicates count once.
    #[schema(min_items = 1, max_items = 100)]
    pub ids: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub struct BulkResult {
    pub id: String,
    /// `deleted`, `restored`, or `not_found` (not the caller's, unknown, or not a UUID).
    pub result: &'static str,
}

#[derive(Serialize, ToSchema)]
pub struct BulkResponse {
    /// One per distinct id, in the order given.
    pub results: Vec<BulkResult>,
}

/// Moves several of the caller's sessions to the trash, or restores them.
#[utoipa::path(
    post, path = "/api/sessions/bulk", operation_id = "bulkSessions", tag = "sessions",
    request_body = BulkBody,
    responses(
        (status = 200, description = "What happened to each id", body = BulkResponse),
        (status = 422, description = "`validation`: no ids, or more than 100", body = ErrorBody),
    ),
)]
pub async fn bulk(
    State(state): State<AppState>,
    auth: AuthUser,
    Json(body): Json<BulkBody>,
) -> AppResult<Json<BulkResponse>> {
    let mut ids: Vec<String> = Vec::with_capacity(body.ids.len());
    for id in body.ids {
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    if ids.is_empty() || ids.len() > MAX_IDS {
        return Err(AppError::validation(
            "ids",
            format!("must hold 1 to {MAX_IDS} session ids"),
        ));
    }
    let uuids: Vec<Uuid> = ids.iter().filter_map(|i| Uuid::parse_str(i).ok()).collect();
    // One statement: the update and one NOTIFY per changed session, delivered at commit.
    let (sql, done) = match body.action {
        BulkAction::Delete => (
            "WITH u AS (
                 UPDATE chat_sessions SET deleted_at = coalesce(deleted_at, now()), updated_at = now()
                 WHERE id = ANY($1) AND user_id = $2 RETURNING id
             ), n AS (
                 SELECT pg_notify('webedt_session_changes', $2::text || ':' || id::text || ':deleted') FROM u
             )
             SELECT id FROM u WHERE (SELECT count(*) FROM n) >= 0",
            "deleted",
        ),
        BulkAction::Restore => (
            "WITH u AS (
                 UPDATE chat_sessions SET deleted_at = NULL, updated_at = now()
                 WHERE id = ANY($1) AND user_id = $2 RETURNING id
             ), n AS (
                 SELECT pg_notify('webedt_session_changes', $2::text || ':' || id::text || ':restored') FROM u
             )
             SELECT id FROM u WHERE (SELECT count(*) FROM n) >= 0",
            "restored",
        ),
    };
    let changed: Vec<Uuid> = if uuids.is_empty() {
        Vec::new()
    } else {
        let mut conn = state.db.acquire().await?;
        sqlx::query_scalar(sql)
            .bind(&uuids)
            .bind(auth.user.id)
            .fetch_all(&mut *conn)
            .await?
    };
    let results = ids
        .into_iter()
        .map(|id| {
            let hit = Uuid::parse_str(&id).is_ok_and(|u| changed.contains(&u));
            BulkResult {
                id,
                result: if hit { done } else { "not_found" },
            }
        })
        .collect();
    Ok(Json(BulkResponse { results }))
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EmptiedTrash {
    /// Sessions removed for good, with their events.
    pub purged_sessions: u64,
}

/// Empties the caller's trash now: its sessions and their events are removed for good.
#[utoipa::path(
    post, path = "/api/sessions/trash/empty", operation_id = "emptyTrash", tag = "sessions",
    responses((status = 200, description = "Emptied", body = EmptiedTrash)),
)]
pub async fn empty_trash(
    State(state): State<AppState>,
    auth: AuthUser,
) -> AppResult<Json<EmptiedTrash>> {
    let purged = retention::purge_user_trash(&state.db, auth.user.id).await?;
    if purged > 0 {
        // No single session to name: the nil id makes every tab of the caller refetch its list.
        super::notify_change(state.db.pool(), auth.user.id, Uuid::nil(), "purged").await?;
    }
    Ok(Json(EmptiedTrash {
        purged_sessions: purged,
    }))
}
