//! The accept loop: HTTP/1.1 connections served by hyper, with the client address for
//! `ConnectInfo` and a graceful stop.
//!
//! `axum::serve` is not used because its connection builder sniffs every connection for an HTTP/2
//! preface first; hyper then sees those few bytes as a separate first read and grows its read
//! buffer from 8 to 16 KiB, which every idle SSE connection keeps (about a third of its memory,
//! measured with heaptrack; BENCHMARKS.md P3). WebEDT speaks HTTP/1.1 only (behind an ingress or
//! load balancer that terminates HTTP/2), so the connections are built HTTP/1-only.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::Request;
use axum::extract::connect_info::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tower::{Service, ServiceExt};

use super::App;

/// Serves `app` on `listener` until `stop` resolves, then stops accepting, lets every open
/// connection finish its in-flight request (idle keep-alive connections close at once) and
/// returns when all are closed.
pub async fn serve(listener: TcpListener, app: App, stop: impl Future<Output = ()>) {
    let graceful = GracefulShutdown::new();
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
        let conn = hyper::server::conn::http1::Builder::new().serve_connection(
            TokioIo::new(stream),
            connection_service(app.clone(), remote),
        );
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::trace!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
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
