//! The session cookie: its name, its attributes, and which of several sent ones is ours.
//!
//! With `COOKIE_SECURE` the name carries the `__Host-` prefix: browsers then only accept it
//! `Secure`, from this host, with `Path=/` and no `Domain`, so a sibling subdomain cannot plant
//! one. Its `Max-Age` is the session's lifetime, renewed whenever the server slides the session
//! (`AuthUser` records the renewal, the request middleware sends the new cookie).

use axum::http::{HeaderMap, HeaderValue, header};
use std::sync::{Arc, LazyLock, Mutex};
use webedt_contract::names::{SECURE_COOKIE_PREFIX, SESSION_COOKIE};

use crate::state::AppState;

/// Days a login session lives without use (it slides with use).
pub const SESSION_DAYS: i64 = 30;
pub const MAX_AGE_SECS: i64 = SESSION_DAYS * 24 * 3600;

static SECURE_NAME: LazyLock<String> =
    LazyLock::new(|| format!("{SECURE_COOKIE_PREFIX}{SESSION_COOKIE}"));

/// The cookie's name on this deployment.
pub fn name(state: &AppState) -> &'static str {
    if state.config.settings.auth.cookie_secure {
        SECURE_NAME.as_str()
    } else {
        SESSION_COOKIE
    }
}

/// `Set-Cookie` for `value` (empty with `max_age` 0 to remove it).
pub fn set_cookie(state: &AppState, value: &str, max_age: i64) -> HeaderValue {
    let secure = if state.config.settings.auth.cookie_secure {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{}={value}; HttpOnly; SameSite=Lax; Path=/; Max-Age={max_age}{secure}",
        name(state)
    ))
    .expect("cookie value is ASCII")
}

/// Every value sent under our cookie name, in the order sent (a planted duplicate can come
/// first; the extractor keeps the one that is a live session).
pub fn values<'h>(headers: &'h HeaderMap, name: &'h str) -> impl Iterator<Item = &'h str> + 'h {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(move |(n, _)| *n == name)
        .map(|(_, value)| value.trim())
}

/// Set by the request middleware on every non-probe request; the session extractor fills it
/// when it slid a cookie session's expiry, and the middleware then renews the cookie.
#[derive(Clone, Default)]
pub struct Renewal(pub Arc<Mutex<Option<String>>>);

impl Renewal {
    pub fn renew(&self, token: &str) {
        *self.0.lock().expect("renewal lock") = Some(token.to_owned());
    }

    pub fn take(&self) -> Option<String> {
        self.0.lock().expect("renewal lock").take()
    }
}
