//! The database connection given as parts instead of a URL — the keys a CloudNativePG `-app`
//! Secret holds (`host`, `port`, `dbname`, `user`, `password`), each a variable of its own — and
//! TLS to the server. The parts are assembled here with every component percent-encoded, so a
//! password with `@`, `/` or `%` works (a URL assembled by Kubernetes with `$(VAR)` would break on
//! them).

use crate::error::ConfigError;
use crate::lookup::Lookup;
use crate::names::*;
use crate::settings::{non_empty, number};

/// libpq's `sslmode` values, which sqlx accepts too.
pub const SSL_MODES: [&str; 6] = [
    "disable",
    "allow",
    "prefer",
    "require",
    "verify-ca",
    "verify-full",
];

/// TLS to PostgreSQL beyond what the URL says; applied to the direct URL as well.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DatabaseTls {
    /// `DB_SSLMODE`: overrides the URL's `sslmode`.
    pub ssl_mode: Option<String>,
    /// `DB_SSLROOTCERT`: a CA bundle file (PEM) the server certificate must chain to.
    pub root_cert: Option<String>,
}

impl DatabaseTls {
    pub fn from_env(env: &impl Lookup) -> Result<Self, ConfigError> {
        let ssl_mode = non_empty(env, DB_SSLMODE);
        if let Some(mode) = &ssl_mode
            && !SSL_MODES.contains(&mode.as_str())
        {
            return Err(ConfigError::new(
                DB_SSLMODE,
                format!("must be one of {}, got `{mode}`", SSL_MODES.join(", ")),
            ));
        }
        Ok(Self {
            ssl_mode,
            root_cert: non_empty(env, DB_SSLROOTCERT),
        })
    }
}

/// `postgres://` URL from `DB_HOST` and friends; `None` when `DB_HOST` is unset.
pub fn url_from_parts(env: &impl Lookup) -> Result<Option<String>, ConfigError> {
    let Some(host) = non_empty(env, DB_HOST) else {
        for name in [DB_PORT, DB_NAME, DB_USER, DB_PASSWORD] {
            if non_empty(env, name).is_some() {
                return Err(ConfigError::new(name, "is set but DB_HOST is not"));
            }
        }
        return Ok(None);
    };
    if host.contains(['/', '@', '?', '#']) || host.chars().any(char::is_whitespace) {
        return Err(ConfigError::new(
            DB_HOST,
            "must be a host name or IP address",
        ));
    }
    let port: u16 = number(env, DB_PORT, 5432)?;
    let user = non_empty(env, DB_USER)
        .ok_or_else(|| ConfigError::new(DB_USER, "is required with DB_HOST"))?;
    let name = non_empty(env, DB_NAME)
        .ok_or_else(|| ConfigError::new(DB_NAME, "is required with DB_HOST"))?;
    // Passwords are taken as they are (no trimming): spaces at either end are legal.
    let password = env.get(DB_PASSWORD).filter(|p| !p.is_empty());
    let host = if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]") // IPv6 literal
    } else {
        host
    };
    let userinfo = match password {
        Some(p) => format!("{}:{}", encode(&user), encode(&p)),
        None => encode(&user),
    };
    Ok(Some(format!(
        "postgres://{userinfo}@{host}:{port}/{}",
        encode(&name)
    )))
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn parts_become_an_encoded_url() {
        let url = url_from_parts(&env(&[
            (DB_HOST, "pg-rw.db.svc"),
            (DB_USER, "app"),
            (DB_NAME, "my db"),
            (DB_PASSWORD, "p@ss/w%rd: x"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(
            url,
            "postgres://app:p%40ss%2Fw%25rd%3A%20x@pg-rw.db.svc:5432/my%20db"
        );
        let v6 = url_from_parts(&env(&[
            (DB_HOST, "::1"),
            (DB_PORT, "6432"),
            (DB_USER, "u"),
            (DB_NAME, "d"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(v6, "postgres://u@[::1]:6432/d");
        assert_eq!(url_from_parts(&env(&[])).unwrap(), None);
    }

    #[test]
    fn incomplete_parts_name_the_variable() {
        let err = |pairs: &[(&str, &str)]| url_from_parts(&env(pairs)).unwrap_err().var;
        assert_eq!(err(&[(DB_HOST, "h"), (DB_NAME, "d")]), DB_USER);
        assert_eq!(err(&[(DB_HOST, "h"), (DB_USER, "u")]), DB_NAME);
        assert_eq!(err(&[(DB_USER, "u")]), DB_USER);
        assert_eq!(
            err(&[(DB_HOST, "h/x"), (DB_USER, "u"), (DB_NAME, "d")]),
            DB_HOST
        );
        assert_eq!(
            err(&[
                (DB_HOST, "h"),
                (DB_PORT, "x"),
                (DB_USER, "u"),
                (DB_NAME, "d")
            ]),
            DB_PORT
        );
        assert_eq!(
            DatabaseTls::from_env(&env(&[(DB_SSLMODE, "sometimes")]))
                .unwrap_err()
                .var,
            DB_SSLMODE
        );
    }
}
