//! Settings for running at scale on one PostgreSQL: the connection pooler in front of it, the
//! direct URL for what a pooler cannot carry, the coalescing of text deltas, and trash retention.

use crate::error::ConfigError;
use crate::lookup::Lookup;
use crate::names::*;

/// What sits between the replicas and PostgreSQL (`DB_POOLER_MODE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PoolerMode {
    /// Direct connections (or a session-mode pooler): prepared statements are cached per
    /// connection and session settings travel in the startup packet.
    #[default]
    None,
    /// A transaction-mode pooler such as PgBouncer (`pool_mode = transaction`): a server
    /// connection is ours only inside a transaction, so every statement runs unprepared inside an
    /// explicit transaction that sets its own timeouts (`SET LOCAL`), and nothing is sent at
    /// startup that PgBouncer would refuse (`options`, `extra_float_digits`).
    Transaction,
}

impl PoolerMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Transaction => "transaction",
        }
    }
}

impl std::str::FromStr for PoolerMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "none" => Ok(Self::None),
            "transaction" => Ok(Self::Transaction),
            other => Err(format!("must be `none` or `transaction`, got `{other}`")),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ScaleSettings {
    /// A URL straight to PostgreSQL for LISTEN and migrations (session state and advisory locks
    /// do not survive a transaction-mode pooler). `None`: `DATABASE_URL` is used.
    pub direct_url: Option<String>,
    pub pooler_mode: PoolerMode,
    /// Consecutive text deltas of a run within this window are stored as one event.
    pub text_coalesce_ms: u64,
    /// Sessions in the trash longer than this are deleted with their events.
    pub trash_retention_days: u32,
}

impl Default for ScaleSettings {
    fn default() -> Self {
        Self {
            direct_url: None,
            pooler_mode: PoolerMode::None,
            text_coalesce_ms: 40,
            trash_retention_days: 30,
        }
    }
}

impl ScaleSettings {
    pub fn from_env(env: &impl Lookup) -> Result<Self, ConfigError> {
        let d = Self::default();
        let direct_url = super::settings::non_empty(env, DATABASE_DIRECT_URL);
        if let Some(url) = &direct_url {
            super::settings::validate_url_named(DATABASE_DIRECT_URL, url)?;
        }
        let pooler_mode = match super::settings::non_empty(env, DB_POOLER_MODE) {
            None => d.pooler_mode,
            Some(v) => v
                .parse()
                .map_err(|rule| ConfigError::new(DB_POOLER_MODE, rule))?,
        };
        let s = Self {
            direct_url,
            pooler_mode,
            text_coalesce_ms: super::settings::number(
                env,
                EVENT_TEXT_COALESCE_MS,
                d.text_coalesce_ms,
            )?,
            trash_retention_days: super::settings::number(
                env,
                TRASH_RETENTION_DAYS,
                d.trash_retention_days,
            )?,
        };
        s.validate()?;
        Ok(s)
    }

    /// The rules on the numbers, shared with the operator (which builds these from its CRD).
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.text_coalesce_ms > 1_000 {
            return Err(ConfigError::new(
                EVENT_TEXT_COALESCE_MS,
                format!(
                    "must be at most 1000 (live text would stutter), got {}",
                    self.text_coalesce_ms
                ),
            ));
        }
        super::settings::positive(TRASH_RETENTION_DAYS, self.trash_retention_days as u64)
    }

    /// The non-secret variables (the direct URL is a credential: the operator passes it from a
    /// Secret).
    pub fn to_env(&self) -> Vec<(&'static str, String)> {
        vec![
            (DB_POOLER_MODE, self.pooler_mode.as_str().to_string()),
            (EVENT_TEXT_COALESCE_MS, self.text_coalesce_ms.to_string()),
            (TRASH_RETENTION_DAYS, self.trash_retention_days.to_string()),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
        pairs.iter().map(|(k, v)| (*k, v.to_string())).collect()
    }

    #[test]
    fn defaults_and_round_trip() {
        let d = ScaleSettings::from_env(&env(&[])).unwrap();
        assert_eq!(d, ScaleSettings::default());
        let s = ScaleSettings {
            direct_url: None,
            pooler_mode: PoolerMode::Transaction,
            text_coalesce_ms: 0,
            trash_retention_days: 7,
        };
        let rendered: Vec<(&'static str, String)> = s.to_env();
        assert_eq!(ScaleSettings::from_env(&rendered).unwrap(), s);
    }

    #[test]
    fn bad_values_name_their_variable() {
        for (pairs, name) in [
            (vec![(DB_POOLER_MODE, "session")], DB_POOLER_MODE),
            (
                vec![(EVENT_TEXT_COALESCE_MS, "5000")],
                EVENT_TEXT_COALESCE_MS,
            ),
            (vec![(TRASH_RETENTION_DAYS, "0")], TRASH_RETENTION_DAYS),
            (
                vec![(DATABASE_DIRECT_URL, "mysql://x/y")],
                DATABASE_DIRECT_URL,
            ),
        ] {
            let err = ScaleSettings::from_env(&env(&pairs)).unwrap_err();
            assert!(err.to_string().starts_with(name), "{err}");
        }
    }
}
