//! Accounts and sessions across two replicas sharing one database.

use crate::common::{TestApp, app, fresh_database};
use crate::support::api::token_of;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use webedt_contract::names::*;

/// Two replicas of one deployment.
async fn pair() -> (TestApp, TestApp) {
    let db = fresh_database().await;
    let a = app().database(&db).spawn().await;
    let b = app().database(&db).spawn().await;
    (a, b)
}

/// A request as a browser on our own pages sends it: cookie plus `Sec-Fetch-Site: same-origin`.
fn browser(app: &TestApp, method: Method, path: &str, token: &str) -> reqwest::RequestBuilder {
    app.client
        .request(method, app.url(path))
        .header("cookie", format!("{}={token}", crate::common::COOKIE))
        .header("sec-fetch-site", "same-origin")
}

async fn session_status(app: &TestApp, token: &str) -> StatusCode {
    status_at(app, "/api/auth/session", token).await
}

async fn status_at(app: &TestApp, path: &str, token: &str) -> StatusCode {
    browser(app, Method::GET, path, token)
        .send()
        .await
        .unwrap()
        .status()
}

/// Routes that authenticate inside their own statement (`SessionToken` + `session_lookup!`)
/// rather than through the `AuthUser` extractor; each must refuse and slide exactly like it.
const ONE_STATEMENT_ROUTES: [&str; 1] = ["/api/sessions"];

async fn error_code(res: reqwest::Response) -> (StatusCode, Value) {
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    (status, body["error"].clone())
}

#[tokio::test]
async fn a_login_on_one_replica_is_recognised_by_another_and_logout_ends_it_everywhere() {
    let (a, b) = pair().await;
    let (token, body) = a
        .register_user("  Ada@Example.com ", "correct horse", Some("Ada"))
        .await;
    assert_eq!(body["user"]["email"], "ada@example.com");
    assert_eq!(body["user"]["displayName"], "Ada");
    assert_eq!(body["user"]["isAdmin"], false);

    let res = browser(&b, Method::GET, "/api/auth/session", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let session: Value = res.json().await.unwrap();
    assert_eq!(session["user"]["id"], body["user"]["id"]);
    assert!(session["session"]["id"].is_string());
    assert!(session["session"]["expiresAt"].is_string());

    // Bearer works too, for API clients.
    let res = b
        .client
        .get(b.url("/api/auth/session"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    let res = browser(&b, Method::POST, "/api/auth/logout", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let cleared = res.headers()["set-cookie"].to_str().unwrap();
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    assert_eq!(session_status(&a, &token).await, 401);
    assert_eq!(session_status(&b, &token).await, 401);
}

#[tokio::test]
async fn changing_the_password_ends_every_other_session_on_every_replica() {
    let (a, b) = pair().await;
    let (first, _) = a
        .register_user("pw@example.com", "old password", Some("Ada"))
        .await;
    let second = token_of(&b.login("pw@example.com", "old password").await);
    assert_eq!(session_status(&b, &second).await, 200);

    let wrong = browser(&a, Method::POST, "/api/auth/password", &first)
        .json(&json!({ "currentPassword": "not it!!", "newPassword": "new password" }))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(wrong).await.1["code"], "invalid_credentials");

    let res = browser(&a, Method::POST, "/api/auth/password", &first)
        .json(&json!({ "currentPassword": "old password", "newPassword": "new password" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(
        session_status(&b, &second).await,
        401,
        "other session ended"
    );
    assert_eq!(
        session_status(&b, &first).await,
        200,
        "the changing session stays"
    );
    assert_eq!(
        a.login("pw@example.com", "old password").await.status(),
        401
    );
    assert_eq!(
        b.login("pw@example.com", "new password").await.status(),
        200
    );
}

#[tokio::test]
async fn sessions_are_listed_and_revoked_by_their_owner_only() {
    let (a, b) = pair().await;
    let (mine, _) = a
        .register_user("owner@example.com", "password one", Some("Ada"))
        .await;
    let other_device = token_of(&b.login("owner@example.com", "password one").await);
    let (intruder, _) = b
        .register_user("intruder@example.com", "password two", Some("Ada"))
        .await;

    let list: Value = browser(&a, Method::GET, "/api/auth/sessions", &mine)
        .header("user-agent", "test-agent/1")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let sessions = list["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 2, "{list}");
    assert_eq!(sessions.iter().filter(|s| s["current"] == true).count(), 1);
    let other = sessions.iter().find(|s| s["current"] == false).unwrap();
    for key in ["id", "createdAt", "lastSeenAt"] {
        assert!(other[key].is_string(), "{key} in {other}");
    }
    let other_id = other["id"].as_str().unwrap();

    let path = format!("/api/auth/sessions/{other_id}");
    let res = browser(&b, Method::DELETE, &path, &intruder)
        .send()
        .await
        .unwrap();
    let (status, err) = error_code(res).await;
    assert_eq!(
        (status, err["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    assert_eq!(session_status(&a, &other_device).await, 200);

    let res = browser(&b, Method::DELETE, &path, &mine)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(session_status(&a, &other_device).await, 401);
    let res = browser(&b, Method::DELETE, &path, &mine)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let res = browser(&b, Method::DELETE, "/api/auth/sessions/not-a-uuid", &mine)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
}

#[tokio::test]
async fn only_hashes_are_stored() {
    let a = app().spawn().await;
    let (token, body) = a
        .register_user("hash@example.com", "secret password", Some("Ada"))
        .await;
    let pool = a.state.db.pool();
    let hash: String = sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1::uuid")
        .bind(body["user"]["id"].as_str().unwrap())
        .fetch_one(pool)
        .await
        .unwrap();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert!(!hash.contains("secret password"));
    // Every column of every session row, as text and as the raw key, never holds the token.
    let rows: Vec<(String, Vec<u8>)> =
        sqlx::query_as("SELECT row_to_json(s)::text, s.id FROM auth_sessions s")
            .fetch_all(pool)
            .await
            .unwrap();
    assert_eq!(rows.len(), 1);
    for (text, key) in rows {
        assert!(!text.contains(&token), "{text}");
        assert_ne!(key, token.as_bytes());
        assert_eq!(key.len(), 32);
    }
}

#[tokio::test]
async fn cookie_writes_need_same_site_proof_bearer_writes_do_not() {
    let a = app()
        .env(ALLOWED_ORIGINS, "https://ui.example.com")
        .spawn()
        .await;
    let (token, _) = a
        .register_user("csrf@example.com", "password 123", Some("Ada"))
        .await;
    let post = |origin: Option<&str>, site: Option<&str>| {
        let mut req = a
            .client
            .post(a.url("/api/auth/logout"))
            .header("cookie", format!("{}={token}", crate::common::COOKIE));
        if let Some(o) = origin {
            req = req.header("origin", o);
        }
        if let Some(s) = site {
            req = req.header("sec-fetch-site", s);
        }
        req.send()
    };
    let (status, err) = error_code(
        post(Some("https://evil.example"), Some("cross-site"))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, err["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("csrf"))
    );
    let (status, err) = error_code(post(None, None).await.unwrap()).await;
    assert_eq!(
        (status, err["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("csrf"))
    );
    let (status, _) = error_code(post(Some("https://evil.example"), None).await.unwrap()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        session_status(&a, &token).await,
        200,
        "refused requests changed nothing"
    );

    // The page's own origin (same host as the request) and configured origins pass.
    let own = format!("http://{}", a.addr);
    assert_eq!(
        post(Some("https://ui.example.com"), Some("cross-site"))
            .await
            .unwrap()
            .status(),
        204
    );
    let (token, _) = {
        let res = a.login("csrf@example.com", "password 123").await;
        (token_of(&res), ())
    };
    let res = a
        .client
        .post(a.url("/api/auth/logout"))
        .header("cookie", format!("{}={token}", crate::common::COOKIE))
        .header("origin", own)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);

    // Bearer requests carry no ambient credential: exempt.
    let token = token_of(&a.login("csrf@example.com", "password 123").await);
    let res = a
        .client
        .post(a.url("/api/auth/logout"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(session_status(&a, &token).await, 401);
}

#[tokio::test]
async fn failed_logins_on_both_replicas_trip_one_shared_limit() {
    let (a, b) = pair().await;
    a.register_user("victim@example.com", "right password", Some("Ada"))
        .await;
    for i in 0..10 {
        let replica = if i % 2 == 0 { &a } else { &b };
        let res = replica.login("victim@example.com", "wrong password").await;
        assert_eq!(res.status(), 401, "attempt {i}");
    }
    for replica in [&a, &b] {
        let res = replica.login("victim@example.com", "right password").await;
        assert_eq!(res.status(), 429);
        let retry: u64 = res.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=900).contains(&retry), "{retry}");
        assert_eq!(error_code(res).await.1["code"], "rate_limited");
    }
    // Failures are keyed by the connection's peer address (the accept loop's ConnectInfo), not
    // by a placeholder every client would share.
    let ips: Vec<String> = sqlx::query_scalar("SELECT DISTINCT ip FROM login_failures")
        .fetch_all(a.state.db.pool())
        .await
        .unwrap();
    assert_eq!(ips, ["127.0.0.1"]);
}

#[tokio::test]
async fn expired_malformed_and_tampered_tokens_are_refused() {
    let a = app().spawn().await;
    let (token, _) = a
        .register_user("exp@example.com", "password 123", Some("Ada"))
        .await;
    let mut tampered = token.clone().into_bytes();
    tampered[5] = if tampered[5] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    for path in std::iter::once("/api/auth/session").chain(ONE_STATEMENT_ROUTES) {
        assert_eq!(status_at(&a, path, &tampered).await, 401, "{path}");
        assert_eq!(status_at(&a, path, "garbage").await, 401, "{path}");
        let res = a.get(path).await;
        let (status, err) = error_code(res).await;
        assert_eq!(
            (status, err["code"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("unauthorized")),
            "{path}"
        );
        assert_eq!(status_at(&a, path, &token).await, 200, "{path}");
    }
    // A bad query string is reported to a live session...
    assert_eq!(status_at(&a, "/api/sessions?cursor=zzz", &token).await, 422);
    assert_eq!(status_at(&a, "/api/sessions?limit=abc", &token).await, 400);
    // ...but a dead session hears 401 first, as on every route.
    assert_eq!(
        status_at(&a, "/api/sessions?cursor=zzz", &tampered).await,
        401
    );
    assert_eq!(
        status_at(&a, "/api/sessions?limit=abc", &tampered).await,
        401
    );
    sqlx::query("UPDATE auth_sessions SET expires_at = now() - interval '1 second'")
        .execute(a.state.db.pool())
        .await
        .unwrap();
    for path in std::iter::once("/api/auth/session").chain(ONE_STATEMENT_ROUTES) {
        assert_eq!(status_at(&a, path, &token).await, 401, "{path}");
    }
}

#[tokio::test]
async fn sessions_slide_when_half_their_life_is_gone() {
    let a = app().spawn().await;
    let (token, _) = a
        .register_user("slide@example.com", "password 123", Some("Ada"))
        .await;
    for path in std::iter::once("/api/auth/session").chain(ONE_STATEMENT_ROUTES) {
        let pool = a.state.db.pool();
        sqlx::query(
            "UPDATE auth_sessions SET expires_at = now() + interval '10 days',
                                      last_verified_at = now() - interval '2 hours'",
        )
        .execute(pool)
        .await
        .unwrap();
        let res = browser(&a, Method::GET, path, &token).send().await.unwrap();
        assert_eq!(res.status(), 200, "{path}");
        // A cookie session that slides gets its cookie renewed, same token, full lifetime.
        let renewed = res
            .headers()
            .get("set-cookie")
            .map(|v| v.to_str().unwrap().to_string());
        assert!(
            renewed.as_deref().is_some_and(|c| c
                .starts_with(&format!("{}={token};", crate::common::COOKIE))
                && c.contains("Max-Age=2592000")),
            "{path}: {renewed:?}"
        );
        // The extension is written off the request path; give it a moment.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            let days: f64 = sqlx::query_scalar(
                "SELECT extract(epoch FROM expires_at - now())::float8 / 86400 FROM auth_sessions",
            )
            .fetch_one(pool)
            .await
            .unwrap();
            if days > 29.0 {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{path}: not extended: {days} days left"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
}

#[tokio::test]
async fn bad_input_gets_its_code() {
    let a = app().env(ADMIN_EMAILS, "root@example.com").spawn().await;
    let post = |path: &'static str, body: Value| a.client.post(a.url(path)).json(&body).send();
    let cases = [
        (
            "/api/auth/register",
            json!({"email": "nope", "password": "password 1"}),
            422,
            "validation",
            Some("email"),
        ),
        (
            "/api/auth/register",
            json!({"email": "a@b.io", "password": "short"}),
            422,
            "validation",
            Some("password"),
        ),
        (
            "/api/auth/register",
            json!({"email": "a@b.io", "password": "x".repeat(257)}),
            422,
            "validation",
            Some("password"),
        ),
        (
            "/api/auth/register",
            json!({"password": "password 1"}),
            422,
            "validation",
            Some("email"),
        ),
        (
            "/api/auth/login",
            json!({"email": "a@b.io"}),
            422,
            "validation",
            Some("password"),
        ),
        (
            "/api/auth/login",
            json!({"email": "nobody@b.io", "password": "whatever1"}),
            401,
            "invalid_credentials",
            None,
        ),
    ];
    for (path, body, status, code, field) in cases {
        let (got, err) = error_code(post(path, body.clone()).await.unwrap()).await;
        assert_eq!(got.as_u16(), status, "{path} {body}: {err}");
        assert_eq!(err["code"], code, "{path} {body}");
        if let Some(f) = field {
            assert_eq!(err["field"], f, "{path} {body}");
        }
    }
    let res = a
        .client
        .post(a.url("/api/auth/login"))
        .header("content-type", "application/json")
        .body("{\"email\":")
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(res).await.1["code"], "invalid_json");

    let (_, admin) = a
        .register_user("Root@Example.com", "password 123", Some("Ada"))
        .await;
    // A listed address registered by anyone gets nothing (no email verification): admin rights
    // come from `webedt-api admin grant`.
    assert_eq!(admin["user"]["isAdmin"], false);
    let res = post(
        "/api/auth/register",
        json!({"email": "root@example.com", "password": "password 456"}),
    )
    .await
    .unwrap();
    let (status, err) = error_code(res).await;
    assert_eq!(
        (status, err["code"].as_str()),
        (StatusCode::CONFLICT, Some("email_taken"))
    );

    // Unknown account and wrong password: same status, same code, same message.
    a.register_user("known@example.com", "password 123", Some("Ada"))
        .await;
    let unknown = error_code(a.login("unknown@example.com", "password 123").await).await;
    let wrong = error_code(a.login("known@example.com", "password 999").await).await;
    assert_eq!(unknown, wrong);
}

#[tokio::test]
async fn the_purge_job_removes_expired_sessions_and_aged_failures_only() {
    let a = app().spawn().await;
    let (kept, _) = a
        .register_user("keep@example.com", "password 123", Some("Ada"))
        .await;
    let (_gone, _) = a
        .register_user("gone@example.com", "password 123", Some("Ada"))
        .await;
    a.login("keep@example.com", "wrong password").await;
    let pool = a.state.db.pool();
    sqlx::query(
        "UPDATE auth_sessions SET expires_at = now() - interval '1 minute'
         WHERE user_id = (SELECT id FROM users WHERE email = 'gone@example.com')",
    )
    .execute(pool)
    .await
    .unwrap();
    sqlx::query("INSERT INTO login_failures (email, ip, failed_at) VALUES ('old@example.com', '1.2.3.4', now() - interval '1 hour')")
        .execute(pool)
        .await
        .unwrap();
    let result = (webedt_api::auth::purge::job().run)(pool.clone())
        .await
        .unwrap();
    assert_eq!(result["expiredSessions"], 1, "{result}");
    assert_eq!(result["loginFailures"], 1, "{result}");
    assert_eq!(session_status(&a, &kept).await, 200);
    let failures: i64 = sqlx::query_scalar("SELECT count(*) FROM login_failures")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(failures, 1, "the recent failure stays");
}
