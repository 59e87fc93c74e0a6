use super::exec::{Conn, ConnHandle, Mode, Tx};
use crate::config::Config;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use webedt_contract::PoolerMode;

/// Connect options for the request pool. Direct: the per-connection settings travel in the
/// startup packet. Through a transaction-mode pooler they cannot (PgBouncer refuses `options` and
/// unknown parameters such as `extra_float_digits`), so each transaction sets them instead (see
/// [`begin_statement`]); `application_name` is a parameter PgBouncer forwards.
pub fn connect_options(config: &Config) -> PgConnectOptions {
    let pool = &config.settings.pool;
    let statement_timeout = pool.statement_timeout_ms.to_string();
    let options = config
        .database
        .clone()
        .application_name(&format!("webedt-api/{}", config.container_id()));
    match config.settings.scale.pooler_mode {
        PoolerMode::Transaction => options.extra_float_digits(None).statement_cache_capacity(0),
        PoolerMode::None => options.options([
            // Postgres cancels a runaway query itself; a Rust-side timeout would only drop the
            // future and leave the query running.
            ("statement_timeout", statement_timeout.as_str()),
            // A connection abandoned inside a transaction (a cancelled request future) must not
            // hold locks forever.
            (
                "idle_in_transaction_session_timeout",
                statement_timeout.as_str(),
            ),
        ]),
    }
}

/// Connect options straight to PostgreSQL (`DATABASE_DIRECT_URL`, else `DATABASE_URL`) for what
/// needs a session of its own: LISTEN and the migrator's advisory lock.
pub fn direct_connect_options(config: &Config) -> PgConnectOptions {
    let statement_timeout = config.settings.pool.statement_timeout_ms.to_string();
    config
        .direct_database
        .clone()
        .application_name(&format!("webedt-api/{}/direct", config.container_id()))
        .options([(
            "idle_in_transaction_session_timeout",
            statement_timeout.as_str(),
        )])
}

/// The statement that opens every transaction in transaction-pooler mode: the settings a direct
/// connection gets at startup, scoped to the transaction.
pub fn begin_statement(config: &Config) -> String {
    begin_sql(config.settings.pool.statement_timeout_ms)
}

fn begin_sql(statement_timeout_ms: u64) -> String {
    let ms = statement_timeout_ms;
    format!(
        "BEGIN; SET LOCAL statement_timeout = {ms}; SET LOCAL idle_in_transaction_session_timeout = {ms}"
    )
}

/// A pool that never fails to build: connections are opened on demand, so the server serves
/// `/live` (and an honest 503 on `/ready`) while PostgreSQL is down.
pub fn new_pool(config: &Config) -> Db {
    let s = &config.settings.pool;
    let pool = PgPoolOptions::new()
        .max_connections(s.max_connections)
        .min_connections(s.min_connections)
        .idle_timeout(Some(Duration::from_millis(s.idle_timeout_ms)))
        .acquire_timeout(Duration::from_millis(s.connect_timeout_ms))
        // Recycle connections so server-side memory and settings never grow stale.
        .max_lifetime(Some(Duration::from_secs(30 * 60)))
        // The health monitor pings every second; a ping on every acquire would double the
        // round trips of every request for no gain.
        .test_before_acquire(false)
        .connect_lazy_with(connect_options(config));
    let mode = match config.settings.scale.pooler_mode {
        PoolerMode::None => Mode(None),
        PoolerMode::Transaction => Mode(Some(begin_statement(config).into())),
    };
    Db {
        pool,
        waiting: Default::default(),
        mode,
    }
}

/// Applies pending migrations on one direct connection. sqlx's migrator holds a session advisory
/// lock while it runs, so replicas starting together apply each migration exactly once — which is
/// why this never goes through a transaction-mode pooler.
pub async fn migrate(config: &Config) -> Result<(), sqlx::migrate::MigrateError> {
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_millis(
            config.settings.pool.connect_timeout_ms,
        ))
        .connect_with(direct_connect_options(config))
        .await?;
    let result = super::MIGRATOR.run(&pool).await;
    pool.close().await;
    result
}

/// The replica's database handle: the pool, the pooler mode, and a count of requests waiting for
/// a connection, which sqlx does not expose and `/health/status` reports (a growing queue is the
/// first sign a replica's pool is too small). `&Db` is an executor, and so are the connections
/// and transactions it hands out; all of them send statements the way the pooler mode requires.
#[derive(Clone)]
pub struct Db {
    pool: PgPool,
    waiting: Arc<AtomicUsize>,
    pub(super) mode: Mode,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("pooled", &self.mode.pooled())
            .finish_non_exhaustive()
    }
}

impl Db {
    /// A handle on an existing pool (tests), sending statements as `pooler` requires.
    pub fn from_pool(pool: PgPool, pooler: PoolerMode, statement_timeout_ms: u64) -> Self {
        let mode = match pooler {
            PoolerMode::None => Mode(None),
            PoolerMode::Transaction => Mode(Some(begin_sql(statement_timeout_ms).into())),
        };
        Self {
            pool,
            waiting: Default::default(),
            mode,
        }
    }

    pub(super) async fn acquire_raw(
        &self,
    ) -> Result<sqlx::pool::PoolConnection<sqlx::Postgres>, sqlx::Error> {
        // Decrement on drop so a cancelled request does not leave the count high.
        struct Waiting<'a>(&'a AtomicUsize);
        impl Drop for Waiting<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::Relaxed);
            }
        }
        self.waiting.fetch_add(1, Ordering::Relaxed);
        let _waiting = Waiting(&self.waiting);
        self.pool.acquire().await
    }

    /// Holds one connection for several statements.
    pub async fn acquire(&self) -> Result<Conn, sqlx::Error> {
        Ok(Conn(ConnHandle {
            conn: self.acquire_raw().await?,
            mode: self.mode.clone(),
        }))
    }

    /// Starts a transaction on a connection of its own.
    pub async fn begin(&self) -> Result<Tx<'static>, sqlx::Error> {
        let conn = self.acquire_raw().await?;
        let tx = match &self.mode.0 {
            None => sqlx::Transaction::begin(conn, None).await?,
            Some(begin) => {
                use sqlx::SqlSafeStr;
                let begin = sqlx::AssertSqlSafe(begin.clone()).into_sql_str();
                sqlx::Transaction::begin(conn, Some(begin)).await?
            }
        };
        Ok(Tx::new(tx, &self.mode))
    }

    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }

    /// The executor for queries. (The name predates the pooler: it returns the pooler-aware
    /// handle, not sqlx's pool, so every query is sent the way the pooler mode requires.)
    pub fn pool(&self) -> &Db {
        self
    }

    /// True when statements go through a transaction-mode pooler.
    pub fn pooled(&self) -> bool {
        self.mode.pooled()
    }

    /// sqlx's pool, for its statistics and options only; queries go through [`Db`].
    pub fn raw(&self) -> &PgPool {
        &self.pool
    }

    pub async fn close(&self) {
        self.pool.close().await
    }
}
