//! Configuration, parsed once at start. The variable names, defaults and rules live in the
//! shared `webedt-contract` crate (the operator writes the same variables); this module adds what
//! only the API needs: the parsed database connect options and build information.

use sqlx::postgres::{PgConnectOptions, PgSslMode};
use std::str::FromStr;
use webedt_contract::{ConfigError, Settings, names};

#[derive(Clone)]
pub struct Config {
    pub settings: Settings,
    pub database: PgConnectOptions,
    /// Straight to PostgreSQL, for LISTEN and migrations: `DATABASE_DIRECT_URL`, else the same as
    /// `database`.
    pub direct_database: PgConnectOptions,
    /// Keys the HMAC of auth tokens; identical on every replica.
    pub session_secret: SessionSecret,
    /// The local run's in-process coding worker; set only by the local run (no `DATABASE_URL`,
    /// no `AI_WORKER_URL`) and by tests standing in for it. Also what lets a session's repository
    /// be a path on this machine.
    pub local_worker: Option<crate::runs::local_worker::LocalWorker>,
    /// `CREDENTIALS_KEYS`, decoded; `None`: connections are unavailable.
    pub keyring: Option<crate::connections::Keyring>,
    /// Requests to user-supplied hosts, with the `OUTBOUND_ALLOWED_HOSTS` allowlist.
    pub outbound: crate::outbound::Outbound,
}

/// Kept out of `Debug` output so it never reaches a log line.
#[derive(Clone)]
pub struct SessionSecret(Vec<u8>);

impl SessionSecret {
    pub fn new(secret: impl Into<Vec<u8>>) -> Self {
        Self(secret.into())
    }

    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for SessionSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionSecret(…)")
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("container_id", &self.settings.container_id)
            .field("http", &self.settings.http)
            .field("pool", &self.settings.pool)
            .finish_non_exhaustive()
    }
}

impl Config {
    /// Combines validated settings with a database URL and secret (which local development may
    /// have supplied after parsing).
    pub fn new(settings: Settings) -> Result<Self, ConfigError> {
        let url = settings
            .database_url
            .as_deref()
            .ok_or_else(|| ConfigError::new(names::DATABASE_URL, "is required for this command"))?;
        let tls = &settings.database_tls;
        let database = with_tls(parse_url(names::DATABASE_URL, url)?, tls)?;
        let direct_database = match settings.scale.direct_url.as_deref() {
            Some(direct) => with_tls(parse_url(names::DATABASE_DIRECT_URL, direct)?, tls)?,
            None => database.clone(),
        };
        let secret = settings.require_session_secret()?.as_bytes().to_vec();
        let keyring = settings
            .credentials_keys
            .as_ref()
            .map(|k| crate::connections::Keyring::parse(k.expose()))
            .transpose()?;
        Ok(Self {
            keyring,
            outbound: crate::outbound::Outbound::new(&settings.outbound_allowed_hosts),
            database,
            direct_database,
            session_secret: SessionSecret::new(secret),
            local_worker: None,
            settings,
        })
    }

    pub fn container_id(&self) -> &str {
        &self.settings.container_id
    }
}

/// `DB_SSLMODE` and `DB_SSLROOTCERT` over what the URL says.
fn with_tls(
    mut options: PgConnectOptions,
    tls: &webedt_contract::DatabaseTls,
) -> Result<PgConnectOptions, ConfigError> {
    if let Some(mode) = &tls.ssl_mode {
        let mode = PgSslMode::from_str(mode)
            .map_err(|_| ConfigError::new(names::DB_SSLMODE, "is not a valid sslmode"))?;
        options = options.ssl_mode(mode);
    }
    if let Some(path) = &tls.root_cert {
        // Read now, so a missing file is a startup error naming the variable rather than a
        // TLS failure on every connection attempt.
        std::fs::metadata(path).map_err(|e| {
            ConfigError::new(names::DB_SSLROOTCERT, format!("cannot read `{path}`: {e}"))
        })?;
        options = options.ssl_root_cert(path);
    }
    Ok(options)
}

fn parse_url(name: &'static str, url: &str) -> Result<PgConnectOptions, ConfigError> {
    PgConnectOptions::from_str(url).map_err(|e| {
        // sqlx's message can echo the URL; report only the kind of problem.
        let kind = e.to_string();
        let kind = kind
            .split(':')
            .next()
            .unwrap_or("malformed URL")
            .to_string();
        ConfigError::new(name, format!("is not a valid URL ({kind})"))
    })
}

/// Build information, fixed at compile time from `BUILD_*` variables (the Dockerfile passes them
/// as build args), with fallbacks for local builds.
#[derive(Debug, Clone, Copy, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildInfo {
    pub commit_sha: &'static str,
    pub timestamp: &'static str,
    pub version: &'static str,
}

pub const BUILD: BuildInfo = BuildInfo {
    commit_sha: match option_env!("BUILD_COMMIT_SHA") {
        Some(v) => v,
        None => "unknown",
    },
    timestamp: match option_env!("BUILD_TIMESTAMP") {
        Some(v) => v,
        None => "unknown",
    },
    version: match option_env!("BUILD_VERSION") {
        Some(v) => v,
        None => env!("CARGO_PKG_VERSION"),
    },
};
