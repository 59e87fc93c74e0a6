//! Finding 8: admin rights by command, admin routes the server enforces, and the audit log.

use super::{body_of, pair_with, register_at};
use crate::common::{TestApp, spawn_app};
use crate::support::sse::SseReader;
use reqwest::Method;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

async fn as_user(app: &TestApp, token: &str, method: Method, path: &str) -> (u16, Value) {
    let (status, body) = body_of(
        app.client
            .request(method, app.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    (status.as_u16(), body)
}

/// `webedt-api admin grant|revoke EMAIL`, the real binary against the test database.
fn admin_command(app: &TestApp, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_webedt-api"))
        .arg("admin")
        .args(args)
        .env("DATABASE_URL", &app.db_url)
        .env("LOG_FORMAT", "pretty")
        .env("RUST_LOG", "warn")
        .output()
        .expect("run webedt-api admin")
}

#[tokio::test]
async fn admin_rights_come_from_the_command_and_the_server_enforces_them() {
    let app = spawn_app().await;
    let token = register_at(&app, "boss@example.com").await;
    for path in ["/api/admin/users", "/api/admin/audit"] {
        let (status, body) = as_user(&app, &token, Method::GET, path).await;
        assert_eq!(status, 403, "{path}: {body}");
        assert_eq!(body["error"]["code"], "admin_required");
    }
    let out = admin_command(&app, &["grant", "Boss@Example.com"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The same session, no new login: rights are read from the database on every request.
    let (status, body) = as_user(&app, &token, Method::GET, "/api/admin/users?q=BOSS").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["users"][0]["email"], "boss@example.com");
    assert_eq!(body["users"][0]["isAdmin"], true);
    let out = admin_command(&app, &["grant", "nobody@example.com"]);
    assert!(!out.status.success(), "an unknown account is an error");
    let out = admin_command(&app, &["revoke", "boss@example.com"]);
    assert!(out.status.success());
    let (status, _) = as_user(&app, &token, Method::GET, "/api/admin/users").await;
    assert_eq!(status, 403);
}

/// Disabling a user on replica A: their cookie gets 401 on replica B at once, their open stream
/// on B ends within 2 s, they cannot log in; enabling lets them log in again.
#[tokio::test]
async fn a_disabled_user_is_refused_on_the_other_replica_and_their_streams_end() {
    let (a, b) = pair_with(&[]).await;
    let admin = register_at(&a, "admin@example.com").await;
    assert!(
        webedt_api::admin::set_admin(a.state.db.pool(), "admin@example.com", true)
            .await
            .unwrap()
    );
    let victim = register_at(&a, "victim@example.com").await;
    let res = b
        .client
        .get(b.url("/api/sessions/updates"))
        .bearer_auth(&victim)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let mut stream = SseReader::new(res);
    let (_, list) = as_user(&a, &admin, Method::GET, "/api/admin/users?q=victim").await;
    let id = list["users"][0]["id"].as_str().unwrap().to_string();
    let (status, body) = as_user(
        &a,
        &admin,
        Method::POST,
        &format!("/api/admin/users/{id}/disable"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["endedSessions"], 1);
    let started = Instant::now();
    let (status, _) = as_user(&b, &victim, Method::GET, "/api/auth/session").await;
    assert_eq!(status, 401);
    loop {
        match tokio::time::timeout(Duration::from_secs(2), stream.next(Duration::from_secs(10)))
            .await
        {
            Ok(None) => break,
            Ok(Some(_)) => continue,
            Err(_) => panic!("the disabled user's stream is still open"),
        }
    }
    assert!(started.elapsed() <= Duration::from_secs(2));
    let login = |app: &TestApp| {
        app.client
            .post(app.url("/api/auth/login"))
            .json(&json!({ "email": "victim@example.com", "password": "password 123" }))
            .send()
    };
    let (status, body) = body_of(login(&b).await.unwrap()).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["code"], "account_disabled");
    let (status, _) = as_user(
        &b,
        &admin,
        Method::POST,
        &format!("/api/admin/users/{id}/enable"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(login(&a).await.unwrap().status(), 200);
    // An admin cannot lock themselves out.
    let (_, me) = as_user(&a, &admin, Method::GET, "/api/auth/session").await;
    let me = me["user"]["id"].as_str().unwrap();
    let (status, _) = as_user(
        &a,
        &admin,
        Method::POST,
        &format!("/api/admin/users/{me}/disable"),
    )
    .await;
    assert_eq!(status, 409);
}

#[tokio::test]
async fn an_admin_ends_a_users_runs_on_any_replica() {
    let (a, b) = pair_with(&[
        (webedt_contract::names::DEMO_EVENT_COUNT, "400"),
        (webedt_contract::names::DEMO_EVENT_DELAY_MS, "50"),
    ])
    .await;
    let admin = register_at(&a, "admin2@example.com").await;
    webedt_api::admin::set_admin(a.state.db.pool(), "admin2@example.com", true)
        .await
        .unwrap();
    let user = register_at(&a, "runner@example.com").await;
    let res = b
        .client
        .post(b.url("/api/sessions"))
        .bearer_auth(&user)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    let session = res.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let res = b
        .client
        .post(b.url(&format!("/api/sessions/{session}/send")))
        .bearer_auth(&user)
        .json(&json!({ "message": "long" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    let (_, list) = as_user(&a, &admin, Method::GET, "/api/admin/users?q=runner").await;
    assert_eq!(list["users"][0]["runningRuns"], 1);
    let id = list["users"][0]["id"].as_str().unwrap().to_string();
    let (status, body) = as_user(
        &a,
        &admin,
        Method::POST,
        &format!("/api/admin/users/{id}/runs/stop"),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["stopping"], 1);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, s) = as_user(&a, &user, Method::GET, &format!("/api/sessions/{session}")).await;
        if s["status"] == "interrupted" {
            break;
        }
        assert!(Instant::now() < deadline, "run not stopped: {s}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Logins, failures, logouts and admin actions are in the log with who, IP and replica; a flood
/// of failed logins is one entry per minute; admins page and filter it.
#[tokio::test]
async fn the_audit_log_records_security_events_once_per_minute_for_floods() {
    let (a, b) = pair_with(&[]).await;
    let admin = register_at(&a, "auditor@example.com").await;
    webedt_api::admin::set_admin(a.state.db.pool(), "auditor@example.com", true)
        .await
        .unwrap();
    register_at(&b, "target@example.com").await;
    for i in 0..8 {
        let app = if i % 2 == 0 { &a } else { &b };
        let res = app
            .client
            .post(app.url("/api/auth/login"))
            .json(&json!({ "email": "target@example.com", "password": "wrong wrong" }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401);
    }
    let res = b
        .client
        .post(b.url("/api/auth/login"))
        .json(&json!({ "email": "target@example.com", "password": "password 123" }))
        .send()
        .await
        .unwrap();
    let token = super::token_of(&res);
    let res = a
        .client
        .post(a.url("/api/auth/logout"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    // Spawned writes (rate-limited kinds) land shortly after the answer.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (status, body) = as_user(
        &a,
        &admin,
        Method::GET,
        "/api/admin/audit?action=login_failed",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let failed = body["entries"].as_array().unwrap();
    assert!(
        (1..=2).contains(&failed.len()),
        "8 failures across 2 replicas, within a minute boundary at most twice: {failed:?}"
    );
    assert_eq!(failed[0]["email"], "target@example.com");
    assert_eq!(failed[0]["ip"], "127.0.0.1");
    for action in ["login", "logout", "register"] {
        let (_, body) = as_user(
            &a,
            &admin,
            Method::GET,
            &format!("/api/admin/audit?action={action}"),
        )
        .await;
        let entries = body["entries"].as_array().unwrap();
        assert!(!entries.is_empty(), "{action}");
        let e = &entries[0];
        assert!(e["replica"].as_str().unwrap().starts_with("test-"), "{e}");
        assert!(e["at"].is_string());
    }
    // Paging: one entry a page, following nextBefore, gives every entry once, newest first.
    let (_, all) = as_user(&a, &admin, Method::GET, "/api/admin/audit?limit=500").await;
    let total = all["entries"].as_array().unwrap().len();
    let mut seen = Vec::new();
    let mut path = "/api/admin/audit?limit=1".to_string();
    loop {
        let (_, page) = as_user(&a, &admin, Method::GET, &path).await;
        for e in page["entries"].as_array().unwrap() {
            seen.push(e["id"].as_i64().unwrap());
        }
        match page["nextBefore"].as_i64() {
            Some(before) => path = format!("/api/admin/audit?limit=1&before={before}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), total);
    assert!(seen.windows(2).all(|w| w[0] > w[1]));
}
