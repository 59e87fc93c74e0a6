//! CSRF defence for cookie-authenticated writes. A browser attaches the session cookie to
//! cross-site requests too, so an unsafe method that relies on the cookie must prove it comes
//! from our own pages: `Sec-Fetch-Site: same-origin` (or `none`, a user-initiated navigation), or
//! an `Origin` equal to the request's host or listed in `ALLOWED_ORIGINS`. A cookie request with
//! neither header is refused. A request whose credential is a Bearer token carries no ambient
//! credential and is exempt — but only `Authorization: Bearer`, the one scheme the extractor
//! uses: a browser behind a basic-auth proxy sends `Authorization: Basic …` by itself, with the
//! cookie, and that cookie is then the credential.
//! (tower-http's layer lets header-less requests through and answers in plain text.)

use axum::extract::Request;
use axum::http::{Method, header};
use axum::response::{IntoResponse, Response};

use super::extract::bearer_token;
use crate::error::{AppError, ErrorCode};
use crate::state::AppState;

/// The 403 to send when a cookie-authenticated unsafe request is not from our pages, else `None`.
/// Called by the one request middleware (`http::middleware::RequestMiddleware`) before the handler runs.
pub fn refusal(state: &AppState, req: &Request) -> Option<Response> {
    if is_safe(req.method())
        || bearer_token(req.headers()).is_some()
        || super::cookie::values(req.headers(), super::cookie::name(state))
            .next()
            .is_none()
        || allowed(req, &state.config.settings.auth.allowed_origins)
    {
        return None;
    }
    Some(
        AppError::Forbidden {
            code: ErrorCode::Csrf,
            message: "cross-site request refused: send Origin or Sec-Fetch-Site from this site"
                .into(),
        }
        .into_response(),
    )
}

pub fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

fn allowed(req: &Request, allowed_origins: &[String]) -> bool {
    let headers = req.headers();
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok())
        && matches!(site, "same-origin" | "none")
    {
        return true;
    }
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    if allowed_origins
        .iter()
        .any(|o| o.trim_end_matches('/') == origin)
    {
        return true;
    }
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let origin_host = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"));
    matches!((origin_host, host), (Some(o), Some(h)) if o.eq_ignore_ascii_case(h))
}
