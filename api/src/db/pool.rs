use crate::config::Config;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use std::time::Duration;

/// Connect options with the per-connection settings every session of ours needs.
pub fn connect_options(config: &Config) -> PgConnectOptions {
    let pool = &config.settings.pool;
    let statement_timeout = pool.statement_timeout_ms.to_string();
    config
        .database
        .clone()
        .application_name(&format!("webedt-api/{}", config.container_id()))
        .options([
            // Postgres cancels a runaway query itself; a Rust-side timeout would only drop the
            // future and leave the query running.
            ("statement_timeout", statement_timeout.as_str()),
            // A connection abandoned inside a transaction (a cancelled request future) must not
            // hold locks forever.
            (
                "idle_in_transaction_session_timeout",
                statement_timeout.as_str(),
            ),
        ])
}

/// A pool that never fails to build: connections are opened on demand, so the server serves
/// `/live` (and an honest 503 on `/ready`) while PostgreSQL is down.
pub fn new_pool(config: &Config) -> PgPool {
    let s = &config.settings.pool;
    PgPoolOptions::new()
        .max_connections(s.max_connections)
        .min_connections(s.min_connections)
        .idle_timeout(Some(Duration::from_millis(s.idle_timeout_ms)))
        .acquire_timeout(Duration::from_millis(s.connect_timeout_ms))
        // Recycle connections so server-side memory and settings never grow stale.
        .max_lifetime(Some(Duration::from_secs(30 * 60)))
        // The health monitor pings every second; a ping on every acquire would double the
        // round trips of every request for no gain.
        .test_before_acquire(false)
        .connect_lazy_with(connect_options(config))
}

/// Applies pending migrations. sqlx's migrator holds an advisory lock while it runs, so replicas
/// starting together apply each migration exactly once.
pub async fn migrate(pool: &PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    super::MIGRATOR.run(pool).await
}

/// The pool plus a count of requests waiting for a connection, which sqlx does not expose and
/// `/health/status` reports (a growing queue is the first sign a replica's pool is too small).
/// Request handlers take connections through [`Db::acquire`]; background tasks may use the pool
/// directly.
#[derive(Clone)]
pub struct Db {
    pool: PgPool,
    waiting: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl Db {
    pub fn new(pool: PgPool) -> Self {
        Self {
            pool,
            waiting: Default::default(),
        }
    }

    pub async fn acquire(&self) -> Result<sqlx::pool::PoolConnection<sqlx::Postgres>, sqlx::Error> {
        use std::sync::atomic::Ordering;
        // Decrement on drop so a cancelled request does not leave the count high.
        struct Waiting<'a>(&'a std::sync::atomic::AtomicUsize);
        impl Drop for Waiting<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::Relaxed);
            }
        }
        self.waiting.fetch_add(1, Ordering::Relaxed);
        let _waiting = Waiting(&self.waiting);
        self.pool.acquire().await
    }

    pub fn waiting(&self) -> usize {
        self.waiting.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

impl std::ops::Deref for Db {
    type Target = PgPool;
    fn deref(&self) -> &PgPool {
        &self.pool
    }
}
