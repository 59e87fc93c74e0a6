//! Finding 3: connection timeouts and the per-replica connection cap.

use super::{body_of, one_shot_client, raw_exchange};
use crate::common::app;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use webedt_contract::names::*;

/// A client trickling its request head is disconnected after `HTTP_HEADER_TIMEOUT_MS`, and
/// meanwhile `/live` answers.
#[tokio::test]
async fn a_slow_header_client_is_disconnected_while_live_stays_fast() {
    let app = app().env(HTTP_HEADER_TIMEOUT_MS, 1000).spawn().await;
    let started = Instant::now();
    let mut slow = Vec::new();
    for _ in 0..20 {
        let mut conn = tokio::net::TcpStream::connect(app.addr).await.unwrap();
        conn.write_all(b"GET /live HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            .await
            .unwrap();
        slow.push(conn);
    }
    // Keep trickling one byte a tick until the server hangs up on each of them.
    let trickle = async {
        let mut closed = vec![None; slow.len()];
        while closed.iter().any(Option::is_none) && started.elapsed() < Duration::from_secs(15) {
            for (i, conn) in slow.iter_mut().enumerate() {
                if closed[i].is_some() {
                    continue;
                }
                let mut byte = [0u8; 1];
                let gone = conn.write_all(b"a").await.is_err()
                    || matches!(
                        tokio::time::timeout(Duration::from_millis(10), conn.read(&mut byte)).await,
                        Ok(Ok(0)) | Ok(Err(_))
                    );
                if gone {
                    closed[i] = Some(started.elapsed());
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        closed
    };
    let probes = async {
        let client = one_shot_client();
        let mut worst = Duration::ZERO;
        for _ in 0..10 {
            let t = Instant::now();
            let res = client.get(app.url("/live")).send().await.unwrap();
            assert_eq!(res.status(), 200);
            worst = worst.max(t.elapsed());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        worst
    };
    let (closed, worst_live) = tokio::join!(trickle, probes);
    for (i, at) in closed.iter().enumerate() {
        let at = at.unwrap_or_else(|| panic!("slow client {i} still connected after 15 s"));
        assert!(at >= Duration::from_millis(900), "closed too early: {at:?}");
    }
    assert!(
        worst_live < Duration::from_secs(1),
        "/live took {worst_live:?}"
    );
}

/// A client that sends its head and then trickles the body gets 408 after
/// `HTTP_BODY_TIMEOUT_MS` rather than holding the handler.
#[tokio::test]
async fn a_body_that_does_not_arrive_in_time_gets_408() {
    let app = app().env(HTTP_BODY_TIMEOUT_MS, 500).spawn().await;
    let answer = raw_exchange(
        &app,
        b"POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"email\":",
        Duration::from_secs(10),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("request_timeout"), "{answer}");
}

/// At `HTTP_MAX_CONNECTIONS` a new connection is still accepted: the probes answer, everything
/// else gets 503 and the connection closes; below the cap again, requests are served.
#[tokio::test]
async fn at_the_connection_cap_probes_answer_and_the_rest_get_503() {
    let app = app().env(HTTP_MAX_CONNECTIONS, 4).spawn().await;
    // The test app's own client may hold a pooled connection; fill the cap with idle ones.
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(tokio::net::TcpStream::connect(app.addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let client = one_shot_client();
    let (status, body) = body_of(client.get(app.url("/health")).send().await.unwrap()).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "overloaded");
    for probe in ["/live", "/ready"] {
        let res = client.get(app.url(probe)).send().await.unwrap();
        assert_eq!(res.status(), 200, "{probe} must answer at the cap");
    }
    drop(held);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let res = client.get(app.url("/health")).send().await.unwrap();
    assert_eq!(res.status(), 200, "below the cap again");
}
