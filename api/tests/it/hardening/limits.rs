//! Finding 4: per-user caps on streams (per replica) and runs (across replicas), and a send to
//! a trashed session is refused.

use super::{body_of, pair_with, register_at};
use crate::common::TestApp;
use reqwest::Method;
use serde_json::{Value, json};
use std::time::Duration;
use webedt_contract::names::*;

async fn call(
    app: &TestApp,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let mut req = app.client.request(method, app.url(path)).bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    req.send().await.unwrap()
}

async fn new_session(app: &TestApp, token: &str) -> String {
    let (status, body) =
        body_of(call(app, token, Method::POST, "/api/sessions", Some(json!({}))).await).await;
    assert_eq!(status, 201, "{body}");
    body["id"].as_str().unwrap().to_string()
}

async fn send(app: &TestApp, token: &str, session: &str) -> reqwest::Response {
    call(
        app,
        token,
        Method::POST,
        &format!("/api/sessions/{session}/send"),
        Some(json!({ "message": "hello" })),
    )
    .await
}

/// The cap counts one replica's streams (its descriptors are the scarce resource): at the cap a
/// further stream there is 429, another replica still serves one, and a closed stream frees its
/// place.
#[tokio::test]
async fn the_stream_cap_holds_per_user_on_each_replica() {
    let (a, b) = pair_with(&[(LIMIT_STREAMS_PER_USER, "3")]).await;
    let token = register_at(&a, "streams@example.com").await;
    let other = register_at(&a, "other@example.com").await;
    let open = |app: &TestApp, token: &str| {
        app.client
            .get(app.url("/api/sessions/updates"))
            .bearer_auth(token)
            .send()
    };
    let mut held = Vec::new();
    for _ in 0..3 {
        let res = open(&a, &token).await.unwrap();
        assert_eq!(res.status(), 200);
        held.push(res);
    }
    let (status, body) = body_of(open(&a, &token).await.unwrap()).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"]["code"], "stream_limit");
    // Event streams count too.
    let session = new_session(&a, &token).await;
    let res = call(
        &a,
        &token,
        Method::GET,
        &format!("/api/sessions/{session}/events/stream"),
        None,
    )
    .await;
    assert_eq!(res.status(), 429);
    // Another user, and the same user on another replica, are not affected.
    assert_eq!(open(&a, &other).await.unwrap().status(), 200);
    let on_b = open(&b, &token).await.unwrap();
    assert_eq!(on_b.status(), 200);
    drop(held.pop());
    let mut reopened = None;
    // The server sees the client leave at its next write at the latest (a 15 s keep-alive).
    for _ in 0..250 {
        let res = open(&a, &token).await.unwrap();
        if res.status() == 200 {
            reopened = Some(res);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(reopened.is_some(), "a closed stream frees its place");
}

/// Four sends at once, two on each replica, with `LIMIT_RUNS_PER_USER=2`: exactly two runs start,
/// counted from the database in the transaction that starts each.
#[tokio::test]
async fn the_concurrent_run_cap_holds_across_two_replicas() {
    let (a, b) = pair_with(&[
        (LIMIT_RUNS_PER_USER, "2"),
        (DEMO_EVENT_COUNT, "400"),
        (DEMO_EVENT_DELAY_MS, "50"),
    ])
    .await;
    let token = register_at(&a, "runs@example.com").await;
    let mut sessions = Vec::new();
    for _ in 0..6 {
        sessions.push(new_session(&a, &token).await);
    }
    let sends = sessions.iter().enumerate().map(|(i, s)| {
        let app = if i % 2 == 0 { &a } else { &b };
        send(app, &token, s)
    });
    let results = futures::future::join_all(sends).await;
    let mut accepted = 0;
    for res in results {
        let (status, body) = body_of(res).await;
        match status.as_u16() {
            202 => accepted += 1,
            429 => assert_eq!(body["error"]["code"], "run_limit", "{body}"),
            other => panic!("{other}: {body}"),
        }
    }
    assert_eq!(accepted, 2);
    let running: i64 = sqlx::query_scalar("SELECT count(*) FROM active_runs")
        .fetch_one(a.state.db.pool())
        .await
        .unwrap();
    assert_eq!(running, 2);
    // execute-remote is held to the same cap, and writes no session when refused.
    let before: i64 = sqlx::query_scalar("SELECT count(*) FROM chat_sessions")
        .fetch_one(a.state.db.pool())
        .await
        .unwrap();
    let res = call(
        &b,
        &token,
        Method::POST,
        "/api/execute-remote",
        Some(json!({ "userRequest": "hi" })),
    )
    .await;
    assert_eq!(res.status(), 429);
    let after: i64 = sqlx::query_scalar("SELECT count(*) FROM chat_sessions")
        .fetch_one(a.state.db.pool())
        .await
        .unwrap();
    assert_eq!(before, after);
}

/// `LIMIT_RUNS_PER_MINUTE` counts starts on every replica.
#[tokio::test]
async fn the_run_rate_holds_across_two_replicas() {
    let (a, b) = pair_with(&[
        (LIMIT_RUNS_PER_MINUTE, "3"),
        (DEMO_EVENT_COUNT, "1"),
        (DEMO_EVENT_DELAY_MS, "0"),
    ])
    .await;
    let token = register_at(&a, "rate@example.com").await;
    let mut codes = Vec::new();
    for i in 0..5 {
        let app = if i % 2 == 0 { &a } else { &b };
        let session = new_session(app, &token).await;
        let (status, body) = body_of(send(app, &token, &session).await).await;
        codes.push((
            status.as_u16(),
            body["error"]["code"].as_str().map(str::to_string),
        ));
    }
    assert_eq!(
        codes,
        [
            (202, None),
            (202, None),
            (202, None),
            (429, Some("run_rate".into())),
            (429, Some("run_rate".into())),
        ]
    );
}

#[tokio::test]
async fn a_send_to_a_trashed_session_is_refused_and_writes_nothing() {
    let (a, b) = pair_with(&[]).await;
    let token = register_at(&a, "trash@example.com").await;
    let session = new_session(&a, &token).await;
    let res = call(
        &a,
        &token,
        Method::DELETE,
        &format!("/api/sessions/{session}"),
        None,
    )
    .await;
    assert_eq!(res.status(), 204);
    let (status, body) = body_of(send(&b, &token, &session).await).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "session_deleted");
    let res = call(
        &b,
        &token,
        Method::POST,
        "/api/execute-remote",
        Some(json!({ "userRequest": "hi", "websiteSessionId": session })),
    )
    .await;
    assert_eq!(res.status(), 409);
    let events: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(a.state.db.pool())
        .await
        .unwrap();
    assert_eq!(events, 0);
    let runs: i64 = sqlx::query_scalar("SELECT count(*) FROM active_runs")
        .fetch_one(a.state.db.pool())
        .await
        .unwrap();
    assert_eq!(runs, 0);
}
