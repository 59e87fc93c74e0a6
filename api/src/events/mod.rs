//! The per-session event log: append (with the next seq and a NOTIFY in the same transaction),
//! read, and stream over SSE with replay-then-live.

pub mod kinds;
mod routes;
mod stream;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::PgExecutor;
use uuid::Uuid;

pub use kinds::Event;
pub use routes::{resume_point, router};
pub use stream::{session_stream, stream_slot};

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct StoredEvent {
    pub seq: i64,
    #[serde(rename = "type")]
    #[sqlx(rename = "type")]
    pub kind: String,
    pub data: Value,
    pub created_at: DateTime<Utc>,
}

// The document's view of [`StoredEvent`]: its seq and time with the [`Event`] it holds (`type`
// and `data`, which `append` stored from an `Event`).
#[derive(utoipa::ToSchema)]
#[schema(as = StoredEvent, description = "An event of a session's log with its seq (the SSE `id`) and time")]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
struct StoredEventSchema {
    seq: i64,
    #[serde(flatten)]
    event: Event,
    created_at: DateTime<Utc>,
}

impl utoipa::PartialSchema for StoredEvent {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        StoredEventSchema::schema()
    }
}

impl utoipa::ToSchema for StoredEvent {
    fn name() -> std::borrow::Cow<'static, str> {
        StoredEventSchema::name()
    }

    fn schemas(
        schemas: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        StoredEventSchema::schemas(schemas)
    }
}

pub const TERMINAL: [&str; 3] = ["completed", "error", "interrupted"];

impl StoredEvent {
    pub fn is_terminal(&self) -> bool {
        TERMINAL.contains(&self.kind.as_str())
    }
}

/// `event` as the `type` and `data` columns store it. U+0000 in any string of `data` (model
/// output, tool results) is replaced: `jsonb` cannot store it, and the run would otherwise end
/// on a database error.
pub fn to_row(event: &Event) -> (String, Value) {
    let (kind, mut data) = event.to_stored();
    if crate::validate::has_nul(&data) {
        crate::validate::strip_nul(&mut data);
    }
    (kind, data)
}

/// Appends `event`: takes the next seq under the session row's lock, inserts, and queues a
/// NOTIFY of `{session}:{seq}` — all one statement, so one transaction, delivered at commit.
pub async fn append<'e>(
    db: impl PgExecutor<'e>,
    session: Uuid,
    event: &Event,
) -> sqlx::Result<StoredEvent> {
    let (kind, data) = to_row(event);
    sqlx::query_as(
        "WITH s AS (
             UPDATE chat_sessions SET last_seq = last_seq + 1, updated_at = now()
             WHERE id = $1 RETURNING last_seq
         ), e AS (
             INSERT INTO events (chat_session_id, seq, type, data)
             SELECT $1, last_seq, $2, $3 FROM s
             RETURNING seq, type, data, created_at
         ), n AS (
             SELECT pg_notify('webedt_events', $1::text || ':' || seq) FROM e
         )
         SELECT seq, type, data, created_at FROM e WHERE (SELECT count(*) FROM n) >= 0",
    )
    .bind(session)
    .bind(kind)
    .bind(data)
    .fetch_one(db)
    .await
}

/// The events `keys` name (session, seq), keyed by them; absent ones are left out.
pub async fn get_many(
    pool: &crate::db::Db,
    keys: &[(Uuid, i64)],
) -> sqlx::Result<std::collections::HashMap<(Uuid, i64), StoredEvent>> {
    let (sessions, seqs): (Vec<Uuid>, Vec<i64>) = keys.iter().copied().unzip();
    let rows: Vec<(Uuid, i64, String, Value, DateTime<Utc>)> = sqlx::query_as(
        "SELECT e.chat_session_id, e.seq, e.type, e.data, e.created_at
         FROM unnest($1::uuid[], $2::int8[]) AS k(session, seq)
         JOIN events e ON e.chat_session_id = k.session AND e.seq = k.seq",
    )
    .bind(sessions)
    .bind(seqs)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(session, seq, kind, data, created_at)| {
            (
                (session, seq),
                StoredEvent {
                    seq,
                    kind,
                    data,
                    created_at,
                },
            )
        })
        .collect())
}

pub async fn list_after<'e>(
    db: impl PgExecutor<'e>,
    session: Uuid,
    after: i64,
    limit: i64,
) -> sqlx::Result<Vec<StoredEvent>> {
    sqlx::query_as(
        "SELECT seq, type, data, created_at FROM events
         WHERE chat_session_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
    )
    .bind(session)
    .bind(after)
    .bind(limit)
    .fetch_all(db)
    .await
}
