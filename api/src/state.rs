use crate::auth::Passwords;
use crate::config::Config;
use crate::db::Db;
use crate::db::DbHealth;
use crate::lifecycle::Lifecycle;
use crate::metrics::Metrics;
use crate::realtime::Hub;
use crate::runs::{Providers, Runs};
use std::sync::Arc;
use std::time::Instant;

/// Everything a handler may use; holds no user or session state — that lives in PostgreSQL, so
/// any replica can answer any request. One `Arc`, because axum clones the state for every
/// request and every stateful middleware (what field-by-field clones cost: BENCHMARKS.md, P1).
#[derive(Clone)]
pub struct AppState(Arc<AppStateInner>);

impl AppState {
    pub fn new(inner: AppStateInner) -> Self {
        Self(Arc::new(inner))
    }
}

impl std::ops::Deref for AppState {
    type Target = AppStateInner;

    fn deref(&self) -> &AppStateInner {
        &self.0
    }
}

/// The fields of [`AppState`], behind its one `Arc`.
pub struct AppStateInner {
    pub db: Db,
    pub config: Arc<Config>,
    pub health: DbHealth,
    pub metrics: Arc<Metrics>,
    pub lifecycle: Lifecycle,
    pub passwords: Passwords,
    pub hub: Arc<Hub>,
    pub runs: Runs,
    pub providers: Arc<Providers>,
    pub started_at: Instant,
    /// Which rate-limited audit entries this replica already wrote this minute.
    pub audit_memo: crate::audit::Memo,
    /// `X-Container-ID`, built once.
    pub container_header: axum::http::HeaderValue,
}
