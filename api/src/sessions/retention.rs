//! Trash retention: sessions deleted more than `TRASH_RETENTION_DAYS` ago are removed for good,
//! with their events (`ON DELETE CASCADE`), by one replica per interval (the claim in
//! `crate::jobs`). Each batch is its own short transaction, so a large backlog never holds locks
//! or builds one huge transaction; the run stops after a bounded number of batches and the next
//! interval continues.

use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

use crate::db::Db;
use crate::jobs::Job;

pub const JOB: &str = "trash-purge";
/// Retention is counted in days; looking once an hour keeps the trash within an hour of it.
pub const INTERVAL: Duration = Duration::from_secs(3600);
/// Sessions per transaction (each may carry thousands of events).
pub const BATCH: i64 = 100;
/// Batches per run: at most 5,000 sessions an interval; more waits for the next one.
const MAX_BATCHES: usize = 50;

pub fn job(retention_days: u32, interval: Duration) -> Job {
    Job {
        name: JOB,
        interval,
        run: Arc::new(move |db| Box::pin(async move { purge(&db, retention_days).await })),
    }
}

/// Which trashed sessions a purge removes.
#[derive(Clone, Copy)]
enum Scope {
    /// Everyone's, deleted more than this many days ago (the job).
    Expired(u32),
    /// One user's whole trash ("empty trash").
    Trash(uuid::Uuid),
}

/// One batch of at most [`BATCH`] sessions, oldest deletion first, in its own transaction;
/// their events and search rows go with them (`ON DELETE CASCADE`). Rows another purge holds
/// are skipped, not waited for.
async fn purge_batch(db: &Db, scope: Scope) -> sqlx::Result<u64> {
    let query = match scope {
        Scope::Expired(days) => sqlx::query(
            "DELETE FROM chat_sessions WHERE id IN (
                 SELECT id FROM chat_sessions
                 WHERE deleted_at < now() - make_interval(days => $1)
                 ORDER BY deleted_at LIMIT $2
                 FOR UPDATE SKIP LOCKED)",
        )
        .bind(days as i32),
        Scope::Trash(user) => sqlx::query(
            "DELETE FROM chat_sessions WHERE id IN (
                 SELECT id FROM chat_sessions
                 WHERE user_id = $1 AND deleted_at IS NOT NULL
                 ORDER BY deleted_at LIMIT $2
                 FOR UPDATE SKIP LOCKED)",
        )
        .bind(user),
    };
    Ok(query.bind(BATCH).execute(db).await?.rows_affected())
}

/// Deletes trashed sessions past the retention, oldest first, in batches of [`BATCH`].
pub async fn purge(db: &Db, retention_days: u32) -> anyhow::Result<Value> {
    let mut sessions = 0u64;
    let mut batches = 0usize;
    while batches < MAX_BATCHES {
        let deleted = purge_batch(db, Scope::Expired(retention_days)).await?;
        sessions += deleted;
        batches += 1;
        if deleted < BATCH as u64 {
            break;
        }
    }
    Ok(json!({ "purgedSessions": sessions, "batches": batches, "retentionDays": retention_days }))
}

/// Empties `user`'s trash now, with the job's batches; returns the sessions removed. A
/// session trashed while this runs may stay (the next "empty" or the job takes it).
pub async fn purge_user_trash(db: &Db, user: uuid::Uuid) -> sqlx::Result<u64> {
    let mut sessions = 0u64;
    loop {
        let deleted = purge_batch(db, Scope::Trash(user)).await?;
        sessions += deleted;
        if deleted < BATCH as u64 {
            return Ok(sessions);
        }
    }
}
