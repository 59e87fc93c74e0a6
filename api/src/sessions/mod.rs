//! Chat sessions: CRUD with soft delete, owner-only (another user's session is a 404, never a
//! 403, so ids reveal nothing), and the live session-list stream.

mod bulk;
pub mod repository;
pub mod retention;
mod routes;
pub mod search;
mod updates;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgExecutor;
use uuid::Uuid;

pub use routes::{insert_session, router};

use crate::error::{AppError, AppResult};
use crate::state::AppState;

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Session {
    pub id: Uuid,
    #[serde(skip)]
    pub user_id: Uuid,
    pub title: String,
    /// `idle`, `running`, `completed`, `error` or `interrupted`.
    pub status: String,
    pub provider: String,
    pub model: String,
    #[serde(serialize_with = "crate::json::rfc3339")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "crate::json::rfc3339")]
    pub updated_at: DateTime<Utc>,
    #[serde(serialize_with = "crate::json::rfc3339_opt")]
    pub completed_at: Option<DateTime<Utc>>,
    #[serde(serialize_with = "crate::json::rfc3339_opt")]
    pub deleted_at: Option<DateTime<Utc>>,
    pub total_cost_usd: f64,
    pub last_error: Option<String>,
    /// A code session's repository (`https://…`, or `file://…` in the local run); `None`: chat.
    pub repository: Option<String>,
    pub base_branch: Option<String>,
    /// `webedt/…`: where the session's runs commit and push.
    pub working_branch: Option<String>,
    /// Where the working branch left the base (recorded by the first changes report).
    pub base_commit: Option<String>,
    /// The working branch's last pushed tip; follow-ups expect the branch still there.
    pub head_commit: Option<String>,
    /// Starred by its owner (`starSession`); `?favorite=true` lists only these.
    pub favorite: bool,
    /// Search results (`q`) only: the conversation's best matching passage, each match between
    /// U+E000 and U+E001 (characters removed from the text first, so they only ever mark
    /// matches); absent for a title-only hit and everywhere else.
    #[sqlx(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snippet: Option<String>,
    /// The pull request opened from the working branch (`createPullRequest`).
    pub pull_request_number: Option<i32>,
    pub pull_request_url: Option<String>,
}

/// The columns of [`Session`], as a literal so queries stay `&'static str`.
macro_rules! session_columns {
    () => {
        "id, user_id, title, status, provider, model, created_at, updated_at, completed_at, \
         deleted_at, total_cost_usd, last_error, repository, base_branch, working_branch, \
         base_commit, head_commit, favorite, pull_request_number, pull_request_url"
    };
}
pub(crate) use session_columns;

/// The names in [`session_columns!`], in its order: what [`Session::from_row_at`] decodes by
/// position (a unit test keeps the two lists equal).
const SESSION_COLUMN_NAMES: [&str; 20] = [
    "id",
    "user_id",
    "title",
    "status",
    "provider",
    "model",
    "created_at",
    "updated_at",
    "completed_at",
    "deleted_at",
    "total_cost_usd",
    "last_error",
    "repository",
    "base_branch",
    "working_branch",
    "base_commit",
    "head_commit",
    "favorite",
    "pull_request_number",
    "pull_request_url",
];

impl Session {
    /// Decodes the columns of [`session_columns!`] starting at index `at` of `row`. By position
    /// rather than by name (what `FromRow` does): a name costs a hash look-up per column per
    /// row, which was ~5% of a session-list request's CPU (BENCHMARKS.md, P2). The statement must
    /// select `session_columns!()` in order from `at`; each column's name is checked in debug
    /// builds, its type always (sqlx refuses a mismatched type).
    pub fn from_row_at(row: &sqlx::postgres::PgRow, at: usize) -> sqlx::Result<Self> {
        use sqlx::{Column, Row};
        if cfg!(debug_assertions) {
            for (i, name) in SESSION_COLUMN_NAMES.iter().enumerate() {
                let found = row.columns().get(at + i).map(|c| c.name());
                assert_eq!(found, Some(*name), "column {} of the row", at + i);
            }
        }
        Ok(Session {
            id: row.try_get(at)?,
            user_id: row.try_get(at + 1)?,
            title: row.try_get(at + 2)?,
            status: row.try_get(at + 3)?,
            provider: row.try_get(at + 4)?,
            model: row.try_get(at + 5)?,
            created_at: row.try_get(at + 6)?,
            updated_at: row.try_get(at + 7)?,
            completed_at: row.try_get(at + 8)?,
            deleted_at: row.try_get(at + 9)?,
            total_cost_usd: row.try_get(at + 10)?,
            last_error: row.try_get(at + 11)?,
            repository: row.try_get(at + 12)?,
            base_branch: row.try_get(at + 13)?,
            working_branch: row.try_get(at + 14)?,
            base_commit: row.try_get(at + 15)?,
            head_commit: row.try_get(at + 16)?,
            favorite: row.try_get(at + 17)?,
            snippet: None,
            pull_request_number: row.try_get(at + 18)?,
            pull_request_url: row.try_get(at + 19)?,
        })
    }
}

/// Ids in paths: anything that is not a UUID cannot name a session, so it is a 404 too.
pub fn parse_id(raw: &str) -> AppResult<Uuid> {
    Uuid::parse_str(raw).map_err(|_| AppError::NotFound)
}

/// The session if `user` owns it (deleted or not), else 404.
pub async fn owned_session(state: &AppState, user: Uuid, id: Uuid) -> AppResult<Session> {
    let mut conn = state.db.acquire().await?;
    sqlx::query_as(concat!(
        "SELECT ",
        session_columns!(),
        " FROM chat_sessions WHERE id = $1 AND user_id = $2"
    ))
    .bind(id)
    .bind(user)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(AppError::NotFound)
}

/// Any session by id, for fan-out of changes (the subscriber is keyed by the owner already).
pub async fn fetch_any(pool: &crate::db::Db, id: Uuid) -> sqlx::Result<Option<Session>> {
    sqlx::query_as(concat!(
        "SELECT ",
        session_columns!(),
        " FROM chat_sessions WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await
}

/// Tells every replica that `user`'s session list changed; delivered when the caller commits.
pub async fn notify_change<'e>(
    db: impl PgExecutor<'e>,
    user: Uuid,
    session: Uuid,
    kind: &str,
) -> sqlx::Result<()> {
    sqlx::query("SELECT pg_notify('webedt_session_changes', $1)::text")
        .bind(format!("{user}:{session}:{kind}"))
        .execute(db)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn column_names_match_the_column_list() {
        let listed: Vec<&str> = session_columns!().split(',').map(str::trim).collect();
        assert_eq!(listed, super::SESSION_COLUMN_NAMES);
    }
}
