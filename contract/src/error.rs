use std::fmt;

/// A variable that breaks a rule. Displayed as one line: `DB_POOL_MIN: must be <= DB_POOL_MAX (20), got 30`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub var: &'static str,
    pub rule: String,
}

impl ConfigError {
    pub fn new(var: &'static str, rule: impl Into<String>) -> Self {
        Self {
            var,
            rule: rule.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.var, self.rule)
    }
}

impl std::error::Error for ConfigError {}
