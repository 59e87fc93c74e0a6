//! The operator's own HTTP endpoint (default :8080): `/healthz`, `/readyz`, `/metrics`.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use prometheus::{
    Encoder, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Operator metrics, in a registry of their own (several operators can share a process in
/// tests).
pub struct Metrics {
    pub registry: Registry,
    /// Reconciles run.
    pub reconciles: IntCounter,
    /// Failed reconciles by Event reason.
    pub errors: IntCounterVec,
    /// Reconcile duration.
    pub duration: Histogram,
    /// WebEDT objects the controller currently manages.
    pub managed: IntGauge,
    /// 1 while this replica holds the leader lease.
    pub leader: IntGauge,
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let reconciles = IntCounter::new(
            "webedt_operator_reconciles_total",
            "Reconciles of WebEDT objects",
        )
        .expect("metric");
        let errors = IntCounterVec::new(
            Opts::new(
                "webedt_operator_reconcile_errors_total",
                "Failed reconciles, by reason",
            ),
            &["reason"],
        )
        .expect("metric");
        let duration = Histogram::with_opts(
            HistogramOpts::new(
                "webedt_operator_reconcile_duration_seconds",
                "Duration of one reconcile",
            )
            .buckets(vec![
                0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ]),
        )
        .expect("metric");
        let managed = IntGauge::new(
            "webedt_operator_managed_objects",
            "WebEDT objects the controller manages",
        )
        .expect("metric");
        let leader = IntGauge::new(
            "webedt_operator_leader",
            "1 while this replica is the leader",
        )
        .expect("metric");
        for c in [
            Box::new(reconciles.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(errors.clone()),
            Box::new(duration.clone()),
            Box::new(managed.clone()),
            Box::new(leader.clone()),
        ] {
            registry.register(c).expect("register metric");
        }
        Self {
            registry,
            reconciles,
            errors,
            duration,
            managed,
            leader,
        }
    }

    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// What the HTTP endpoint reports.
pub struct Health {
    pub metrics: Arc<Metrics>,
    /// Set once the operator reached the API (lease acquired or standing by, or the
    /// controller's cache synced without leader election).
    pub ready: AtomicBool,
}

impl Health {
    pub fn new(metrics: Arc<Metrics>) -> Self {
        Self {
            metrics,
            ready: AtomicBool::new(false),
        }
    }
}

pub fn router(health: Arc<Health>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route(
            "/readyz",
            get(|State(h): State<Arc<Health>>| async move {
                if h.ready.load(Ordering::Acquire) {
                    (StatusCode::OK, "ready\n")
                } else {
                    (StatusCode::SERVICE_UNAVAILABLE, "not ready\n")
                }
            }),
        )
        .route(
            "/metrics",
            get(|State(h): State<Arc<Health>>| async move {
                (
                    [("content-type", "text/plain; version=0.0.4")],
                    h.metrics.render(),
                )
            }),
        )
        .with_state(health)
}

/// Serves until the task is dropped; returns the bound address.
pub async fn serve(
    addr: SocketAddr,
    health: Arc<Health>,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router(health)).await {
            tracing::error!(error = %e, "operator HTTP server stopped");
        }
    });
    Ok((bound, task))
}
