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

/// Deletes trashed sessions past the retention, oldest first, in batches of [`BATCH`].
pub async fn purge(db: &Db, retention_days: u32) -> anyhow::Result<Value> {
    let mut sessions = 0u64;
    let mut batches = 0usize;
    while batches < MAX_BATCHES {
        let deleted = sqlx::query(
            "DELETE FROM chat_sessions WHERE id IN (
                 SELECT id FROM chat_sessions
                 WHERE deleted_at < now() - make_interval(days => $1)
                 ORDER BY deleted_at LIMIT $2
                 FOR UPDATE SKIP LOCKED)",
        )
        .bind(retention_days as i32)
        .bind(BATCH)
        .execute(db)
        .await?
        .rows_affected();
        sessions += deleted;
        batches += 1;
        if deleted < BATCH as u64 {
            break;
        }
    }
    Ok(json!({ "purgedSessions": sessions, "batches": batches, "retentionDays": retention_days }))
}
