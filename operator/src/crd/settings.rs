//! Pool, orphan and migration settings. The numbers end up in the API's environment through
//! `webedt-contract`, whose `validate()` applies the same rules the CEL rules below state.

use k8s_openapi::api::core::v1::ResourceRequirements;
use kube::KubeSchema;
use serde::{Deserialize, Serialize};
use webedt_contract::{OrphanSettings, PoolSettings};

/// Database connection pool of each replica. Names follow the connection-pool settings of the
/// original WebEDT server.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("self.minConnections <= self.maxConnections").message("pool.minConnections must be <= pool.maxConnections").field_path(".minConnections"),
    validation = Rule::new("self.maxConnections > 0").message("pool.maxConnections must be greater than 0").field_path(".maxConnections"),
    validation = Rule::new("self.idleTimeoutMillis > 0").message("pool.idleTimeoutMillis must be greater than 0").field_path(".idleTimeoutMillis"),
    validation = Rule::new("self.connectionTimeoutMillis > 0").message("pool.connectionTimeoutMillis must be greater than 0").field_path(".connectionTimeoutMillis"),
    validation = Rule::new("self.statementTimeoutMs > 0").message("pool.statementTimeoutMs must be greater than 0").field_path(".statementTimeoutMs")
)]
pub struct PoolSpec {
    /// Most connections one replica opens (DB_POOL_MAX).
    #[serde(default = "d_max")]
    #[schemars(range(max = 10000))]
    pub max_connections: u32,
    /// Connections one replica keeps open while idle (DB_POOL_MIN).
    #[serde(default = "d_min")]
    #[schemars(range(max = 10000))]
    pub min_connections: u32,
    /// An idle connection above the minimum is closed after this many milliseconds
    /// (DB_IDLE_TIMEOUT_MS).
    #[serde(default = "d_idle")]
    pub idle_timeout_millis: u64,
    /// Longest wait, in milliseconds, for a connection (DB_CONNECT_TIMEOUT_MS).
    #[serde(default = "d_connect")]
    pub connection_timeout_millis: u64,
    /// PostgreSQL statement_timeout of every connection, in milliseconds
    /// (DB_STATEMENT_TIMEOUT_MS).
    #[serde(default = "d_statement")]
    pub statement_timeout_ms: u64,
}

// Defaults come from the contract, so the CRD and the API cannot disagree.
fn d_max() -> u32 {
    PoolSettings::default().max_connections
}
fn d_min() -> u32 {
    PoolSettings::default().min_connections
}
fn d_idle() -> u64 {
    PoolSettings::default().idle_timeout_ms
}
fn d_connect() -> u64 {
    PoolSettings::default().connect_timeout_ms
}
fn d_statement() -> u64 {
    PoolSettings::default().statement_timeout_ms
}

impl Default for PoolSpec {
    fn default() -> Self {
        Self::from(&PoolSettings::default())
    }
}

impl From<&PoolSettings> for PoolSpec {
    fn from(p: &PoolSettings) -> Self {
        Self {
            max_connections: p.max_connections,
            min_connections: p.min_connections,
            idle_timeout_millis: p.idle_timeout_ms,
            connection_timeout_millis: p.connect_timeout_ms,
            statement_timeout_ms: p.statement_timeout_ms,
        }
    }
}

impl From<&PoolSpec> for PoolSettings {
    fn from(p: &PoolSpec) -> Self {
        Self {
            max_connections: p.max_connections,
            min_connections: p.min_connections,
            idle_timeout_ms: p.idle_timeout_millis,
            connect_timeout_ms: p.connection_timeout_millis,
            statement_timeout_ms: p.statement_timeout_ms,
        }
    }
}

/// When a run whose replica vanished is declared lost, and how often one replica looks.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("self.timeoutMinutes > 0.0").message("orphans.timeoutMinutes must be greater than 0").field_path(".timeoutMinutes"),
    validation = Rule::new("self.cleanupIntervalMinutes > 0.0").message("orphans.cleanupIntervalMinutes must be greater than 0").field_path(".cleanupIntervalMinutes"),
    validation = Rule::new("self.cleanupIntervalMinutes <= self.timeoutMinutes").message("orphans.cleanupIntervalMinutes must be <= orphans.timeoutMinutes").field_path(".cleanupIntervalMinutes")
)]
pub struct OrphansSpec {
    /// A run whose heartbeat is older than this many minutes is declared lost
    /// (ORPHAN_SESSION_TIMEOUT_MINUTES). Decimals allowed.
    #[serde(default = "d_timeout")]
    pub timeout_minutes: f64,
    /// How often, in minutes, one replica looks for lost runs
    /// (ORPHAN_CLEANUP_INTERVAL_MINUTES). Decimals allowed; at most timeoutMinutes.
    #[serde(default = "d_interval")]
    pub cleanup_interval_minutes: f64,
}

fn d_timeout() -> f64 {
    OrphanSettings::default().timeout_minutes
}
fn d_interval() -> f64 {
    OrphanSettings::default().cleanup_interval_minutes
}

impl Default for OrphansSpec {
    fn default() -> Self {
        Self {
            timeout_minutes: d_timeout(),
            cleanup_interval_minutes: d_interval(),
        }
    }
}

impl From<&OrphansSpec> for OrphanSettings {
    fn from(o: &OrphansSpec) -> Self {
        Self {
            timeout_minutes: o.timeout_minutes,
            cleanup_interval_minutes: o.cleanup_interval_minutes,
        }
    }
}

/// How database migrations are applied.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct MigrationsSpec {
    /// `Job`: a Job per image runs `webedt-api migrate` and the pods start with
    /// MIGRATE_ON_START=false. `OnStartup`: every pod migrates at start (the migrator takes an
    /// advisory lock, so replicas take turns).
    #[serde(default)]
    pub mode: MigrationMode,
    /// Retries of a failed migration Job pod before the Job fails.
    #[serde(default = "d_backoff")]
    #[schemars(range(min = 0, max = 100))]
    pub backoff_limit: i32,
    /// Seconds after which a migration still running fails (a lock held elsewhere must fail
    /// visibly rather than hold the rollout forever).
    #[serde(default = "d_deadline")]
    #[schemars(range(min = 1, max = 86_400))]
    pub active_deadline_seconds: i64,
    /// CPU and memory of the migration container. Unset: the API container's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
}

fn d_backoff() -> i32 {
    4
}
fn d_deadline() -> i64 {
    1800
}

impl Default for MigrationsSpec {
    fn default() -> Self {
        Self {
            mode: MigrationMode::default(),
            backoff_limit: d_backoff(),
            active_deadline_seconds: d_deadline(),
            resources: None,
        }
    }
}

/// How database migrations are applied.
#[derive(
    schemars::JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default,
)]
pub enum MigrationMode {
    #[default]
    Job,
    OnStartup,
}
