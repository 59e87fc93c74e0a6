//! Images pasted into prompts: how large one may be and how many a prompt or a session holds.

use crate::error::ConfigError;
use crate::lookup::Lookup;
use crate::names::*;
use crate::settings::{number, positive};

#[derive(Debug, Clone, PartialEq)]
pub struct ImageSettings {
    /// Largest image in bytes (the decoded file); larger uploads get 413.
    pub max_bytes: usize,
    /// Images one prompt may carry; more get 422.
    pub per_message: u32,
    /// Images one session may hold (uploaded, whether sent or not); more get 422.
    pub per_session: u32,
}

impl Default for ImageSettings {
    fn default() -> Self {
        Self {
            // Anthropic takes at most 5 MB per image, counted on its base64 text: 3.5 MiB of
            // bytes stays under that.
            max_bytes: 3_670_016,
            per_message: 8,
            per_session: 100,
        }
    }
}

impl ImageSettings {
    pub fn from_env(env: &impl Lookup) -> Result<Self, ConfigError> {
        let d = Self::default();
        let s = Self {
            max_bytes: number(env, IMAGE_MAX_BYTES, d.max_bytes)?,
            per_message: number(env, IMAGE_MAX_PER_MESSAGE, d.per_message)?,
            per_session: number(env, IMAGE_MAX_PER_SESSION, d.per_session)?,
        };
        s.validate()?;
        Ok(s)
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        positive(IMAGE_MAX_BYTES, self.max_bytes as u64)?;
        // A row is one bytea value; PostgreSQL's own bound is 1 GB, ours far below.
        if self.max_bytes > 64 * 1024 * 1024 {
            return Err(ConfigError::new(
                IMAGE_MAX_BYTES,
                format!("must be at most 67108864 (64 MiB), got {}", self.max_bytes),
            ));
        }
        positive(IMAGE_MAX_PER_MESSAGE, self.per_message.into())?;
        positive(IMAGE_MAX_PER_SESSION, self.per_session.into())?;
        Ok(())
    }

    pub fn to_env(&self) -> Vec<(&'static str, String)> {
        vec![
            (IMAGE_MAX_BYTES, self.max_bytes.to_string()),
            (IMAGE_MAX_PER_MESSAGE, self.per_message.to_string()),
            (IMAGE_MAX_PER_SESSION, self.per_session.to_string()),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_limits_survive_a_round_trip_and_defaults_match_the_table() {
        let s = ImageSettings {
            max_bytes: 1000,
            per_message: 2,
            per_session: 3,
        };
        assert_eq!(ImageSettings::from_env(&s.to_env()).unwrap(), s);
        for (name, value) in ImageSettings::default().to_env() {
            let doc = crate::VARS.iter().find(|v| v.name == name).expect(name);
            assert_eq!(doc.default, Some(value.as_str()), "{name}");
        }
        for (name, _) in ImageSettings::default().to_env() {
            let env = vec![(name, "0".to_string())];
            assert_eq!(ImageSettings::from_env(&env).unwrap_err().var, name);
        }
    }
}
