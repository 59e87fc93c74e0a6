//! Prometheus metrics of one worker process (no labels carrying user data).

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry, TextEncoder,
};

#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    pub runs: IntCounterVec,
    pub active: IntGauge,
    pub tool_calls: IntCounterVec,
    pub run_seconds: HistogramVec,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let runs = IntCounterVec::new(
            Opts::new("webedt_worker_runs_total", "Runs finished, by outcome."),
            &["outcome"],
        )
        .expect("valid metric");
        let active = IntGauge::new("webedt_worker_runs_active", "Runs executing now.")
            .expect("valid metric");
        let tool_calls = IntCounterVec::new(
            Opts::new(
                "webedt_worker_tool_calls_total",
                "Tool calls, by tool and result.",
            ),
            &["tool", "outcome"],
        )
        .expect("valid metric");
        let run_seconds = HistogramVec::new(
            HistogramOpts::new("webedt_worker_run_duration_seconds", "Wall time of runs.")
                .buckets(vec![1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 1800.0]),
            &["outcome"],
        )
        .expect("valid metric");
        for c in [
            Box::new(runs.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(active.clone()),
            Box::new(tool_calls.clone()),
            Box::new(run_seconds.clone()),
        ] {
            registry.register(c).expect("unique metric");
        }
        Self {
            registry,
            runs,
            active,
            tool_calls,
            run_seconds,
        }
    }

    pub fn render(&self) -> String {
        let mut out = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}
