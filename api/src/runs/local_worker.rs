//! The local run's coding worker: the `webedt-worker` library inside the API process, so coding
//! runs work after `cargo run -p webedt-api` with no worker deployed and no GitHub (a repository
//! may be a path on this machine).
//!
//! It serves the worker protocol on 127.0.0.1, port 0, behind a secret generated at start, and
//! the API reaches it through the same `worker` provider client a deployment uses with
//! `AI_WORKER_URL`: one code path for both, so the local run exercises the real protocol (request
//! shape, SSE, a closed connection interrupting the run) instead of a shortcut that could drift.
//! The cost is one loopback connection per run.
//!
//! Deployments never get this: model-chosen actions do not run in a pod holding the database
//! credentials and the session secret. Only the local run (no `DATABASE_URL`) creates it.

use std::path::PathBuf;
use std::time::Duration;
use webedt_contract::worker::{
    WORKER_GIT_PROTOCOLS, WORKER_HOST, WORKER_SECRET, WORKER_WORKSPACE_ROOT, WorkerConfig,
};
use webedt_contract::{Secret, Settings, WorkerSettings};
use webedt_worker::{ProviderDefaults, Worker, server};

use crate::lifecycle::Lifecycle;

/// Where the in-process worker keeps its runs' directories (each removed when its run ends;
/// leftovers of a crash removed at start, so the directory must be this process's own).
#[derive(Debug, Clone)]
pub struct LocalWorker {
    pub workspace_root: PathBuf,
}

/// The longest the demo agent pauses between words here.
const DEMO_DELAY_MAX: Duration = Duration::from_millis(50);

/// Starts the worker on a loopback port; it stops with the API's background tasks. Returns the
/// settings the `worker` provider client uses to reach it.
pub fn start(
    local: &LocalWorker,
    settings: &Settings,
    lifecycle: &Lifecycle,
) -> anyhow::Result<WorkerSettings> {
    let secret: String = rand::Rng::sample_iter(rand::rng(), rand::distr::Alphanumeric)
        .take(48)
        .map(char::from)
        .collect();
    let root = local.workspace_root.to_string_lossy().into_owned();
    let config = WorkerConfig::from_env(&|name: &str| match name {
        WORKER_SECRET => Some(secret.clone()),
        WORKER_WORKSPACE_ROOT => Some(root.clone()),
        WORKER_HOST => Some("127.0.0.1".into()),
        // Local repositories are the point of the local run; plain http only when the API
        // admits it for allowlisted hosts (OUTBOUND_ALLOWED_HOSTS), which it checked already.
        WORKER_GIT_PROTOCOLS => Some(if settings.outbound_allowed_hosts.is_empty() {
            "https:file".into()
        } else {
            "https:http:file".into()
        }),
        // The same SSRF allowlist as the API's (the worker vets and pins git remotes itself).
        webedt_contract::names::OUTBOUND_ALLOWED_HOSTS => {
            Some(settings.outbound_allowed_hosts.join(","))
        }
        // The other WORKER_* settings (turn limits, WORKER_ALLOW_COMMANDS, …) as the developer
        // set them for this process.
        other => std::env::var(other).ok(),
    })?;
    let worker = Worker::new(config, provider_defaults(settings))?;
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let listener = tokio::net::TcpListener::from_std(listener)?;
    let app = server::router(worker.clone(), secret.clone());
    let stop = lifecycle.background().clone();
    lifecycle.spawn(async move {
        let serve = axum::serve(listener, app).with_graceful_shutdown(stop.cancelled_owned());
        if let Err(e) = serve.await {
            tracing::error!(error = %e, "the in-process coding worker stopped");
        }
        // Runs ended with the API's own (their connections closed); this only tidies up.
        worker.shutdown(Duration::from_secs(5)).await;
    });
    tracing::info!(%addr, root = %local.workspace_root.display(), "in-process coding worker ready");
    Ok(WorkerSettings {
        url: format!("http://{addr}"),
        secret: Some(Secret::new(secret)),
    })
}

/// The API's own provider settings, as the worker's defaults: a coding run with `anthropic` or
/// `openai` uses the keys this process was given.
fn provider_defaults(settings: &Settings) -> ProviderDefaults {
    let p = &settings.providers;
    ProviderDefaults {
        anthropic_key: p
            .anthropic
            .as_ref()
            .map(|a| webedt_worker::protocol::Secret::new(a.api_key.expose())),
        anthropic_base_url: p.anthropic.as_ref().map(|a| a.base_url.clone()),
        anthropic_model: p.anthropic.as_ref().map(|a| a.model.clone()),
        openai_key: p
            .openai
            .as_ref()
            .and_then(|o| o.api_key.as_ref())
            .map(|k| webedt_worker::protocol::Secret::new(k.expose())),
        openai_base_url: p.openai.as_ref().map(|o| o.base_url.clone()),
        openai_model: p.openai.as_ref().map(|o| o.model.clone()),
        connect_timeout: Duration::from_millis(p.limits.connect_timeout_ms),
        idle_timeout: Duration::from_millis(p.limits.idle_timeout_ms),
        demo_delay: Duration::from_millis(settings.demo.event_delay_ms).min(DEMO_DELAY_MAX),
    }
}
