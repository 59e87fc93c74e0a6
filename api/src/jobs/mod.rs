//! Background jobs that must run on exactly one replica per interval (expired-session purge,
//! orphaned-run cleanup).
//!
//! A run is claimed in one statement that only succeeds when the job's last run is older than the
//! interval, judged by the database's clock. Advisory locks would not do: a session lock taken
//! through the pool stays on a pooled connection, and a transaction lock only stops overlap, so
//! replicas on staggered timers would each run the job in turn.

use crate::db::Db;
use futures::future::BoxFuture;
use serde_json::{Map, Value, json};
use std::sync::Arc;
use std::time::Duration;

use crate::lifecycle::Lifecycle;

pub type JobFn = Arc<dyn Fn(Db) -> BoxFuture<'static, anyhow::Result<Value>> + Send + Sync>;

#[derive(Clone)]
pub struct Job {
    pub name: &'static str,
    pub interval: Duration,
    pub run: JobFn,
}

/// Claims this interval's run of `name` for `replica`. True for exactly one caller per interval.
pub async fn claim(pool: &Db, name: &str, interval: Duration, replica: &str) -> sqlx::Result<bool> {
    let claimed = sqlx::query(
        "INSERT INTO job_runs (name, last_run_at, last_run_by) VALUES ($1, now(), $2)
         ON CONFLICT (name) DO UPDATE SET last_run_at = now(), last_run_by = $2,
                                          last_finished_at = NULL, last_result = NULL
           WHERE job_runs.last_run_at <= now() - make_interval(secs => $3)
         RETURNING name",
    )
    .bind(name)
    .bind(replica)
    .bind(interval.as_secs_f64())
    .fetch_optional(pool)
    .await?;
    Ok(claimed.is_some())
}

async fn record(pool: &Db, name: &str, result: &Value) -> sqlx::Result<()> {
    sqlx::query("UPDATE job_runs SET last_finished_at = now(), last_result = $2 WHERE name = $1")
        .bind(name)
        .bind(result)
        .execute(pool)
        .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct JobRow {
    name: String,
    last_run_at: chrono::DateTime<chrono::Utc>,
    last_run_by: String,
    last_finished_at: Option<chrono::DateTime<chrono::Utc>>,
    last_result: Option<Value>,
}

/// `{name: {lastRunAt, lastRunBy, lastFinishedAt, lastResult}}` for `/health/status`.
pub async fn status(pool: &Db) -> sqlx::Result<Value> {
    let rows: Vec<JobRow> = sqlx::query_as(
        "SELECT name, last_run_at, last_run_by, last_finished_at, last_result
         FROM job_runs ORDER BY name",
    )
    .fetch_all(pool)
    .await?;
    let mut out = Map::new();
    for row in rows {
        out.insert(
            row.name,
            json!({
                "lastRunAt": row.last_run_at,
                "lastRunBy": row.last_run_by,
                "lastFinishedAt": row.last_finished_at,
                "lastResult": row.last_result,
            }),
        );
    }
    Ok(Value::Object(out))
}

/// How often a replica asks whether the job is due: often enough that the job runs close to its
/// interval whichever replica gets there first, rarely enough to cost nothing.
fn poll_period(interval: Duration) -> Duration {
    (interval / 4).clamp(Duration::from_millis(100), Duration::from_secs(5))
}

/// Runs `job` from this replica whenever this replica wins the claim, until shutdown.
pub fn spawn(lifecycle: &Lifecycle, pool: Db, replica: String, job: Job) {
    let stop = lifecycle.background().clone();
    lifecycle.spawn(async move {
        let period = poll_period(job.interval);
        loop {
            // Jitter spreads the replicas' polls so they do not all hit the row at once.
            let jitter = rand::random_range(0..=period.as_millis() as u64 / 5);
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(period + Duration::from_millis(jitter)) => {}
            }
            match claim(&pool, job.name, job.interval, &replica).await {
                Ok(false) => continue,
                Ok(true) => {}
                Err(e) => {
                    tracing::debug!(job = job.name, error = %e, "job claim failed");
                    continue;
                }
            }
            let result = match (job.run)(pool.clone()).await {
                Ok(v) => {
                    tracing::info!(job = job.name, result = %v, "job ran");
                    json!({ "ok": true, "result": v })
                }
                Err(e) => {
                    tracing::error!(job = job.name, error = ?e, "job failed");
                    json!({ "ok": false, "error": e.to_string() })
                }
            };
            if let Err(e) = record(&pool, job.name, &result).await {
                tracing::warn!(job = job.name, error = %e, "could not record job result");
            }
        }
    });
}
