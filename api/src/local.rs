//! Local development with no setup: when `DATABASE_URL` is unset, `webedt-api` starts a private
//! PostgreSQL that keeps its data under `.webedt/` (or a per-checkout temp directory when the
//! server's account cannot reach the checkout) and a generated session secret beside it.

use anyhow::Context;
use sqlx::Connection;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use webedt_devdb::{Cluster, ClusterOptions};

pub const DATABASE: &str = "webedt";

pub struct LocalDatabase {
    /// Stopped on drop, when this process started it.
    pub cluster: Cluster,
    pub url: String,
    pub session_secret: String,
    /// A `CREDENTIALS_KEYS` value generated once and kept beside the session secret.
    pub credentials_keys: String,
}

/// `.webedt/` in the working directory.
pub fn state_dir() -> PathBuf {
    PathBuf::from(".webedt")
}

pub async fn start(state_dir: &Path) -> anyhow::Result<LocalDatabase> {
    std::fs::create_dir_all(state_dir)
        .with_context(|| format!("create {}", state_dir.display()))?;
    let pg_dir = std::path::absolute(state_dir.join("pg"))?;
    let cluster =
        tokio::task::spawn_blocking(move || Cluster::start(ClusterOptions::persistent(&pg_dir)))
            .await??;
    let mut admin = sqlx::PgConnection::connect(&cluster.url("postgres")).await?;
    let exists: Option<i32> = sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
        .bind(DATABASE)
        .fetch_optional(&mut admin)
        .await?;
    if exists.is_none() {
        sqlx::query("CREATE DATABASE webedt")
            .execute(&mut admin)
            .await?;
    }
    admin.close().await?;
    Ok(LocalDatabase {
        url: cluster.url(DATABASE),
        session_secret: session_secret(state_dir)?,
        credentials_keys: credentials_keys(state_dir)?,
        cluster,
    })
}

/// A secret generated once and kept (0600), so logins survive restarts of the dev server.
fn session_secret(state_dir: &Path) -> anyhow::Result<String> {
    let path = state_dir.join("session-secret");
    if let Ok(existing) = std::fs::read_to_string(&path) {
        let existing = existing.trim().to_string();
        if existing.len() >= webedt_contract::MIN_SESSION_SECRET_BYTES {
            return Ok(existing);
        }
    }
    let secret: String = rand::Rng::sample_iter(rand::rng(), rand::distr::Alphanumeric)
        .take(48)
        .map(char::from)
        .collect();
    write_private(&path, &secret)?;
    Ok(secret)
}

/// The local run's token encryption key, kept (0600) so stored connections survive restarts.
/// Losing the file loses the connections (they no longer decrypt), nothing else.
fn credentials_keys(state_dir: &Path) -> anyhow::Result<String> {
    let path = state_dir.join("credentials-keys");
    if let Ok(existing) = std::fs::read_to_string(&path) {
        let existing = existing.trim().to_string();
        if crate::connections::Keyring::parse(&existing).is_ok() {
            return Ok(existing);
        }
    }
    let keys = crate::connections::Keyring::generate_entry("local");
    write_private(&path, &keys)?;
    Ok(keys)
}

fn write_private(path: &Path, secret: &str) -> anyhow::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("write {}", path.display()))?;
    file.write_all(secret.as_bytes())?;
    Ok(())
}
