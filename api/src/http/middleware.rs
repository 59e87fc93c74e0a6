use crate::error::error_response;
use crate::state::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use std::time::Instant;
use tracing::Instrument;

static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
static X_CONTAINER_ID: HeaderName = HeaderName::from_static("x-container-id");

/// The request's id: the caller's `X-Request-Id` when it sent a sane one, else a new UUID.
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

/// Paths that probes hit every few seconds: counted in metrics, never logged per request.
fn is_probe(path: &str) -> bool {
    matches!(path, "/live" | "/ready" | "/health")
}

/// Request id, container id, the per-request log line and the route-labelled metrics.
pub async fn observe(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let request_id = req
        .headers()
        .get(&X_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let method = req.method().clone();
    // The route template (`/api/sessions/{id}`), so metric labels stay bounded.
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned());
    let probe = is_probe(req.uri().path());
    let mut response = if probe {
        // Probes are the hottest path and never log: skip the span.
        next.run(req).await
    } else {
        req.extensions_mut().insert(RequestId(request_id.clone()));
        let path = req.uri().path().to_owned();
        let span = tracing::info_span!("request", request_id = %request_id);
        let response = next.run(req).instrument(span.clone()).await;
        span.in_scope(|| {
            tracing::info!(
                method = %method,
                path = %path,
                route = route.as_deref().unwrap_or("unmatched"),
                status = response.status().as_u16(),
                latency_ms = started.elapsed().as_secs_f64() * 1000.0,
                "request"
            )
        });
        response
    };
    state.metrics.http.observe(
        method.as_str(),
        route.as_deref().unwrap_or("unmatched"),
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        headers.insert(X_REQUEST_ID.clone(), v);
    }
    headers.insert(X_CONTAINER_ID.clone(), state.container_header.clone());
    response
}

/// Errors produced outside handlers (405 from the router, 413 from a body limit, a rejection
/// from axum's own extractors) come as plain text; rewrite them into the shared JSON shape.
pub async fn json_errors(req: Request, next: Next) -> Response {
    let response = next.run(req).await;
    let status = response.status();
    if status.as_u16() < 400 || is_json(&response) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&text);
    let message = if text.trim().is_empty() {
        status.canonical_reason().unwrap_or("error").to_string()
    } else {
        text.trim().to_string()
    };
    let mut rewritten = error_response(status, code_for(status), &message, None);
    // Keep headers such as `Allow` (405) and `Retry-After`.
    parts.headers.remove(header::CONTENT_TYPE);
    parts.headers.remove(header::CONTENT_LENGTH);
    for (name, value) in parts.headers.drain().filter_map(|(n, v)| Some((n?, v))) {
        rewritten.headers_mut().insert(name, value);
    }
    rewritten
}

fn is_json(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

fn code_for(status: StatusCode) -> &'static str {
    match status {
        StatusCode::BAD_REQUEST => "bad_request",
        StatusCode::UNAUTHORIZED => "unauthorized",
        StatusCode::FORBIDDEN => "forbidden",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::UNPROCESSABLE_ENTITY => "validation",
        StatusCode::TOO_MANY_REQUESTS => "rate_limited",
        StatusCode::SERVICE_UNAVAILABLE => "unavailable",
        s if s.is_server_error() => "internal",
        _ => "error",
    }
}

/// No route matched: the web UI for GETs outside the API and the probes, else the JSON 404.
pub async fn not_found(req: Request) -> Response {
    crate::ui::fallback(req).await
}
