//! The HTTP side: `POST /execute` (SSE), `POST /interrupt`, `/live`, `/ready`, `/health`,
//! `/metrics`. `/execute` writes an SSE comment every second, so a client that went away is
//! noticed within a second and its run interrupted (the closed connection *is* the interrupt:
//! behind a Service, `/interrupt` may land on another replica).

use axum::Router;
use axum::body::Body;
use axum::extract::{Json, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use serde_json::json;
use std::convert::Infallible;
use std::time::Duration;

use crate::protocol::ExecuteRequest;
use crate::worker::{StartError, Worker};

pub const KEEPALIVE: Duration = Duration::from_secs(1);

#[derive(Clone)]
struct AppState {
    worker: Worker,
    secret: String,
}

pub fn router(worker: Worker, secret: String) -> Router {
    Router::new()
        .route("/live", get(|| async { "ok" }))
        .route("/ready", get(ready))
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/execute", post(execute))
        .route("/interrupt", post(interrupt))
        .with_state(AppState { worker, secret })
}

fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    (
        status,
        axum::Json(json!({"error": {"code": code, "message": message.into()}})),
    )
        .into_response()
}

/// Constant-time comparison of the Bearer secret.
fn authorised(state: &AppState, headers: &HeaderMap) -> bool {
    let Some(given) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    else {
        return false;
    };
    let (a, b) = (given.as_bytes(), state.secret.as_bytes());
    if a.len() != b.len() || b.is_empty() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn ready(State(s): State<AppState>) -> Response {
    if s.worker.is_draining() {
        error(StatusCode::SERVICE_UNAVAILABLE, "draining", "shutting down")
    } else {
        "ok".into_response()
    }
}

async fn health(State(s): State<AppState>) -> Response {
    axum::Json(s.worker.health()).into_response()
}

async fn metrics(State(s): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        s.worker.metrics().render(),
    )
        .into_response()
}

async fn execute(
    State(s): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<ExecuteRequest>, axum::extract::rejection::JsonRejection>,
) -> Response {
    if !authorised(&s, &headers) {
        return error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "missing or wrong Bearer secret",
        );
    }
    let Json(request) = match body {
        Ok(b) => b,
        Err(e) => return error(StatusCode::BAD_REQUEST, "invalid_request", e.body_text()),
    };
    let handle = match s.worker.start(request) {
        Ok(h) => h,
        Err(e @ StartError::Busy(_)) => {
            return error(StatusCode::SERVICE_UNAVAILABLE, "busy", e.to_string());
        }
        Err(e @ StartError::ShuttingDown) => {
            return error(StatusCode::SERVICE_UNAVAILABLE, "draining", e.to_string());
        }
    };
    let mut ticks = tokio::time::interval(KEEPALIVE);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The handle lives in the stream: when hyper drops the body (client gone), the run stops.
    let stream = futures::stream::unfold((handle, ticks), |(mut handle, mut ticks)| async move {
        let chunk = tokio::select! {
            biased;
            e = handle.events.recv() => Bytes::from(e?.to_sse()),
            _ = ticks.tick() => Bytes::from_static(b": keep-alive\n\n"),
        };
        Some((Ok::<_, Infallible>(chunk), (handle, ticks)))
    });
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header(header::CACHE_CONTROL, "no-cache")
        .header("x-accel-buffering", "no")
        .body(Body::from_stream(stream))
        .expect("static response parts")
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct InterruptBody {
    chat_session_id: String,
}

async fn interrupt(
    State(s): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<InterruptBody>, axum::extract::rejection::JsonRejection>,
) -> Response {
    if !authorised(&s, &headers) {
        return error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "missing or wrong Bearer secret",
        );
    }
    match body {
        Ok(Json(b)) => axum::Json(json!({"interrupted": s.worker.interrupt(&b.chat_session_id)}))
            .into_response(),
        Err(e) => error(StatusCode::BAD_REQUEST, "invalid_request", e.body_text()),
    }
}
