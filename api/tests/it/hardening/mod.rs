//! Issue 15: what a security review of two replicas found, each with the test that proves it
//! fixed. Helpers shared by the findings' files.

mod admin;
mod connections;
mod csrf;
mod headers;
mod input;
mod limits;
mod logins;
mod metrics;
mod revocation;

use crate::common::{TestApp, fresh_database};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The session token from the `Set-Cookie` header.
pub fn token_of(res: &reqwest::Response) -> String {
    let cookie = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with(&format!("{}=", cookie_name())))
        .expect("session cookie set");
    cookie[cookie_name().len() + 1..]
        .split(';')
        .next()
        .unwrap()
        .to_string()
}

/// Test servers run with `COOKIE_SECURE=false`, so the unprefixed name.
pub fn cookie_name() -> &'static str {
    crate::common::COOKIE
}

pub async fn register_at(app: &TestApp, email: &str) -> String {
    let res = app
        .client
        .post(app.url("/api/auth/register"))
        .json(&json!({ "email": email, "password": "password 123" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED, "register {email}");
    token_of(&res)
}

pub async fn body_of(res: reqwest::Response) -> (StatusCode, Value) {
    let status = res.status();
    let text = res.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

pub async fn pair_with(env: &[(&'static str, &str)]) -> (TestApp, TestApp) {
    let db = fresh_database().await;
    let mut a = crate::common::app().database(&db);
    let mut b = crate::common::app().database(&db);
    for (k, v) in env {
        a = a.env(k, v);
        b = b.env(k, v);
    }
    (a.spawn().await, b.spawn().await)
}

/// Sends `raw` on a fresh connection and returns what the server answered before closing (or
/// before `within`).
pub async fn raw_exchange(app: &TestApp, raw: &[u8], within: Duration) -> String {
    let mut conn = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    conn.write_all(raw).await.unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(within, conn.read_to_end(&mut buf)).await;
    String::from_utf8_lossy(&buf).into_owned()
}

/// A client with no connection reuse, so every request is a new connection.
pub fn one_shot_client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}
