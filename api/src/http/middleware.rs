//! The one middleware every request passes through: [`RequestMiddleware`].

use crate::error::{ErrorCode, error_response};
use crate::state::AppState;
use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::Response;
use futures::future::BoxFuture;
use std::convert::Infallible;
use std::task::{Context, Poll};
use std::time::Instant;
use tower::{Layer, Service};
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

/// The one middleware every request passes through: request id, the CSRF check, the per-request
/// log line, the JSON rewrite of errors produced outside handlers, the route-labelled metrics and
/// the `X-Request-Id`/`X-Container-ID` headers. It sits on each route (it needs the matched
/// route for the metric label). One hand-written layer rather than a `from_fn` per concern,
/// each of which would clone the state and box services and a future per request
/// (BENCHMARKS.md, P1).
#[derive(Clone)]
pub struct RequestMiddlewareLayer(pub AppState);

impl<S> Layer<S> for RequestMiddlewareLayer {
    type Service = RequestMiddleware<S>;

    fn layer(&self, inner: S) -> RequestMiddleware<S> {
        RequestMiddleware {
            inner,
            state: self.0.clone(),
        }
    }
}

/// The service [`RequestMiddlewareLayer`] wraps each route in.
#[derive(Clone)]
pub struct RequestMiddleware<S> {
    inner: S,
    state: AppState,
}

impl<S> Service<Request> for RequestMiddleware<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        // The clone takes the place of the service that was polled ready (tower's usual swap).
        let fresh = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, fresh);
        let state = self.state.clone();
        Box::pin(async move { Ok(handle(state, req, inner).await) })
    }
}

async fn handle<S>(state: AppState, mut req: Request, mut inner: S) -> Response
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    let started = Instant::now();
    // Kept as a header value: echoing the caller's id is a reference-count bump, a new one is
    // formatted on the stack (no `String` on the probe path).
    let request_id = req
        .headers()
        .get(&X_REQUEST_ID)
        .filter(|v| {
            !v.is_empty() && v.len() <= 128 && v.as_bytes().iter().all(u8::is_ascii_graphic)
        })
        .cloned()
        .unwrap_or_else(new_request_id);
    let method = req.method().clone();
    // The route template (`/api/sessions/{id}`), so metric labels stay bounded.
    let route = req.extensions().get::<MatchedPath>().cloned();
    let probe = is_probe(req.uri().path());
    let mut response = if probe {
        // Probes are the hottest path, never log and are all GETs (no CSRF check): skip the span.
        json_errors(unwrap(inner.call(req).await)).await
    } else {
        // Only visible ASCII passed the filter above, so `to_str` cannot fail.
        let id = request_id.to_str().unwrap_or_default().to_owned();
        let span = tracing::info_span!("request", request_id = %id);
        req.extensions_mut().insert(RequestId(id));
        // Only a cookie session slides its cookie (`SessionToken` reads the renewal only when
        // no bearer token was sent): API clients without cookies skip the allocation.
        let renewal = req
            .headers()
            .contains_key(header::COOKIE)
            .then(crate::auth::cookie::Renewal::default);
        if let Some(renewal) = &renewal {
            req.extensions_mut().insert(renewal.clone());
        }
        // The path is copied only for the log line, and only when it will be written.
        let path = tracing::enabled!(tracing::Level::INFO).then(|| req.uri().path().to_owned());
        let response = match crate::auth::csrf::refusal(&state, &req) {
            Some(refused) => refused,
            None => match read_body(&state, req, route.as_ref()).await {
                Ok(req) => {
                    json_errors(unwrap(inner.call(req).instrument(span.clone()).await)).await
                }
                Err(refused) => refused,
            },
        };
        let mut response = response;
        if let Some(token) = renewal.and_then(|r| r.take())
            && !response.headers().contains_key(header::SET_COOKIE)
        {
            let cookie =
                crate::auth::cookie::set_cookie(&state, &token, crate::auth::cookie::MAX_AGE_SECS);
            response.headers_mut().insert(header::SET_COOKIE, cookie);
        }
        span.in_scope(|| {
            tracing::info!(
                method = %method,
                path = path.as_deref().unwrap_or_default(),
                route = route.as_ref().map_or("unmatched", MatchedPath::as_str),
                status = response.status().as_u16(),
                latency_ms = started.elapsed().as_secs_f64() * 1000.0,
                "request"
            )
        });
        response
    };
    state.metrics.http.observe(
        &method,
        route.as_ref().map_or("unmatched", MatchedPath::as_str),
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    let json = is_json(&response);
    let headers = response.headers_mut();
    // API answers are per user: no shared or browser cache may keep them.
    if json && !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // Secure cookies mean the deployment is served over https: keep browsers on it.
    if state.config.settings.auth.cookie_secure {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    headers.insert(X_REQUEST_ID.clone(), request_id);
    headers.insert(X_CONTAINER_ID.clone(), state.container_header.clone());
    response
}

/// Reads the request body before the handler runs, within `HTTP_BODY_TIMEOUT_MS` (else 408 and
/// the connection closes) and `BODY_LIMIT_BYTES` (else 413). A client that sends its head and
/// then a byte a minute would otherwise hold the handler, and whatever it acquired, forever.
/// Every body this API accepts is a small JSON document that handlers buffer anyway.
async fn read_body(
    state: &AppState,
    req: Request,
    route: Option<&MatchedPath>,
) -> Result<Request, Response> {
    use axum::body::{Body, HttpBody};
    use futures::StreamExt;
    let unsafe_method = !crate::auth::csrf::is_safe(req.method());
    let content_type = req.headers().get(header::CONTENT_TYPE);
    if unsafe_method && content_type.is_some_and(|v| !is_json_type(v)) {
        return Err(unsupported_media_type());
    }
    let typed = content_type.is_some();
    if req.body().is_end_stream() {
        return Ok(req);
    }
    // An image upload carries an image's base64: its own, larger bound.
    let limit = if route.is_some_and(|r| r.as_str() == crate::images::UPLOAD_ROUTE)
        && req.method() == axum::http::Method::POST
    {
        crate::images::upload_body_limit(&state.config.settings)
    } else {
        state.config.settings.http.body_limit_bytes
    };
    let deadline = std::time::Duration::from_millis(state.config.settings.limits.body_timeout_ms);
    let (parts, body) = req.into_parts();
    let read = async move {
        let mut stream = body.into_data_stream();
        let mut buf = bytes::BytesMut::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| {
                error_response(
                    StatusCode::BAD_REQUEST,
                    ErrorCode::BadRequest,
                    &e.to_string(),
                    None,
                )
            })?;
            if buf.len() + chunk.len() > limit {
                return Err(error_response(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    ErrorCode::PayloadTooLarge,
                    "request body too large",
                    None,
                ));
            }
            buf.extend_from_slice(&chunk);
        }
        Ok(buf.freeze())
    };
    match tokio::time::timeout(deadline, read).await {
        // Every write route takes JSON: a body of another kind (a cross-site form's
        // `text/plain`) or of no declared kind is refused before any handler sees it.
        Ok(Ok(bytes)) if unsafe_method && !typed && !bytes.is_empty() => {
            Err(unsupported_media_type())
        }
        Ok(Ok(bytes)) => Ok(Request::from_parts(parts, Body::from(bytes))),
        Ok(Err(refused)) => Err(refused),
        Err(_) => {
            let mut response = error_response(
                StatusCode::REQUEST_TIMEOUT,
                ErrorCode::RequestTimeout,
                "the request body did not arrive in time",
                None,
            );
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            Err(response)
        }
    }
}

fn is_json_type(value: &HeaderValue) -> bool {
    let mime = value
        .to_str()
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim();
    mime.eq_ignore_ascii_case("application/json")
        || (mime.starts_with("application/") && mime.ends_with("+json"))
}

fn unsupported_media_type() -> Response {
    error_response(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ErrorCode::UnsupportedMediaType,
        "expected a request with `Content-Type: application/json`",
        None,
    )
}

fn new_request_id() -> HeaderValue {
    let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
    let id = uuid::Uuid::new_v4().hyphenated().encode_lower(&mut buf);
    HeaderValue::from_str(id).expect("a UUID is a valid header value")
}

fn unwrap(result: Result<Response, Infallible>) -> Response {
    match result {
        Ok(response) => response,
        Err(never) => match never {},
    }
}

/// Errors produced outside handlers (405 from the router, 413 from a body limit, a rejection
/// from axum's own extractors) come as plain text; rewrite them into the shared JSON shape.
async fn json_errors(response: Response) -> Response {
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

fn code_for(status: StatusCode) -> ErrorCode {
    match status {
        StatusCode::BAD_REQUEST => ErrorCode::BadRequest,
        StatusCode::UNAUTHORIZED => ErrorCode::Unauthorized,
        StatusCode::FORBIDDEN => ErrorCode::Forbidden,
        StatusCode::NOT_FOUND => ErrorCode::NotFound,
        StatusCode::METHOD_NOT_ALLOWED => ErrorCode::MethodNotAllowed,
        StatusCode::REQUEST_TIMEOUT => ErrorCode::RequestTimeout,
        StatusCode::PAYLOAD_TOO_LARGE => ErrorCode::PayloadTooLarge,
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ErrorCode::UnsupportedMediaType,
        StatusCode::UNPROCESSABLE_ENTITY => ErrorCode::Validation,
        StatusCode::TOO_MANY_REQUESTS => ErrorCode::RateLimited,
        StatusCode::SERVICE_UNAVAILABLE => ErrorCode::Unavailable,
        s if s.is_server_error() => ErrorCode::Internal,
        _ => ErrorCode::Error,
    }
}

/// No route matched: the web UI for GETs outside the API and the probes, else the JSON 404.
pub async fn not_found(req: Request) -> Response {
    crate::ui::fallback(req).await
}
