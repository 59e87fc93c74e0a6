//! Prometheus metrics of this replica, rendered in the text format (`health` serves them at
//! `/metrics`). Depends on nothing above it: handlers and middleware record into it.

mod http;
mod runs;

use prometheus::{Encoder, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder};
use sqlx::PgPool;

pub use http::HttpMetrics;
pub use runs::{RunMetrics, StreamGuard};

pub struct Metrics {
    registry: Registry,
    pub http: HttpMetrics,
    pub runs: RunMetrics,
    pool_connections: IntGaugeVec,
    pool_max: IntGauge,
    db_up: IntGauge,
}

impl Metrics {
    pub fn new(build: &crate::config::BuildInfo, container_id: &str) -> Self {
        let registry = Registry::new();
        let http = HttpMetrics::new(&registry);
        let runs = RunMetrics::new(&registry);
        let pool_connections = IntGaugeVec::new(
            Opts::new(
                "webedt_db_pool_connections",
                "Connections of this replica's pool, by state.",
            ),
            &["state"],
        )
        .expect("valid metric");
        let pool_max = IntGauge::new(
            "webedt_db_pool_max_connections",
            "Most connections this replica's pool may open.",
        )
        .expect("valid metric");
        let db_up = IntGauge::new(
            "webedt_db_up",
            "1 when the last database health check succeeded.",
        )
        .expect("valid metric");
        let build_info = IntGaugeVec::new(
            Opts::new("webedt_build_info", "Build of this replica; always 1."),
            &["version", "commit", "container_id"],
        )
        .expect("valid metric");
        build_info
            .with_label_values(&[build.version, build.commit_sha, container_id])
            .set(1);
        for c in [
            Box::new(pool_connections.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(pool_max.clone()),
            Box::new(db_up.clone()),
            Box::new(build_info),
        ] {
            registry.register(c).expect("metric registered once");
        }
        #[cfg(target_os = "linux")]
        registry
            .register(Box::new(
                prometheus::process_collector::ProcessCollector::for_self(),
            ))
            .expect("process metrics registered once");
        Self {
            registry,
            http,
            runs,
            pool_connections,
            pool_max,
            db_up,
        }
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Renders every metric, sampling the pool at scrape time (gauges are never stale).
    pub fn render(&self, pool: &PgPool, db_healthy: bool) -> String {
        let size = pool.size() as i64;
        let idle = pool.num_idle() as i64;
        self.pool_connections.with_label_values(&["idle"]).set(idle);
        self.pool_connections
            .with_label_values(&["in_use"])
            .set((size - idle).max(0));
        self.pool_max
            .set(pool.options().get_max_connections() as i64);
        self.db_up.set(db_healthy as i64);
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .expect("text encoding cannot fail");
        String::from_utf8(out).expect("prometheus text is UTF-8")
    }
}
