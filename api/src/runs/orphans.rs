//! Runs whose replica died: found by a stale heartbeat (database clock), ended with a stored
//! `error` event, status `error`, and released — each exactly once, because the release is a
//! `DELETE … RETURNING` that only one transaction can win.

use crate::db::Db;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

use crate::events;
use crate::jobs::Job;
use crate::sessions::notify_change;

pub const JOB: &str = "orphan-cleanup";

pub fn job(timeout: Duration, interval: Duration) -> Job {
    Job {
        name: JOB,
        interval,
        run: Arc::new(move |pool| Box::pin(async move { cleanup_stale(&pool, timeout).await })),
    }
}

/// Ends every run whose heartbeat is older than `timeout`.
pub async fn cleanup_stale(pool: &Db, timeout: Duration) -> anyhow::Result<Value> {
    let stale: Vec<(Uuid, String)> = sqlx::query_as(
        "SELECT chat_session_id, owner FROM active_runs
         WHERE heartbeat_at < now() - make_interval(secs => $1)",
    )
    .bind(timeout.as_secs_f64())
    .fetch_all(pool)
    .await?;
    let mut cleaned = Vec::new();
    for (session, owner) in stale {
        let message = format!("run lost: replica {owner} stopped");
        if end_run(pool, session, Some(timeout), None, &message).await? {
            cleaned.push(session);
        }
    }
    Ok(json!({ "cleaned": cleaned.len(), "sessions": cleaned }))
}

/// At start, a replica ends the runs a previous process with its id left behind: they cannot be
/// running any more, and waiting for the timeout would only keep users waiting.
pub async fn cleanup_own(pool: &Db, replica: &str) -> anyhow::Result<usize> {
    let mine: Vec<Uuid> =
        sqlx::query_scalar("SELECT chat_session_id FROM active_runs WHERE owner = $1")
            .bind(replica)
            .fetch_all(pool)
            .await?;
    let mut n = 0;
    let message = format!("run lost: replica {replica} restarted");
    for session in mine {
        if end_run(pool, session, None, Some(replica), &message).await? {
            n += 1;
        }
    }
    Ok(n)
}

async fn end_run(
    pool: &Db,
    session: Uuid,
    older_than: Option<Duration>,
    owner: Option<&str>,
    message: &str,
) -> anyhow::Result<bool> {
    let mut tx = pool.begin().await?;
    let released: Option<Uuid> = sqlx::query_scalar(
        "DELETE FROM active_runs r USING chat_sessions s
         WHERE r.chat_session_id = $1 AND s.id = r.chat_session_id
           AND ($2::float8 IS NULL OR r.heartbeat_at < now() - make_interval(secs => $2))
           AND ($3::text IS NULL OR r.owner = $3)
         RETURNING s.user_id",
    )
    .bind(session)
    .bind(older_than.map(|d| d.as_secs_f64()))
    .bind(owner)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(user) = released else {
        // Finished, or cleaned by someone else, since we looked.
        return Ok(false);
    };
    let lost = events::Event::Error(events::kinds::Failed {
        message: message.to_owned(),
        duration_ms: None,
    });
    events::append(&mut *tx, session, &lost).await?;
    // A lost run's turn (the prompt and the text stored before it was lost) is searchable too.
    crate::sessions::search::index_last_turn(&mut tx, session).await?;
    sqlx::query(
        "UPDATE chat_sessions SET status = 'error', completed_at = now(), updated_at = now(),
             last_error = $2 WHERE id = $1",
    )
    .bind(session)
    .bind(message)
    .execute(&mut *tx)
    .await?;
    notify_change(&mut *tx, user, session, "updated").await?;
    tx.commit().await?;
    tracing::warn!(%session, message, "ended a lost run");
    Ok(true)
}
