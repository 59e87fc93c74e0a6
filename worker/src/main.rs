//! `webedt-worker`: serves the worker protocol. Configuration: `WORKER_*` variables (README).

use std::time::Duration;
use webedt_contract::worker::WorkerConfig;
use webedt_worker::{ProviderDefaults, Worker, become_subreaper, server};

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .json()
        .init();
    let config = match WorkerConfig::from_env(&|k: &str| std::env::var(k).ok()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("webedt-worker: configuration error: {e}");
            std::process::exit(2);
        }
    };
    become_subreaper();
    let providers = ProviderDefaults::from_env(|k| std::env::var(k).ok());
    let addr = format!("{}:{}", config.host, config.port);
    let secret = config.secret.expose().to_string();
    let shutdown_timeout = Duration::from_millis(config.shutdown_timeout_ms);
    let worker = match Worker::new(config, providers) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("webedt-worker: cannot use WORKER_WORKSPACE_ROOT: {e}");
            std::process::exit(2);
        }
    };
    let listener = match tokio::net::TcpListener::bind(&addr).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("webedt-worker: cannot listen on {addr}: {e}");
            std::process::exit(2);
        }
    };
    // The bound address (the port may have been chosen by the system).
    let addr = listener.local_addr().map(|a| a.to_string()).unwrap_or(addr);
    tracing::info!(%addr, "listening");
    let app = server::router(worker.clone(), secret);
    let draining = worker.clone();
    let signal = async move {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = term.recv() => {},
            _ = tokio::signal::ctrl_c() => {},
        }
        tracing::info!("shutting down: no new runs; waiting for running ones");
        // Runs finish (or are interrupted at the timeout); their streams then end, which lets
        // the graceful shutdown below complete.
        tokio::spawn(async move { draining.shutdown(shutdown_timeout).await });
    };
    if let Err(e) = axum::serve(listener, app)
        .with_graceful_shutdown(signal)
        .await
    {
        eprintln!("webedt-worker: server error: {e}");
        std::process::exit(1);
    }
    worker.shutdown(Duration::from_secs(1)).await;
    tracing::info!("stopped");
}
