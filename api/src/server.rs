//! Binding, serving, and the graceful shutdown sequence.

use crate::config::{BUILD, Config};
use crate::db::{self, DbHealth};
use crate::lifecycle::Lifecycle;
use crate::metrics::Metrics;
use crate::state::AppState;
use anyhow::Context;
use axum::Router;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;

pub struct Server {
    state: AppState,
    extra: Router<AppState>,
    listener: TcpListener,
}

impl Server {
    /// Binds `HOST:PORT` from the configuration.
    pub async fn bind(config: Config) -> anyhow::Result<Self> {
        let http = &config.settings.http;
        let addr = format!("{}:{}", http.host, http.port);
        let listener = TcpListener::bind(&addr)
            .await
            .with_context(|| format!("cannot listen on {addr} (HOST/PORT)"))?;
        Ok(Self::with_listener(config, listener))
    }

    /// Serves on an already bound listener (tests bind port 0).
    pub fn with_listener(config: Config, listener: TcpListener) -> Self {
        let pool = db::new_pool(&config);
        let metrics = Arc::new(Metrics::new(&BUILD, config.container_id()));
        let lifecycle = Lifecycle::default();
        let local_worker = config.local_worker.as_ref().and_then(|local| {
            crate::runs::local_worker::start(local, &config.settings, &lifecycle)
                .inspect_err(|e| {
                    // The rest of the API works without it; coding runs are then refused.
                    tracing::error!(error = %format!("{e:#}"), "could not start the in-process coding worker");
                })
                .ok()
        });
        let providers = Arc::new(crate::runs::Providers::from_settings(
            &config.settings,
            local_worker,
        ));
        // Container ids come from pod names or operators; a value that is not a valid header
        // must not take the server down.
        let container_header = axum::http::HeaderValue::from_str(config.container_id())
            .unwrap_or_else(|_| axum::http::HeaderValue::from_static("invalid-container-id"));
        let state = AppState::new(crate::state::AppStateInner {
            db: pool,
            config: Arc::new(config),
            health: DbHealth::default(),
            metrics,
            lifecycle,
            passwords: crate::auth::Passwords::default(),
            hub: Default::default(),
            runs: Default::default(),
            providers,
            started_at: Instant::now(),
            audit_memo: Default::default(),
            container_header,
        });
        Self {
            state,
            extra: Router::new(),
            listener,
        }
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("bound listener")
    }

    /// Adds routes that go through the same middleware and shutdown handling (tests use it to
    /// hold a request in flight).
    pub fn merge(mut self, extra: Router<AppState>) -> Self {
        self.extra = self.extra.merge(extra);
        self
    }

    /// Serves until `shutdown` resolves, then: `/ready` → 503, wait the drain delay, end streams
    /// and stop accepting, let in-flight requests finish (bounded), stop background tasks, close
    /// the pool.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let Server {
            state,
            extra,
            listener,
        } = self;
        let router = crate::http::router(state.clone(), extra);
        let settings = &state.config.settings;
        let lifecycle = state.lifecycle.clone();
        start_background(&state);

        let (stop_accepting, accepting_stopped) = tokio::sync::oneshot::channel::<()>();
        let limits = crate::http::ConnLimits::from_settings(&settings.limits);
        let serve = crate::http::serve(listener, router, limits, async move {
            let _ = accepting_stopped.await;
        });
        let mut server = tokio::spawn(serve);

        tokio::select! {
            _ = shutdown => {}
            result = &mut server => {
                // The accept loop ended on its own (it only stops when told): nothing to drain.
                result?;
                return Ok(());
            }
        }
        let drain = Duration::from_millis(settings.shutdown.lb_drain_delay_ms);
        tracing::info!(
            drain_ms = drain.as_millis() as u64,
            "shutdown: draining (/ready = 503)"
        );
        lifecycle.start_draining();
        tokio::time::sleep(drain).await;

        tracing::info!("shutdown: ending streams, no new connections");
        lifecycle.streams().cancel();
        let _ = stop_accepting.send(());
        let timeout = Duration::from_millis(settings.shutdown.timeout_ms);
        let deadline = tokio::time::Instant::now() + timeout;
        // Runs keep going (their streams reconnect to other replicas and follow them there) until
        // they finish or the deadline passes.
        let runs = state.runs.clone();
        let runs_drained = tokio::spawn(async move { runs.drain(deadline).await });
        match tokio::time::timeout_at(deadline, &mut server).await {
            Ok(result) => result?,
            Err(_) => {
                tracing::warn!(
                    timeout_ms = timeout.as_millis() as u64,
                    "shutdown: in-flight requests did not finish in time; closing them"
                );
                server.abort();
            }
        }

        let _ = runs_drained.await;
        lifecycle.background().cancel();
        lifecycle.tasks().close();
        if tokio::time::timeout(Duration::from_secs(5), lifecycle.tasks().wait())
            .await
            .is_err()
        {
            tracing::warn!("shutdown: background tasks did not stop within 5 s");
        }
        let _ = tokio::time::timeout(Duration::from_secs(5), state.db.close()).await;
        tracing::info!("shutdown: complete");
        Ok(())
    }
}

/// Tasks every replica runs: database bootstrap (connect with backoff, migrate), the health
/// monitor that `/ready` follows, and its share of the singleton jobs.
fn start_background(state: &AppState) {
    let settings = &state.config.settings;
    let stop = state.lifecycle.background().clone();
    let bootstrap = db::spawn_bootstrap(
        state.db.clone(),
        state.config.clone(),
        state.health.clone(),
        settings.migrate_on_start,
        Duration::from_millis(settings.pool.connect_timeout_ms),
        stop.clone(),
    );
    let monitor = db::spawn_health_monitor(state.db.clone(), state.health.clone(), stop);
    let tasks = state.lifecycle.clone();
    let pool = state.db.clone();
    let replica = state.config.container_id().to_owned();
    tasks.spawn(async move {
        let (bootstrap, _) = tokio::join!(
            async move {
                let ready = bootstrap.await.is_ok();
                // Runs a previous process with our id left behind cannot be running any more.
                if ready {
                    match crate::runs::orphans::cleanup_own(&pool, &replica).await {
                        Ok(0) => {}
                        Ok(n) => tracing::warn!(
                            runs = n,
                            "ended runs left by this replica's previous process"
                        ),
                        Err(e) => {
                            tracing::warn!(error = %e, "could not check for runs left behind")
                        }
                    }
                }
            },
            monitor
        );
        bootstrap
    });
    crate::realtime::spawn_listener(state.clone());
    let replica = state.config.container_id().to_owned();
    crate::jobs::spawn(
        &state.lifecycle,
        state.db.clone(),
        replica,
        crate::auth::purge::job(),
    );
    crate::jobs::spawn(
        &state.lifecycle,
        state.db.pool().clone(),
        state.config.container_id().to_owned(),
        crate::audit::retention::job(settings.limits.audit_retention_days),
    );
    let orphans = &settings.orphans;
    crate::jobs::spawn(
        &state.lifecycle,
        state.db.clone(),
        state.config.container_id().to_owned(),
        crate::runs::orphans::job(orphans.timeout(), orphans.cleanup_interval()),
    );
    crate::jobs::spawn(
        &state.lifecycle,
        state.db.clone(),
        state.config.container_id().to_owned(),
        crate::sessions::retention::job(
            settings.scale.trash_retention_days,
            crate::sessions::retention::INTERVAL,
        ),
    );
}

/// Resolves on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => tracing::info!("SIGINT received"),
        _ = term => tracing::info!("SIGTERM received"),
    }
}
