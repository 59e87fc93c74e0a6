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

/// Everything a handler may use. Cheap to clone; holds no user or session state — that lives in
/// PostgreSQL, so any replica can answer any request.
#[derive(Clone)]
pub struct AppState {
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
    /// `X-Container-ID`, built once.
    pub container_header: axum::http::HeaderValue,
}
