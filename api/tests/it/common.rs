//! `spawn_app()` and friends: every test gets a fresh database on the shared test cluster (the
//! test command exports `DATABASE_URL`), and servers speak real HTTP on 127.0.0.1. A `TestApp`
//! derefs to its [`Api`], so `app.register(…)`, `app.call(…)` and the other requests are on it.

#![allow(dead_code)]

use crate::support::api::Api;
use sqlx::Connection;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use webedt_api::{AppState, Config, Server};
use webedt_contract::{Settings, names};

pub const SECRET: &str = "test-secret-0123456789abcdef0123456789";
/// The session cookie's name: test servers run with `COOKIE_SECURE=false`, so unprefixed.
pub const COOKIE: &str = webedt_contract::names::SESSION_COOKIE;

pub fn admin_url() -> String {
    std::env::var("DATABASE_URL")
        .expect("DATABASE_URL is unset: run the tests with ./scripts/test, which starts PostgreSQL")
}

/// Replaces the database name in a `postgres://…/db` URL.
pub fn with_database(url: &str, db: &str) -> String {
    let (base, _) = url.rsplit_once('/').expect("URL has a path");
    format!("{base}/{db}")
}

/// Creates an empty database on the server behind `admin` and returns its URL.
pub async fn fresh_database_on(admin: &str) -> String {
    let name = format!("test_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(admin)
        .await
        .expect("connect to the test cluster");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .expect("create test database");
    with_database(admin, &name)
}

pub async fn fresh_database() -> String {
    fresh_database_on(&admin_url()).await
}

/// PgBouncer's address when the suite runs through it (`scripts/test-pooler` sets it).
pub fn pooler_url() -> Option<String> {
    std::env::var("WEBEDT_TEST_POOLER_URL")
        .ok()
        .filter(|v| !v.is_empty())
}

/// The URL part before the database name.
fn server_of(url: &str) -> &str {
    url.rsplit_once('/').map_or(url, |(base, _)| base)
}

/// What an app on `db_url` is configured with: through PgBouncer (in transaction mode, with
/// LISTEN and migrations direct) when the suite runs through one and `db_url` is on the shared
/// test server behind it; straight to `db_url` otherwise (tests with a private cluster).
pub fn database_env(db_url: &str) -> Vec<(&'static str, String)> {
    match pooler_url() {
        Some(pooler) if server_of(db_url) == server_of(&admin_url()) => {
            let db = db_url.rsplit_once('/').expect("URL has a path").1;
            vec![
                (names::DATABASE_URL, with_database(&pooler, db)),
                (names::DATABASE_DIRECT_URL, db_url.to_string()),
                (names::DB_POOLER_MODE, "transaction".to_string()),
            ]
        }
        _ => vec![(names::DATABASE_URL, db_url.to_string())],
    }
}

static NEXT_ID: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(1);

/// Test settings for a replica on `db_url`; `overrides` win over the defaults here.
pub fn test_config(db_url: &str, overrides: &[(&'static str, &str)]) -> Config {
    let id = format!(
        "test-{}",
        NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    let mut env: Vec<(&'static str, String)> =
        overrides.iter().map(|(k, v)| (*k, v.to_string())).collect();
    env.extend(database_env(db_url));
    env.extend([
        (names::SESSION_SECRET, SECRET.to_string()),
        (names::CONTAINER_ID, id),
        (names::LB_DRAIN_DELAY_MS, "0".to_string()),
        (names::SHUTDOWN_TIMEOUT_MS, "5000".to_string()),
        (names::DB_POOL_MIN, "0".to_string()),
        (names::DB_POOL_MAX, "10".to_string()),
        (names::COOKIE_SECURE, "false".to_string()),
        // One stored event per text delta, which many tests count; the coalescing tests set
        // their own window.
        (names::EVENT_TEXT_COALESCE_MS, "0".to_string()),
    ]);
    let settings = Settings::from_env(&env).expect("valid test settings");
    Config::new(settings).expect("valid test config")
}

pub struct TestApp {
    pub addr: SocketAddr,
    /// `base` (`http://127.0.0.1:port`), `client` and the request helpers.
    pub api: Api,
    pub db_url: String,
    pub state: AppState,
    stop: CancellationToken,
    handle: Option<JoinHandle<anyhow::Result<()>>>,
}

impl std::ops::Deref for TestApp {
    type Target = Api;

    fn deref(&self) -> &Api {
        &self.api
    }
}

impl TestApp {
    pub fn container_id(&self) -> &str {
        self.state.config.container_id()
    }

    /// Sends the shutdown signal (what SIGTERM does) without waiting.
    pub fn signal_shutdown(&self) {
        self.stop.cancel();
    }

    /// Signals shutdown and waits for the server to finish its shutdown sequence.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        self.stop.cancel();
        self.handle.take().expect("not yet joined").await?
    }

    /// Polls `/ready` until it answers `status` or `within` passes; returns the time it took.
    pub async fn wait_ready_status(&self, status: u16, within: Duration) -> Duration {
        let started = Instant::now();
        loop {
            let got = self
                .client
                .get(self.url("/ready"))
                .timeout(Duration::from_secs(3))
                .send()
                .await
                .map(|r| r.status().as_u16());
            if got.as_ref().ok() == Some(&status) {
                return started.elapsed();
            }
            assert!(
                started.elapsed() < within,
                "/ready did not answer {status} within {within:?} (last: {got:?})"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

pub struct AppBuilder {
    db_url: Option<String>,
    overrides: Vec<(&'static str, String)>,
    extra: Option<axum::Router<AppState>>,
    wait_ready: bool,
    local_worker: Option<std::path::PathBuf>,
}

pub fn app() -> AppBuilder {
    AppBuilder {
        db_url: None,
        overrides: Vec::new(),
        extra: None,
        wait_ready: true,
        local_worker: None,
    }
}

impl AppBuilder {
    /// Share a database (another replica of the same deployment).
    pub fn database(mut self, url: &str) -> Self {
        self.db_url = Some(url.to_string());
        self
    }

    pub fn env(mut self, name: &'static str, value: impl ToString) -> Self {
        self.overrides.push((name, value.to_string()));
        self
    }

    pub fn routes(mut self, extra: axum::Router<AppState>) -> Self {
        self.extra = Some(extra);
        self
    }

    /// Stands in for the local run: an in-process coding worker with its run directories under
    /// `root`, and repositories on this machine allowed.
    pub fn local_worker(mut self, root: &std::path::Path) -> Self {
        self.local_worker = Some(root.to_path_buf());
        self
    }

    pub fn no_wait(mut self) -> Self {
        self.wait_ready = false;
        self
    }

    pub async fn spawn(self) -> TestApp {
        let db_url = match self.db_url {
            Some(u) => u,
            None => fresh_database().await,
        };
        let overrides: Vec<(&'static str, &str)> = self
            .overrides
            .iter()
            .map(|(k, v)| (*k, v.as_str()))
            .collect();
        let mut config = test_config(&db_url, &overrides);
        config.local_worker = self
            .local_worker
            .map(|workspace_root| webedt_api::runs::local_worker::LocalWorker { workspace_root });
        webedt_api::telemetry::init_for_tests();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind port 0");
        let mut server = Server::with_listener(config, listener);
        if let Some(extra) = self.extra {
            server = server.merge(extra);
        }
        let addr = server.local_addr();
        let state = server.state().clone();
        let stop = CancellationToken::new();
        let signal = stop.clone();
        let handle = tokio::spawn(server.run(async move { signal.cancelled().await }));
        let app = TestApp {
            addr,
            api: Api::new(
                format!("http://{addr}"),
                reqwest::Client::builder()
                    .timeout(Duration::from_secs(30))
                    .build()
                    .expect("client"),
            ),
            db_url,
            state,
            stop,
            handle: Some(handle),
        };
        if self.wait_ready {
            app.wait_ready_status(200, Duration::from_secs(30)).await;
        }
        app
    }
}

pub async fn spawn_app() -> TestApp {
    app().spawn().await
}
