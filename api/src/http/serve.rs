//! The accept loop: HTTP/1.1 connections served by hyper, with the client address for
//! `ConnectInfo` and a graceful stop.
//!
//! `axum::serve` is not used because its connection builder sniffs every connection for an HTTP/2
//! preface first; hyper then sees those few bytes as a separate first read and grows its read
//! buffer from 8 to 16 KiB, which every idle SSE connection keeps (BENCHMARKS.md, P3). WebEDT speaks HTTP/1.1 only (behind an ingress or
//! load balancer that terminates HTTP/2), so the connections are built HTTP/1-only.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::extract::Request;
use axum::extract::connect_info::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tower::{Service, ServiceExt};

use super::App;
use crate::error::{ErrorCode, error_response};

/// The accept loop's per-replica connection rules.
#[derive(Clone, Copy, Debug)]
pub struct ConnLimits {
    pub header_timeout: Duration,
    pub max_connections: usize,
}

impl ConnLimits {
    pub fn from_settings(limits: &webedt_contract::LimitSettings) -> Self {
        Self {
            header_timeout: Duration::from_millis(limits.header_timeout_ms),
            max_connections: limits.max_connections,
        }
    }
}

/// Counts an open connection until dropped (when its task ends).
struct Open(Arc<AtomicUsize>);

impl Drop for Open {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Serves `app` on `listener` until `stop` resolves, then stops accepting, lets every open
/// connection finish its in-flight request (idle keep-alive connections close at once) and
/// returns when all are closed.
pub async fn serve(
    listener: TcpListener,
    app: App,
    limits: ConnLimits,
    stop: impl Future<Output = ()>,
) {
    let graceful = GracefulShutdown::new();
    let open = Arc::new(AtomicUsize::new(0));
    let mut stop = std::pin::pin!(stop);
    loop {
        let (stream, remote) = tokio::select! {
            _ = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    backoff_after_accept_error(&e).await;
                    continue;
                }
            },
        };
        // SSE frames are small and must go out at once.
        let _ = stream.set_nodelay(true);
        let over_cap = open.fetch_add(1, Ordering::Relaxed) >= limits.max_connections;
        let guard = Open(open.clone());
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_timeout);
        let io = TokioIo::new(stream);
        if over_cap {
            // One answer, then close: the cap bounds what a flood can hold open, not what the
            // probes can reach.
            builder.keep_alive(false);
            let conn = graceful
                .watch(builder.serve_connection(io, overloaded_service(app.clone(), remote)));
            tokio::spawn(finish(conn, guard));
        } else {
            let conn = graceful
                .watch(builder.serve_connection(io, connection_service(app.clone(), remote)));
            tokio::spawn(finish(conn, guard));
        }
    }
    drop(listener);
    graceful.shutdown().await;
}

async fn finish<E: std::fmt::Display>(conn: impl Future<Output = Result<(), E>>, open: Open) {
    if let Err(e) = conn.await {
        tracing::trace!(error = %e, "connection ended with an error");
    }
    drop(open);
}

/// What a connection above the cap is served: the probes as usual, everything else 503.
fn overloaded_service(
    app: App,
    remote: SocketAddr,
) -> TowerToHyperService<
    impl Service<
        Request<Incoming>,
        Response = axum::response::Response,
        Error = Infallible,
        Future: Send,
    > + Clone,
> {
    TowerToHyperService::new(tower::service_fn(move |req: Request<Incoming>| {
        let app = app.clone();
        async move {
            if matches!(req.uri().path(), "/live" | "/ready") {
                let mut req = req.map(axum::body::Body::new);
                req.extensions_mut().insert(ConnectInfo(remote));
                return app.oneshot(req).await;
            }
            let mut response = error_response(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::Overloaded,
                "this replica has too many open connections; retry shortly",
                None,
            );
            let headers = response.headers_mut();
            headers.insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static("1"),
            );
            headers.insert(
                axum::http::header::CONNECTION,
                axum::http::HeaderValue::from_static("close"),
            );
            Ok(response)
        }
    }))
}

/// The app, seeing each request with the connection's peer address (`ConnectInfo`), as
/// `axum::serve(…into_make_service_with_connect_info())` provides.
fn connection_service(
    app: App,
    remote: SocketAddr,
) -> TowerToHyperService<
    impl Service<
        Request<Incoming>,
        Response = axum::response::Response,
        Error = Infallible,
        Future: Send,
    > + Clone,
> {
    TowerToHyperService::new(app.map_request(move |req: Request<Incoming>| {
        let mut req = req.map(axum::body::Body::new);
        req.extensions_mut().insert(ConnectInfo(remote));
        req
    }))
}

/// Per-connection errors (the peer reset before we accepted) need no pause; running out of file
/// descriptors does, or the loop would spin.
async fn backoff_after_accept_error(e: &std::io::Error) {
    use std::io::ErrorKind::*;
    if matches!(
        e.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %e, "accept failed; retrying in 1 s");
    tokio::time::sleep(Duration::from_secs(1)).await;
}
