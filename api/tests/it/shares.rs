//! Sharing a session by link: the owner creates and revokes it; anyone with it (no login, no
//! cookie) reads the transcript and follows a live run on any replica, resuming like the owner;
//! revoking ends it at once, open streams included; a share token reaches no write route and
//! never acts as a login.

use crate::common::{TestApp, app, fresh_database};
use crate::support::sse::SseReader;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use webedt_contract::names::*;

const HEADER: &str = "x-share-token";

async fn create_share(app: &TestApp, token: &str, session: &str) -> (StatusCode, Value) {
    let res = app
        .call(
            token,
            Method::POST,
            &format!("/api/sessions/{session}/share"),
            None,
        )
        .await;
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// A client with no cookie store and no login.
fn anonymous() -> reqwest::Client {
    reqwest::Client::builder().build().unwrap()
}

async fn shared(app: &TestApp, share: &str, path: &str) -> (StatusCode, Value) {
    let res = anonymous()
        .get(app.url(path))
        .header(HEADER, share)
        .send()
        .await
        .unwrap();
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn open_stream(app: &TestApp, share: &str, last: Option<i64>) -> reqwest::Response {
    let mut req = anonymous()
        .get(app.url("/api/shared/events/stream"))
        .header(HEADER, share);
    if let Some(last) = last {
        req = req.header("last-event-id", last.to_string());
    }
    req.send().await.unwrap()
}

async fn ends_within(reader: &mut SseReader, within: Duration) -> Duration {
    let started = Instant::now();
    loop {
        match reader.next_unless_silent(within).await {
            Ok(None) => return started.elapsed(),
            Ok(Some(_)) => {}
            Err(_) => panic!("stream still open after {within:?}"),
        }
        assert!(
            started.elapsed() < within,
            "stream still open after {within:?}"
        );
    }
}

#[tokio::test]
async fn a_link_works_on_the_other_replica_and_stops_the_moment_it_is_revoked() {
    let db = fresh_database().await;
    let spawn = || {
        app()
            .database(&db)
            .env(DEMO_EVENT_COUNT, 400)
            .env(DEMO_EVENT_DELAY_MS, 50)
            .env(LIMIT_STREAMS_PER_SHARE, 2)
            .spawn()
    };
    let (a, b) = (spawn().await, spawn().await);
    let alice = a.register("share-alice@example.com").await;
    let session = a.create_session(&alice).await;
    assert_eq!(
        a.send(&alice, &session, "explain parse_config")
            .await
            .status(),
        202
    );

    let (status, created) = create_share(&a, &alice, &session).await;
    assert_eq!(status, 201, "{created}");
    let token = created["token"].as_str().unwrap().to_string();
    assert_eq!(created["path"], format!("/shared#{token}"));
    // Only its hash is stored.
    let pool = sqlx::PgPool::connect(&db).await.unwrap();
    let stored: Vec<u8> = sqlx::query_scalar("SELECT token_key FROM session_shares")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_ne!(stored, token.as_bytes());
    assert_eq!(stored.len(), 32);
    let res = a
        .call(
            &alice,
            Method::GET,
            &format!("/api/sessions/{session}/share"),
            None,
        )
        .await;
    assert_eq!(res.status(), 200);
    let info: Value = res.json().await.unwrap();
    assert!(
        info["createdAt"].is_string() && info.get("token").is_none(),
        "{info}"
    );

    // The page: the app shell under the CSP, sending no Referer anywhere.
    let page = anonymous().get(b.url("/shared")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["referrer-policy"], "no-referrer");
    assert!(
        page.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("script-src 'self'")
    );
    assert!(page.headers().get("set-cookie").is_none());

    // The other replica, no login: the session (nothing of the account) and its events.
    let (status, s) = shared(&b, &token, "/api/shared").await;
    assert_eq!(status, 200, "{s}");
    assert_eq!(s["status"], "running");
    for private in [
        "id",
        "userId",
        "email",
        "user",
        "repository",
        "workingBranch",
    ] {
        assert!(s.get(private).is_none(), "{private} in {s}");
    }
    assert!(!s.to_string().contains("share-alice"), "{s}");
    let (status, events) = shared(&b, &token, "/api/shared/events?limit=3").await;
    assert_eq!(status, 200);
    assert_eq!(events["events"][0]["type"], "user_message");
    assert_eq!(events["events"][0]["data"]["text"], "explain parse_config");

    // The live stream on the other replica: replay, then live frames in seq order.
    let res = open_stream(&b, &token, None).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/event-stream");
    let mut live = SseReader::new(res);
    let mut last = 0;
    for _ in 0..5 {
        let f = live.next(Duration::from_secs(10)).await.expect("a frame");
        let id = f.id.expect("frames carry their seq");
        assert_eq!(id, last + 1, "no gap, no duplicate");
        last = id;
    }
    // Resuming (on the first replica) continues after Last-Event-ID.
    let res = open_stream(&a, &token, Some(3)).await;
    assert_eq!(res.status(), 200);
    let mut resumed = SseReader::new(res);
    assert_eq!(
        resumed.next(Duration::from_secs(10)).await.unwrap().id,
        Some(4)
    );
    // The per-link cap is per replica: two open on `b` is the limit there.
    let second = open_stream(&b, &token, Some(last)).await;
    assert_eq!(second.status(), 200);
    let third = open_stream(&b, &token, Some(last)).await;
    assert_eq!(third.status(), 429);
    let body: Value = third.json().await.unwrap();
    assert_eq!(body["error"]["code"], "stream_limit");
    drop(second);

    // Revoked on `a`: the stream open on `b` ends within 2 s, and nothing answers any more.
    let res = a
        .call(
            &alice,
            Method::DELETE,
            &format!("/api/sessions/{session}/share"),
            None,
        )
        .await;
    assert_eq!(res.status(), 204);
    let took = ends_within(&mut live, Duration::from_secs(2)).await;
    assert!(took < Duration::from_secs(2), "{took:?}");
    ends_within(&mut resumed, Duration::from_secs(2)).await;
    for app in [&a, &b] {
        for path in [
            "/api/shared",
            "/api/shared/events",
            "/api/shared/events/stream",
        ] {
            let (status, body) = shared(app, &token, path).await;
            assert_eq!(status, 404, "{path}: {body}");
            assert_eq!(body["error"]["code"], "not_found");
        }
    }
    let res = a
        .call(
            &alice,
            Method::GET,
            &format!("/api/sessions/{session}/share"),
            None,
        )
        .await;
    assert_eq!(res.status(), 404);
    // Revoking again is a no-op.
    let res = a
        .call(
            &alice,
            Method::DELETE,
            &format!("/api/sessions/{session}/share"),
            None,
        )
        .await;
    assert_eq!(res.status(), 204);
    a.call(
        &alice,
        Method::POST,
        &format!("/api/sessions/{session}/interrupt"),
        None,
    )
    .await;
}

#[tokio::test]
async fn a_share_token_reaches_no_write_route_and_is_never_a_login() {
    let app = app()
        .env(DEMO_EVENT_COUNT, 3)
        .env(DEMO_EVENT_DELAY_MS, 0)
        .spawn()
        .await;
    let alice = app.register("nowrite-alice@example.com").await;
    let bob = app.register("nowrite-bob@example.com").await;
    let session = app.create_session(&alice).await;
    let (_, created) = create_share(&app, &alice, &session).await;
    let token = created["token"].as_str().unwrap().to_string();

    // Every route that takes a login refuses the share token, whichever way it is presented.
    let id = &session;
    let routes: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, "/api/auth/session".into(), None),
        (Method::GET, "/api/sessions".into(), None),
        (Method::POST, "/api/sessions".into(), Some(json!({}))),
        (Method::GET, format!("/api/sessions/{id}"), None),
        (
            Method::PATCH,
            format!("/api/sessions/{id}"),
            Some(json!({ "title": "pwned" })),
        ),
        (Method::DELETE, format!("/api/sessions/{id}"), None),
        (Method::POST, format!("/api/sessions/{id}/restore"), None),
        (Method::PUT, format!("/api/sessions/{id}/favorite"), None),
        (
            Method::POST,
            format!("/api/sessions/{id}/send"),
            Some(json!({ "message": "hi" })),
        ),
        (Method::POST, format!("/api/sessions/{id}/interrupt"), None),
        (Method::GET, format!("/api/sessions/{id}/events"), None),
        (
            Method::GET,
            format!("/api/sessions/{id}/events/stream"),
            None,
        ),
        (Method::GET, format!("/api/sessions/{id}/share"), None),
        (Method::POST, format!("/api/sessions/{id}/share"), None),
        (Method::DELETE, format!("/api/sessions/{id}/share"), None),
        (
            Method::POST,
            "/api/sessions/bulk".into(),
            Some(json!({ "action": "delete", "ids": [id] })),
        ),
        (Method::POST, "/api/sessions/trash/empty".into(), None),
    ];
    let cookie = format!("{SESSION_COOKIE}={token}");
    for (method, path, body) in &routes {
        for how in ["bearer", "header", "cookie"] {
            let mut req = anonymous().request(method.clone(), app.url(path));
            req = match how {
                "bearer" => req.bearer_auth(&token),
                "header" => req.header(HEADER, &token),
                _ => req
                    .header("cookie", &cookie)
                    .header("origin", app.url("").trim_end_matches('/')),
            };
            if let Some(b) = body {
                req = req.json(b);
            }
            let status = req.send().await.unwrap().status();
            assert_eq!(status, 401, "{method} {path} with the share token as {how}");
        }
    }
    // Nothing changed.
    let res = app
        .call(
            &alice,
            Method::GET,
            &format!("/api/sessions/{session}"),
            None,
        )
        .await;
    let s: Value = res.json().await.unwrap();
    assert_eq!(s["title"], "New session");
    assert!(s["deletedAt"].is_null());
    assert_eq!(shared(&app, &token, "/api/shared").await.0, 200);
    // The shared routes take nothing but GET.
    for method in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
        for path in [
            "/api/shared",
            "/api/shared/events",
            "/api/shared/events/stream",
        ] {
            let status = anonymous()
                .request(method.clone(), app.url(path))
                .header(HEADER, &token)
                .send()
                .await
                .unwrap()
                .status();
            assert_eq!(status, 405, "{method} {path}");
        }
    }

    // Another user can neither see, create nor revoke the link of Alice's session.
    for method in [Method::GET, Method::POST, Method::DELETE] {
        let res = app
            .call(
                &bob,
                method.clone(),
                &format!("/api/sessions/{session}/share"),
                None,
            )
            .await;
        assert_eq!(res.status(), 404, "{method}");
    }
    assert_eq!(shared(&app, &token, "/api/shared").await.0, 200);
    // Missing, malformed or made-up tokens: 404.
    for bad in ["", "short", &"A".repeat(43), &format!("{token}x")] {
        assert_eq!(shared(&app, bad, "/api/shared").await.0, 404, "{bad:?}");
    }
    // A login token is no share token either.
    assert_eq!(shared(&app, &alice, "/api/shared").await.0, 404);

    // A new link replaces the old one; a session in the trash is not shown (nor re-shared).
    let (status, again) = create_share(&app, &alice, &session).await;
    assert_eq!(status, 201);
    let fresh = again["token"].as_str().unwrap().to_string();
    assert_ne!(fresh, token);
    assert_eq!(shared(&app, &token, "/api/shared").await.0, 404);
    assert_eq!(shared(&app, &fresh, "/api/shared").await.0, 200);
    app.call(
        &alice,
        Method::DELETE,
        &format!("/api/sessions/{session}"),
        None,
    )
    .await;
    assert_eq!(shared(&app, &fresh, "/api/shared").await.0, 404);
    let (status, body) = create_share(&app, &alice, &session).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "session_deleted");
    // Emptying the trash removes the link with its session.
    app.call(&alice, Method::POST, "/api/sessions/trash/empty", None)
        .await;
    let pool = sqlx::PgPool::connect(&app.db_url).await.unwrap();
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM session_shares")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(left, 0);
}
