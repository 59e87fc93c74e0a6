//! The web UI: plain ES modules, CSS and one `index.html` from `api/ui/`, compiled into the binary
//! (rust-embed with `debug-embed`, so debug and release builds both embed; no npm step).
//!
//! URLs:
//! - `/assets/<version>/<path>`: a file of `api/ui/`. `<version>` is a hash of every embedded
//!   file, so relative ES-module imports stay inside one version and a new build gets new URLs.
//!   The current version is cached for a year (`immutable`); another version (a page loaded from
//!   an older or newer replica during a rolling upgrade) is served with `no-cache`.
//! - every other GET/HEAD outside `/api`, `/health*`, `/ready`, `/live` and `/metrics` whose last
//!   segment has no dot: `index.html` (the client-side router handles deep links such as
//!   `/sessions/<id>`), `no-cache`, with the security headers.
//! - anything else: the JSON 404 of the API.

use crate::error::AppError;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rust_embed::RustEmbed;
use sha2::{Digest, Sha256};
use std::borrow::Cow;
use std::sync::LazyLock;

#[derive(RustEmbed)]
#[folder = "ui/"]
#[exclude = "*.md"]
struct Assets;

/// The placeholder in `index.html` that becomes `/assets/<version>`.
const ASSET_BASE_PLACEHOLDER: &str = "{{ASSET_BASE}}";

/// No inline script or style, nothing from other origins, no framing.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; \
     object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

const LONG_CACHE: &str = "public, max-age=31536000, immutable";
const NO_CACHE: &str = "no-cache";

/// The hash of every embedded file (path and content), hex, 16 characters.
pub fn asset_version() -> &'static str {
    static VERSION: LazyLock<String> = LazyLock::new(|| {
        let mut names: Vec<Cow<'static, str>> = Assets::iter().collect();
        names.sort();
        let mut hasher = Sha256::new();
        for name in names {
            let file = Assets::get(&name).expect("listed asset exists");
            hasher.update(name.as_bytes());
            hasher.update([0]);
            hasher.update(file.metadata.sha256_hash());
        }
        hex(&hasher.finalize()[..8])
    });
    &VERSION
}

/// `/assets/<version>`: where `index.html` loads its script and stylesheet from.
pub fn asset_base() -> String {
    format!("/assets/{}", asset_version())
}

struct Page {
    body: Vec<u8>,
    etag: String,
}

static INDEX: LazyLock<Page> = LazyLock::new(|| page("index.html"));

/// An embedded HTML page with its asset URLs filled in.
fn page(name: &str) -> Page {
    let file = Assets::get(name).expect("the page is embedded from api/ui/");
    let html = String::from_utf8_lossy(&file.data).replace(ASSET_BASE_PLACEHOLDER, &asset_base());
    let etag = format!("\"{}\"", hex(&Sha256::digest(html.as_bytes())[..12]));
    Page {
        body: html.into_bytes(),
        etag,
    }
}

static DOCS: LazyLock<Page> = LazyLock::new(|| page("docs/docs.html"));

/// `/api/docs`: the API reference page (`docs/docs.html`, which loads the document from
/// `/api/openapi.json` and renders it with `docs/docs.js`), under the same CSP as the app.
pub fn docs_page(headers: &HeaderMap) -> Response {
    let page = &*DOCS;
    respond(
        headers,
        false,
        Cow::Borrowed(&page.body),
        &page.etag,
        "text/html; charset=utf-8",
        NO_CACHE,
        true,
    )
}

/// The router's fallback: the app shell, an asset, or the API's JSON 404.
pub async fn fallback(req: Request) -> Response {
    let method = req.method();
    if method != Method::GET && method != Method::HEAD {
        return AppError::NotFound.into_response();
    }
    let head = method == Method::HEAD;
    let path = req.uri().path();
    if is_reserved(path) {
        return AppError::NotFound.into_response();
    }
    if path == "/assets" {
        return AppError::NotFound.into_response();
    }
    if let Some(rest) = path.strip_prefix("/assets/") {
        return asset(rest, req.headers(), head);
    }
    let last = path.rsplit('/').next().unwrap_or_default();
    if last.contains('.') {
        // `/favicon.ico`, `/robots.txt`, a mistyped asset: not an app route.
        return AppError::NotFound.into_response();
    }
    let page = &*INDEX;
    respond(
        req.headers(),
        head,
        Cow::Borrowed(&page.body),
        &page.etag,
        "text/html; charset=utf-8",
        NO_CACHE,
        true,
    )
}

/// Paths owned by the API and the probes: never the app, even for GET.
fn is_reserved(path: &str) -> bool {
    let under = |prefix: &str| {
        path == prefix
            || path
                .strip_prefix(prefix)
                .is_some_and(|rest| rest.starts_with('/'))
    };
    under("/api")
        || path.starts_with("/health")
        || under("/ready")
        || under("/live")
        || under("/metrics")
}

fn asset(rest: &str, headers: &HeaderMap, head: bool) -> Response {
    let Some((version, name)) = rest.split_once('/') else {
        return AppError::NotFound.into_response();
    };
    if name.is_empty() || name == "index.html" || name.split('/').any(|s| s.is_empty() || s == "..")
    {
        return AppError::NotFound.into_response();
    }
    let Some(file) = Assets::get(name) else {
        return AppError::NotFound.into_response();
    };
    let etag = format!("\"{}\"", hex(&file.metadata.sha256_hash()[..12]));
    let cache = if version == asset_version() {
        LONG_CACHE
    } else {
        NO_CACHE
    };
    respond(
        headers,
        head,
        file.data,
        &etag,
        content_type(name),
        cache,
        name.ends_with(".html"),
    )
}

fn respond(
    req_headers: &HeaderMap,
    head: bool,
    body: Cow<'static, [u8]>,
    etag: &str,
    content_type: &'static str,
    cache: &'static str,
    html: bool,
) -> Response {
    let not_modified = req_headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let status = if not_modified {
        StatusCode::NOT_MODIFIED
    } else {
        StatusCode::OK
    };
    let len = body.len();
    let body = if head || not_modified {
        Body::empty()
    } else {
        Body::from(body)
    };
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if !not_modified {
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    if let Ok(v) = HeaderValue::from_str(etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if html {
        security_headers(h);
    }
    response
}

/// The headers every HTML response carries.
fn security_headers(h: &mut HeaderMap) {
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        HeaderName::from_static("permissions-policy"),
        HeaderValue::from_static("camera=(), microphone=(), geolocation=()"),
    );
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("json") => "application/json",
        Some("webmanifest") => "application/manifest+json",
        Some("txt") => "text/plain; charset=utf-8",
        Some("woff2") => "font/woff2",
        _ => "application/octet-stream",
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests;
