//! Sharing a session by an unlisted link: the cap on anonymous streams.

use crate::error::ConfigError;
use crate::lookup::Lookup;
use crate::names::*;
use crate::settings::{number, positive};

#[derive(Debug, Clone, PartialEq)]
pub struct ShareSettings {
    /// Open anonymous event streams of one share link on one replica (then 429 `stream_limit`).
    pub streams_per_share: u32,
}

impl Default for ShareSettings {
    fn default() -> Self {
        Self {
            streams_per_share: 20,
        }
    }
}

impl ShareSettings {
    pub fn from_env(env: &impl Lookup) -> Result<Self, ConfigError> {
        let d = Self::default();
        let s = Self {
            streams_per_share: number(env, LIMIT_STREAMS_PER_SHARE, d.streams_per_share)?,
        };
        s.validate()?;
        Ok(s)
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        positive(LIMIT_STREAMS_PER_SHARE, self.streams_per_share.into())
    }

    pub fn to_env(&self) -> Vec<(&'static str, String)> {
        vec![(LIMIT_STREAMS_PER_SHARE, self.streams_per_share.to_string())]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_default_documented_and_zero_refused() {
        let s = ShareSettings {
            streams_per_share: 3,
        };
        assert_eq!(ShareSettings::from_env(&s.to_env()).unwrap(), s);
        for (name, value) in ShareSettings::default().to_env() {
            let doc = crate::VARS.iter().find(|v| v.name == name).expect(name);
            assert_eq!(doc.default, Some(value.as_str()), "{name}");
        }
        let zero = vec![(LIMIT_STREAMS_PER_SHARE, "0".to_string())];
        assert_eq!(
            ShareSettings::from_env(&zero).unwrap_err().var,
            LIMIT_STREAMS_PER_SHARE
        );
    }
}
