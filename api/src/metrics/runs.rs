use prometheus::{Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts, Registry};
use std::time::Duration;

use crate::events::StoredEvent;

/// Streams, runs and event delivery on this replica.
#[derive(Clone)]
pub struct RunMetrics {
    open_streams: IntGauge,
    active_runs: IntGauge,
    runs: IntCounterVec,
    insert_seconds: Histogram,
    insert_wait_seconds: Histogram,
    insert_batches: IntCounter,
    delivery_lag_seconds: Histogram,
}

/// Decrements the open-stream gauge when the stream's task ends, however it ends.
pub struct StreamGuard(IntGauge);

impl Drop for StreamGuard {
    fn drop(&mut self) {
        self.0.dec();
    }
}

fn register<C: prometheus::core::Collector + Clone + 'static>(registry: &Registry, c: C) -> C {
    registry
        .register(Box::new(c.clone()))
        .expect("registered once");
    c
}

const FAST: [f64; 12] = [
    0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0,
];

impl RunMetrics {
    pub fn new(registry: &Registry) -> Self {
        Self {
            open_streams: register(
                registry,
                IntGauge::new("webedt_sse_streams_open", "SSE streams this replica is serving.")
                    .expect("valid metric"),
            ),
            active_runs: register(
                registry,
                IntGauge::new("webedt_runs_active", "Runs executing on this replica.")
                    .expect("valid metric"),
            ),
            runs: register(
                registry,
                IntCounterVec::new(
                    Opts::new("webedt_runs_total", "Runs finished on this replica, by outcome."),
                    &["outcome"],
                )
                .expect("valid metric"),
            ),
            insert_seconds: register(
                registry,
                Histogram::with_opts(
                    HistogramOpts::new(
                        "webedt_event_insert_duration_seconds",
                        "Time to write a run event's batch (connection, seq, insert, notify, \
                         commit), observed for each append in it.",
                    )
                    .buckets(FAST.to_vec()),
                )
                .expect("valid metric"),
            ),
            insert_wait_seconds: register(
                registry,
                Histogram::with_opts(
                    HistogramOpts::new(
                        "webedt_event_insert_wait_seconds",
                        "Time a run event's append waited before its batch started to be written.",
                    )
                    .buckets(FAST.to_vec()),
                )
                .expect("valid metric"),
            ),
            insert_batches: register(
                registry,
                IntCounter::new(
                    "webedt_event_insert_batches_total",
                    "Transactions that appended run events (many appends share one under load).",
                )
                .expect("valid metric"),
            ),
            delivery_lag_seconds: register(
                registry,
                Histogram::with_opts(
                    HistogramOpts::new(
                        "webedt_event_delivery_lag_seconds",
                        "From an event's insert (database clock) to its live delivery to a stream here.",
                    )
                    .buckets(FAST.to_vec()),
                )
                .expect("valid metric"),
            ),
        }
    }

    pub fn stream_opened(&self) -> StreamGuard {
        self.open_streams.inc();
        StreamGuard(self.open_streams.clone())
    }

    pub fn run_started(&self) {
        self.active_runs.inc();
    }

    pub fn run_finished(&self, outcome: &str) {
        self.active_runs.dec();
        self.runs.with_label_values(&[outcome]).inc();
    }

    pub fn observe_insert(&self, took: Duration) {
        self.insert_seconds.observe(took.as_secs_f64());
    }

    pub fn insert_batch_written(&self) {
        self.insert_batches.inc();
    }

    pub fn observe_insert_wait(&self, took: Duration) {
        self.insert_wait_seconds.observe(took.as_secs_f64());
    }

    pub fn observe_delivery_lag(&self, event: &StoredEvent) {
        let lag = chrono::Utc::now() - event.created_at;
        self.delivery_lag_seconds
            .observe(lag.num_microseconds().unwrap_or(0).max(0) as f64 / 1e6);
    }
}
