//! Abuse limits, connection hygiene and retention. Each field is a variable of the API's env
//! contract (`webedt-contract`), whose defaults these are, so the CRD and the API cannot
//! disagree; the defaults are far above what a normal user or client ever reaches.

use kube::KubeSchema;
use serde::{Deserialize, Serialize};
use webedt_contract::{LimitSettings, ScaleSettings};

/// What one client or one user may hold of a replica or of the installation. Per-replica limits
/// protect that replica's descriptors; per-user run limits hold across all replicas (counted in
/// PostgreSQL).
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct LimitsSpec {
    /// Longest time, in milliseconds, a client may take to send a request head; also the idle
    /// timeout of a kept-alive connection (HTTP_HEADER_TIMEOUT_MS).
    #[serde(default = "d_header")]
    #[schemars(range(min = 1, max = 3_600_000))]
    pub header_timeout_ms: u64,
    /// Longest time, in milliseconds, a client may take to send a request body; then 408
    /// (HTTP_BODY_TIMEOUT_MS).
    #[serde(default = "d_body")]
    #[schemars(range(min = 1, max = 3_600_000))]
    pub body_timeout_ms: u64,
    /// Open connections per replica; above it a connection is answered 503 and closed, while
    /// the probes still answer (HTTP_MAX_CONNECTIONS).
    #[serde(default = "d_conns")]
    #[schemars(range(min = 1, max = 1_000_000))]
    pub connections_per_replica: u32,
    /// Open event streams one user may hold on one replica (LIMIT_STREAMS_PER_USER).
    #[serde(default = "d_streams")]
    #[schemars(range(min = 1, max = 100_000))]
    pub streams_per_user: u32,
    /// Runs in progress per user, across all replicas (LIMIT_RUNS_PER_USER).
    #[serde(default = "d_runs")]
    #[schemars(range(min = 1, max = 100_000))]
    pub runs_per_user: u32,
    /// Runs a user may start per minute, across all replicas (LIMIT_RUNS_PER_MINUTE).
    #[serde(default = "d_runs_minute")]
    #[schemars(range(min = 1, max = 100_000))]
    pub runs_per_minute: u32,
    /// Accounts one client IP (IPv6: its /64) may register per hour
    /// (LIMIT_REGISTRATIONS_PER_IP_HOUR). Behind an Ingress the client IP is only known when
    /// ingress.trustedProxyHops is right.
    #[serde(default = "d_registrations")]
    #[schemars(range(min = 1, max = 1_000_000))]
    pub registrations_per_ip_hour: u32,
    /// Failed logins per (account, client IP) in 15 minutes before that pair gets 429
    /// (LIMIT_LOGIN_FAILURES_PER_ACCOUNT_IP). The right password from another IP still logs
    /// in, so an attacker cannot lock a user out.
    #[serde(default = "d_fail_account_ip")]
    #[schemars(range(min = 1, max = 1_000_000))]
    pub login_failures_per_account_ip: u32,
    /// Failed logins per client IP, any account, in 15 minutes before that IP gets 429
    /// (LIMIT_LOGIN_FAILURES_PER_IP).
    #[serde(default = "d_fail_ip")]
    #[schemars(range(min = 1, max = 1_000_000))]
    pub login_failures_per_ip: u32,
    /// Failed logins of one account from any IP in 15 minutes after which every attempt on it
    /// is slowed down, never refused (LIMIT_LOGIN_SLOWDOWN_AFTER).
    #[serde(default = "d_slowdown")]
    #[schemars(range(min = 1, max = 1_000_000))]
    pub login_slowdown_after: u32,
}

/// How long deleted and recorded data is kept.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RetentionSpec {
    /// Days a session stays in the trash before it is deleted with its events
    /// (TRASH_RETENTION_DAYS).
    #[serde(default = "d_trash")]
    #[schemars(range(min = 1, max = 36_500))]
    pub trash_days: u32,
    /// Days an audit-log entry is kept (AUDIT_RETENTION_DAYS).
    #[serde(default = "d_audit")]
    #[schemars(range(min = 1, max = 36_500))]
    pub audit_days: u32,
}

/// How runs' events are written.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct EventsSpec {
    /// Consecutive text deltas of a run within this many milliseconds are stored as one event
    /// (EVENT_TEXT_COALESCE_MS): fewer commits and less WAL per delivered character. 0 stores
    /// every delta.
    #[serde(default = "d_coalesce")]
    #[schemars(range(max = 1000))]
    pub text_coalesce_ms: u64,
}

fn limits() -> LimitSettings {
    LimitSettings::default()
}
fn d_header() -> u64 {
    limits().header_timeout_ms
}
fn d_body() -> u64 {
    limits().body_timeout_ms
}
fn d_conns() -> u32 {
    limits().max_connections as u32
}
fn d_streams() -> u32 {
    limits().streams_per_user
}
fn d_runs() -> u32 {
    limits().runs_per_user
}
fn d_runs_minute() -> u32 {
    limits().runs_per_minute
}
fn d_registrations() -> u32 {
    limits().registrations_per_ip_hour
}
fn d_fail_account_ip() -> u32 {
    limits().login_failures_per_account_ip
}
fn d_fail_ip() -> u32 {
    limits().login_failures_per_ip
}
fn d_slowdown() -> u32 {
    limits().login_slowdown_after
}
fn d_audit() -> u32 {
    limits().audit_retention_days
}
fn d_trash() -> u32 {
    ScaleSettings::default().trash_retention_days
}
fn d_coalesce() -> u64 {
    ScaleSettings::default().text_coalesce_ms
}

impl Default for LimitsSpec {
    fn default() -> Self {
        let l = limits();
        Self {
            header_timeout_ms: l.header_timeout_ms,
            body_timeout_ms: l.body_timeout_ms,
            connections_per_replica: l.max_connections as u32,
            streams_per_user: l.streams_per_user,
            runs_per_user: l.runs_per_user,
            runs_per_minute: l.runs_per_minute,
            registrations_per_ip_hour: l.registrations_per_ip_hour,
            login_failures_per_account_ip: l.login_failures_per_account_ip,
            login_failures_per_ip: l.login_failures_per_ip,
            login_slowdown_after: l.login_slowdown_after,
        }
    }
}

impl Default for RetentionSpec {
    fn default() -> Self {
        Self {
            trash_days: d_trash(),
            audit_days: d_audit(),
        }
    }
}

impl Default for EventsSpec {
    fn default() -> Self {
        Self {
            text_coalesce_ms: d_coalesce(),
        }
    }
}

impl LimitsSpec {
    /// The contract's settings; the audit retention lives in spec.retention.
    pub fn to_settings(&self, retention: &RetentionSpec) -> LimitSettings {
        LimitSettings {
            header_timeout_ms: self.header_timeout_ms,
            body_timeout_ms: self.body_timeout_ms,
            max_connections: self.connections_per_replica as usize,
            streams_per_user: self.streams_per_user,
            runs_per_user: self.runs_per_user,
            runs_per_minute: self.runs_per_minute,
            registrations_per_ip_hour: self.registrations_per_ip_hour,
            login_failures_per_account_ip: self.login_failures_per_account_ip,
            login_failures_per_ip: self.login_failures_per_ip,
            login_slowdown_after: self.login_slowdown_after,
            audit_retention_days: retention.audit_days,
        }
    }
}
