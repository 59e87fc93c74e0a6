use crate::common::{app, fresh_database};
use axum::routing::get;
use std::time::{Duration, Instant};
use webedt_contract::names::*;

/// A route that takes a while, to hold a request in flight through the real middleware.
// A test-only route, outside the contract.
#[allow(clippy::disallowed_methods)]
fn slow_routes() -> axum::Router<webedt_api::AppState> {
    axum::Router::new().route(
        "/api/test/slow",
        get(|| async {
            tokio::time::sleep(Duration::from_millis(1500)).await;
            "finished"
        }),
    )
}

#[tokio::test]
async fn shutdown_drains_then_lets_in_flight_requests_finish() {
    let app = app()
        .env(LB_DRAIN_DELAY_MS, 600)
        .routes(slow_routes())
        .spawn()
        .await;
    let in_flight = tokio::spawn(app.client.get(app.url("/api/test/slow")).send());
    tokio::time::sleep(Duration::from_millis(200)).await;
    app.signal_shutdown();
    tokio::time::sleep(Duration::from_millis(100)).await;
    // During the drain delay the replica still answers, but says it is not ready.
    let ready = app.get("/ready").await;
    assert_eq!(ready.status(), 503);
    assert_eq!(
        ready.json::<serde_json::Value>().await.unwrap()["status"],
        "draining"
    );

    let res = in_flight
        .await
        .unwrap()
        .expect("in-flight request completes");
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), "finished");
    let addr = app.addr;
    app.shutdown().await.unwrap();
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "listener closed after shutdown"
    );
}

#[tokio::test]
async fn streams_token_fires_when_the_listener_stops() {
    let app = app().env(LB_DRAIN_DELAY_MS, 300).spawn().await;
    let streams = app.state.lifecycle.streams().clone();
    let started = Instant::now();
    app.signal_shutdown();
    streams.cancelled().await;
    // Not before the drain delay: the load balancer must stop routing here first.
    assert!(started.elapsed() >= Duration::from_millis(300));
    app.shutdown().await.unwrap();
}

#[tokio::test]
async fn sigterm_stops_the_real_binary_cleanly() {
    let db = fresh_database().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_webedt-api"))
        .env("DATABASE_URL", &db)
        .env("SESSION_SECRET", crate::common::SECRET)
        .env("HOST", "127.0.0.1")
        .env("PORT", port.to_string())
        .env("LB_DRAIN_DELAY_MS", "200")
        .env("SHUTDOWN_TIMEOUT_MS", "3000")
        .kill_on_drop(true)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/ready");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = client.get(&url).send().await
            && r.status() == 200
        {
            break;
        }
        assert!(Instant::now() < deadline, "binary never became ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // SAFETY: sending a signal to our own child process.
    unsafe {
        libc::kill(child.id().unwrap() as i32, libc::SIGTERM);
    }
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("exits within drain + shutdown timeout")
        .unwrap();
    assert!(status.success(), "{status}");
}
