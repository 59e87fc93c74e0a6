//! Connection hygiene and abuse limits. Every default is far above what a normal user or a
//! normal client ever reaches; they exist so one client cannot take a replica's connections,
//! file descriptors, database rows or provider budget.

use crate::error::ConfigError;
use crate::lookup::Lookup;
use crate::names::*;
use crate::settings::{number, positive};

#[derive(Debug, Clone, PartialEq)]
pub struct LimitSettings {
    /// Longest time a client may take to send a request head. hyper's one timer also covers the
    /// wait for the next request on a kept-alive connection, so this is the idle timeout too.
    pub header_timeout_ms: u64,
    /// Longest time a client may take to send a request body (then 408).
    pub body_timeout_ms: u64,
    /// Open connections per replica; above it a connection is answered 503 and closed (probes
    /// excepted).
    pub max_connections: usize,
    /// Open event streams per user on one replica (the scarce resource is its descriptors).
    pub streams_per_user: u32,
    /// Runs in progress per user, across all replicas.
    pub runs_per_user: u32,
    /// Runs a user may start per minute, across all replicas.
    pub runs_per_minute: u32,
    /// Accounts one client IP (IPv6: its /64) may register per hour.
    pub registrations_per_ip_hour: u32,
    /// Failed logins per (account, client IP) in 15 minutes before that pair gets 429.
    pub login_failures_per_account_ip: u32,
    /// Failed logins per client IP (any account) in 15 minutes before that IP gets 429.
    pub login_failures_per_ip: u32,
    /// Failed logins of one account (any IP) in 15 minutes after which every attempt on it is
    /// slowed down (never refused).
    pub login_slowdown_after: u32,
    /// Days an audit entry is kept.
    pub audit_retention_days: u32,
}

impl Default for LimitSettings {
    fn default() -> Self {
        Self {
            header_timeout_ms: 20_000,
            body_timeout_ms: 30_000,
            max_connections: 16_384,
            streams_per_user: 100,
            runs_per_user: 5,
            runs_per_minute: 30,
            registrations_per_ip_hour: 20,
            login_failures_per_account_ip: 10,
            login_failures_per_ip: 100,
            login_slowdown_after: 50,
            audit_retention_days: 90,
        }
    }
}

impl LimitSettings {
    pub fn from_env(env: &impl Lookup) -> Result<Self, ConfigError> {
        let d = Self::default();
        let s = Self {
            header_timeout_ms: number(env, HTTP_HEADER_TIMEOUT_MS, d.header_timeout_ms)?,
            body_timeout_ms: number(env, HTTP_BODY_TIMEOUT_MS, d.body_timeout_ms)?,
            max_connections: number(env, HTTP_MAX_CONNECTIONS, d.max_connections)?,
            streams_per_user: number(env, LIMIT_STREAMS_PER_USER, d.streams_per_user)?,
            runs_per_user: number(env, LIMIT_RUNS_PER_USER, d.runs_per_user)?,
            runs_per_minute: number(env, LIMIT_RUNS_PER_MINUTE, d.runs_per_minute)?,
            registrations_per_ip_hour: number(
                env,
                LIMIT_REGISTRATIONS_PER_IP_HOUR,
                d.registrations_per_ip_hour,
            )?,
            login_failures_per_account_ip: number(
                env,
                LIMIT_LOGIN_FAILURES_PER_ACCOUNT_IP,
                d.login_failures_per_account_ip,
            )?,
            login_failures_per_ip: number(
                env,
                LIMIT_LOGIN_FAILURES_PER_IP,
                d.login_failures_per_ip,
            )?,
            login_slowdown_after: number(env, LIMIT_LOGIN_SLOWDOWN_AFTER, d.login_slowdown_after)?,
            audit_retention_days: number(env, AUDIT_RETENTION_DAYS, d.audit_retention_days)?,
        };
        s.validate()?;
        Ok(s)
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        positive(HTTP_HEADER_TIMEOUT_MS, self.header_timeout_ms)?;
        positive(HTTP_BODY_TIMEOUT_MS, self.body_timeout_ms)?;
        positive(HTTP_MAX_CONNECTIONS, self.max_connections as u64)?;
        positive(LIMIT_STREAMS_PER_USER, self.streams_per_user.into())?;
        positive(LIMIT_RUNS_PER_USER, self.runs_per_user.into())?;
        positive(LIMIT_RUNS_PER_MINUTE, self.runs_per_minute.into())?;
        positive(
            LIMIT_REGISTRATIONS_PER_IP_HOUR,
            self.registrations_per_ip_hour.into(),
        )?;
        positive(
            LIMIT_LOGIN_FAILURES_PER_ACCOUNT_IP,
            self.login_failures_per_account_ip.into(),
        )?;
        positive(
            LIMIT_LOGIN_FAILURES_PER_IP,
            self.login_failures_per_ip.into(),
        )?;
        positive(LIMIT_LOGIN_SLOWDOWN_AFTER, self.login_slowdown_after.into())?;
        positive(AUDIT_RETENTION_DAYS, self.audit_retention_days.into())?;
        Ok(())
    }

    pub fn to_env(&self) -> Vec<(&'static str, String)> {
        vec![
            (HTTP_HEADER_TIMEOUT_MS, self.header_timeout_ms.to_string()),
            (HTTP_BODY_TIMEOUT_MS, self.body_timeout_ms.to_string()),
            (HTTP_MAX_CONNECTIONS, self.max_connections.to_string()),
            (LIMIT_STREAMS_PER_USER, self.streams_per_user.to_string()),
            (LIMIT_RUNS_PER_USER, self.runs_per_user.to_string()),
            (LIMIT_RUNS_PER_MINUTE, self.runs_per_minute.to_string()),
            (
                LIMIT_REGISTRATIONS_PER_IP_HOUR,
                self.registrations_per_ip_hour.to_string(),
            ),
            (
                LIMIT_LOGIN_FAILURES_PER_ACCOUNT_IP,
                self.login_failures_per_account_ip.to_string(),
            ),
            (
                LIMIT_LOGIN_FAILURES_PER_IP,
                self.login_failures_per_ip.to_string(),
            ),
            (
                LIMIT_LOGIN_SLOWDOWN_AFTER,
                self.login_slowdown_after.to_string(),
            ),
            (AUDIT_RETENTION_DAYS, self.audit_retention_days.to_string()),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_survive_a_round_trip_and_defaults_match_the_table() {
        let limits = LimitSettings {
            header_timeout_ms: 1,
            body_timeout_ms: 2,
            max_connections: 3,
            streams_per_user: 4,
            runs_per_user: 5,
            runs_per_minute: 6,
            registrations_per_ip_hour: 7,
            login_failures_per_account_ip: 8,
            login_failures_per_ip: 9,
            login_slowdown_after: 10,
            audit_retention_days: 11,
        };
        assert_eq!(LimitSettings::from_env(&limits.to_env()).unwrap(), limits);
        let defaults = LimitSettings::default().to_env();
        for (name, value) in defaults {
            let doc = crate::VARS.iter().find(|v| v.name == name).expect(name);
            assert_eq!(doc.default, Some(value.as_str()), "{name}");
        }
    }

    #[test]
    fn zero_limits_are_refused_by_name() {
        for (name, _) in LimitSettings::default().to_env() {
            let env = vec![(name, "0".to_string())];
            assert_eq!(LimitSettings::from_env(&env).unwrap_err().var, name);
        }
    }
}
