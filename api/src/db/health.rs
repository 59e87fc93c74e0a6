//! Database health as this replica sees it, refreshed every second, and the start-up loop that
//! waits for PostgreSQL (with backoff) and applies migrations.
//!
//! This is the only per-process state about the database: it describes this replica's link to
//! PostgreSQL, which is exactly what `/ready` must report.

use super::Db;
use crate::config::Config;
use rand::Rng;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

const CHECK_EVERY: Duration = Duration::from_secs(1);
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Clone, Default)]
pub struct DbHealth(Arc<Inner>);

#[derive(Default)]
struct Inner {
    healthy: AtomicBool,
    schema_ready: AtomicBool,
    /// Latency of the last successful check in microseconds.
    latency_us: AtomicU64,
}

#[derive(Debug, Clone, Copy)]
pub struct DbHealthSnapshot {
    pub healthy: bool,
    pub schema_ready: bool,
    pub latency_ms: f64,
}

impl DbHealth {
    /// Ready to take traffic: PostgreSQL answers and the schema is the one this build expects.
    pub fn is_ready(&self) -> bool {
        let s = self.snapshot();
        s.healthy && s.schema_ready
    }

    pub fn snapshot(&self) -> DbHealthSnapshot {
        DbHealthSnapshot {
            healthy: self.0.healthy.load(Ordering::Relaxed),
            schema_ready: self.0.schema_ready.load(Ordering::Relaxed),
            latency_ms: self.0.latency_us.load(Ordering::Relaxed) as f64 / 1000.0,
        }
    }

    fn record(&self, result: Result<Duration, String>) {
        match result {
            Ok(latency) => {
                self.0
                    .latency_us
                    .store(latency.as_micros() as u64, Ordering::Relaxed);
                if !self.0.healthy.swap(true, Ordering::Relaxed) {
                    tracing::info!(
                        latency_ms = latency.as_secs_f64() * 1000.0,
                        "database healthy"
                    );
                }
            }
            Err(error) => {
                if self.0.healthy.swap(false, Ordering::Relaxed) {
                    tracing::warn!(%error, "database unhealthy");
                }
            }
        }
    }
}

async fn ping(pool: &Db, timeout: Duration) -> Result<Duration, String> {
    let started = Instant::now();
    match tokio::time::timeout(timeout, sqlx::query("SELECT 1").execute(pool)).await {
        Ok(Ok(_)) => Ok(started.elapsed()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer within {} ms", timeout.as_millis())),
    }
}

/// Checks the database every second (2 s timeout) until `stop`, so readiness follows
/// PostgreSQL within a few seconds in both directions.
pub fn spawn_health_monitor(pool: Db, health: DbHealth, stop: CancellationToken) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(CHECK_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tick.tick() => {}
            }
            health.record(ping(&pool, CHECK_TIMEOUT).await);
        }
    })
}

/// Waits for PostgreSQL with exponential backoff and jitter (logging every attempt), then applies
/// migrations when `migrate` is set, then marks the schema ready.
pub fn spawn_bootstrap(
    pool: Db,
    config: Arc<Config>,
    health: DbHealth,
    migrate: bool,
    connect_timeout: Duration,
    stop: CancellationToken,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let outcome = match ping(&pool, connect_timeout).await {
                Err(e) => Err(format!("connect: {e}")),
                Ok(latency) => {
                    health.record(Ok(latency));
                    if migrate {
                        super::migrate(&config)
                            .await
                            .map_err(|e| format!("migrate: {e}"))
                    } else {
                        Ok(())
                    }
                }
            };
            match outcome {
                Ok(()) => {
                    health.0.schema_ready.store(true, Ordering::Relaxed);
                    tracing::info!(attempt, migrated = migrate, "database ready");
                    return;
                }
                Err(error) => {
                    let delay = backoff(attempt);
                    tracing::warn!(
                        attempt,
                        %error,
                        retry_in_ms = delay.as_millis() as u64,
                        "database not ready yet"
                    );
                    tokio::select! {
                        _ = stop.cancelled() => return,
                        _ = tokio::time::sleep(delay) => {}
                    }
                }
            }
        }
    })
}

/// 250 ms doubling to a 10 s ceiling, each delay jittered to 50–100 % so replicas that lost the
/// database together do not reconnect in lock-step.
fn backoff(attempt: u32) -> Duration {
    let base_ms = 250u64.saturating_mul(1 << attempt.min(7).saturating_sub(1));
    let capped = base_ms.min(10_000);
    let jittered = rand::rng().random_range(capped / 2..=capped);
    Duration::from_millis(jittered)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_a_ceiling_with_jitter() {
        for _ in 0..100 {
            let first = backoff(1).as_millis();
            assert!((125..=250).contains(&first), "{first}");
            let late = backoff(30).as_millis();
            assert!((5_000..=10_000).contains(&late), "{late}");
        }
        assert!(backoff(4) > Duration::from_millis(999));
    }
}
