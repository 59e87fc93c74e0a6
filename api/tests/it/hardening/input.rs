//! Finding 7: NUL characters and over-long fields are a 422 before anything is written.

use super::{body_of, register_at};
use crate::common::{TestApp, spawn_app};
use reqwest::Method;
use serde_json::{Value, json};

async fn counts(app: &TestApp) -> Vec<i64> {
    let mut out = Vec::new();
    for table in [
        "users",
        "chat_sessions",
        "events",
        "login_failures",
        "active_runs",
    ] {
        let n: i64 =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
                .fetch_one(app.state.db.pool())
                .await
                .unwrap();
        out.push(n);
    }
    out
}

async fn post(
    app: &TestApp,
    token: Option<&str>,
    method: Method,
    path: &str,
    body: Value,
) -> (u16, Value) {
    let mut req = app.client.request(method, app.url(path)).json(&body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let (status, body) = body_of(req.send().await.unwrap()).await;
    (status.as_u16(), body)
}

#[tokio::test]
async fn nul_and_overlong_fields_get_422_and_write_nothing() {
    let app = spawn_app().await;
    let token = register_at(&app, "input@example.com").await;
    let (_, created) = post(&app, Some(&token), Method::POST, "/api/sessions", json!({})).await;
    let session = created["id"].as_str().unwrap().to_string();
    let long_email = format!("{}@example.com", "a".repeat(3000));
    let before = counts(&app).await;
    let cases: Vec<(Option<&str>, Method, String, Value, &str)> = vec![
        (
            None,
            Method::POST,
            "/api/auth/register".into(),
            json!({ "email": "a\u{0}@example.com", "password": "password 123" }),
            "email",
        ),
        (
            None,
            Method::POST,
            "/api/auth/register".into(),
            json!({ "email": long_email, "password": "password 123" }),
            "email",
        ),
        (
            None,
            Method::POST,
            "/api/auth/register".into(),
            json!({ "email": "n@example.com", "password": "password 123", "displayName": "A\u{0}da" }),
            "displayName",
        ),
        (
            None,
            Method::POST,
            "/api/auth/register".into(),
            json!({ "email": "n@example.com", "password": "password 123", "displayName": "x".repeat(101) }),
            "displayName",
        ),
        (
            None,
            Method::POST,
            "/api/auth/login".into(),
            json!({ "email": "input\u{0}@example.com", "password": "x" }),
            "email",
        ),
        (
            None,
            Method::POST,
            "/api/auth/login".into(),
            json!({ "email": long_email, "password": "x" }),
            "email",
        ),
        (
            Some(&token),
            Method::POST,
            "/api/sessions".into(),
            json!({ "title": "t\u{0}" }),
            "title",
        ),
        (
            Some(&token),
            Method::POST,
            "/api/sessions".into(),
            json!({ "title": "x".repeat(201) }),
            "title",
        ),
        (
            Some(&token),
            Method::POST,
            "/api/sessions".into(),
            json!({ "model": "m\u{0}" }),
            "model",
        ),
        (
            Some(&token),
            Method::PATCH,
            format!("/api/sessions/{session}"),
            json!({ "title": "t\u{0}" }),
            "title",
        ),
        (
            Some(&token),
            Method::POST,
            format!("/api/sessions/{session}/send"),
            json!({ "message": "hi\u{0}" }),
            "message",
        ),
        (
            Some(&token),
            Method::POST,
            format!("/api/sessions/{session}/send"),
            json!({ "message": "x".repeat(100 * 1024 + 1) }),
            "message",
        ),
        (
            Some(&token),
            Method::POST,
            format!("/api/sessions/{session}/send"),
            json!({ "message": "hi", "model": "m\u{0}" }),
            "model",
        ),
        (
            Some(&token),
            Method::POST,
            "/api/execute-remote".into(),
            json!({ "userRequest": "hi\u{0}" }),
            "userRequest",
        ),
        (
            Some(&token),
            Method::POST,
            "/api/execute-remote".into(),
            json!({ "userRequest": "hi", "model": "m\u{0}" }),
            "model",
        ),
        (
            Some(&token),
            Method::POST,
            "/api/execute-remote".into(),
            json!({ "userRequest": "hi", "model": "m".repeat(201) }),
            "model",
        ),
    ];
    for (token, method, path, body, field) in cases {
        let (status, answer) = post(&app, token, method.clone(), &path, body).await;
        assert_eq!(status, 422, "{method} {path}: {answer}");
        assert_eq!(answer["error"]["code"], "validation", "{path}: {answer}");
        assert_eq!(answer["error"]["field"], field, "{path}: {answer}");
    }
    assert_eq!(
        counts(&app).await,
        before,
        "a refused request wrote nothing"
    );
}

/// Model output and tool results can contain U+0000; they are stored with U+FFFD instead.
#[tokio::test]
async fn events_with_nul_anywhere_are_stored_with_it_replaced() {
    let app = spawn_app().await;
    let token = register_at(&app, "nul@example.com").await;
    let (_, created) = post(&app, Some(&token), Method::POST, "/api/sessions", json!({})).await;
    let session: uuid::Uuid = created["id"].as_str().unwrap().parse().unwrap();
    let call = webedt_api::events::Event::ToolUse(webedt_api::events::kinds::ToolUse {
        id: "t\u{0}".into(),
        name: "tool".into(),
        input: json!({ "content": "a\u{0}b", "nested": [{ "k\u{0}": "\u{0}" }] }),
    });
    let stored = webedt_api::events::append(app.state.db.pool(), session, &call)
        .await
        .expect("stored despite NUL");
    assert_eq!(stored.data["id"], "t\u{FFFD}");
    assert_eq!(stored.data["input"]["content"], "a\u{FFFD}b");
    assert_eq!(stored.data["input"]["nested"][0]["k\u{FFFD}"], "\u{FFFD}");
}
