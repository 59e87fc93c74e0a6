//! Health endpoints for load balancers and Kubernetes probes, and the Prometheus scrape at
//! `/metrics`. All unauthenticated; none but `/health/status` touches the database per request
//! (readiness reads the monitor's last result).

use crate::config::BUILD;
use crate::state::AppState;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use serde_json::{Value, json};

// Probes and the scrape are not part of the API's contract (see crate::openapi).
#[allow(clippy::disallowed_methods)]
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .route("/health/status", get(status))
        .route("/ready", get(ready))
        .route("/live", get(live))
        .route("/metrics", get(metrics))
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Fast and database-free: is the process up, and which build is it.
async fn health(State(state): State<AppState>) -> Json<Value> {
    Json(json!({
        "status": "ok",
        "service": "webedt-api",
        "containerId": state.config.container_id(),
        "build": BUILD,
        "timestamp": now(),
    }))
}

/// Always 200 while the process can answer: a database outage must not get pods restarted.
async fn live() -> Json<Value> {
    Json(json!({ "status": "alive" }))
}

/// 200 only when this replica can serve: the database answers, the schema is current and the
/// replica is not draining for shutdown.
async fn ready(State(state): State<AppState>) -> Response {
    if state.lifecycle.is_draining() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "draining" })),
        )
            .into_response();
    }
    let db = state.health.snapshot();
    if db.healthy && db.schema_ready {
        Json(json!({ "status": "ready" })).into_response()
    } else {
        let reason = if db.healthy {
            "migrating"
        } else {
            "database_unavailable"
        };
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "not_ready", "reason": reason })),
        )
            .into_response()
    }
}

/// Detailed status: database, pool, background jobs, process. 503 only when unhealthy.
async fn status(State(state): State<AppState>) -> Response {
    let db = state.health.snapshot();
    let pool = state.db.raw();
    let max = pool.options().get_max_connections();
    let total = pool.size();
    let idle = pool.num_idle() as u32;
    let in_use = total.saturating_sub(idle);
    let waiting = state.db.waiting();
    let status = if !db.healthy || state.lifecycle.is_draining() {
        "unhealthy"
    } else if !db.schema_ready || waiting > 0 || in_use >= max {
        // Serving, but callers queue for connections (or the schema is being migrated).
        "degraded"
    } else {
        "healthy"
    };
    let jobs = if db.healthy {
        crate::jobs::status(state.db.pool()).await.ok()
    } else {
        None
    };
    let code = if status == "unhealthy" {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    let body = json!({
        "status": status,
        "containerId": state.config.container_id(),
        "build": BUILD,
        "timestamp": now(),
        "uptimeSeconds": state.started_at.elapsed().as_secs(),
        "database": {
            "healthy": db.healthy,
            "schemaReady": db.schema_ready,
            "latencyMs": db.latency_ms,
            "connections": {
                "total": total,
                "idle": idle,
                "inUse": in_use,
                "waiting": waiting,
                "max": max,
                "min": pool.options().get_min_connections(),
            },
        },
        "scale": {
            "currentCapacity": "any number of stateless replicas sharing one PostgreSQL",
            "shortTermTarget": "50+ concurrent users",
            "architecture": "horizontally scalable",
        },
        "jobs": jobs,
        "memory": { "rssBytes": rss_bytes() },
    });
    (code, Json(body)).into_response()
}

/// Resident set size from /proc (Linux); `null` elsewhere.
fn rss_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// Prometheus text format, with the pool gauges sampled now.
async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let body = state
        .metrics
        .render(state.db.raw(), state.health.snapshot().healthy);
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
}
