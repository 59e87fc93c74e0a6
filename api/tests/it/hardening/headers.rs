//! Finding 9: response headers, the session cookie, and resume points past the end.

use super::{body_of, register_at};
use crate::common::{app, spawn_app};
use serde_json::json;
use std::time::{Duration, Instant};
use webedt_contract::names::*;

#[tokio::test]
async fn json_answers_are_not_cached_or_sniffed() {
    let app = spawn_app().await;
    let token = register_at(&app, "hdr@example.com").await;
    for path in ["/api/auth/session", "/api/sessions", "/api/nope", "/health"] {
        let res = app
            .client
            .get(app.url(path))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        let h = res.headers();
        assert_eq!(h["cache-control"], "no-store", "{path}");
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert!(
            !h.contains_key("strict-transport-security"),
            "no HSTS on plain http"
        );
    }
}

#[tokio::test]
async fn secure_cookies_are_host_prefixed_match_the_session_and_come_with_hsts() {
    let app = app().env(COOKIE_SECURE, "true").spawn().await;
    let res = app
        .client
        .post(app.url("/api/auth/register"))
        .json(&json!({ "email": "sec@example.com", "password": "password 123" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let hsts = res.headers()["strict-transport-security"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(hsts.starts_with("max-age="), "{hsts}");
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_string();
    let name = format!("{SECURE_COOKIE_PREFIX}{SESSION_COOKIE}");
    assert!(cookie.starts_with(&format!("{name}=")), "{cookie}");
    for attr in ["Secure", "Path=/", "HttpOnly", "SameSite=Lax"] {
        assert!(cookie.contains(attr), "{attr}: {cookie}");
    }
    assert!(!cookie.contains("Domain"), "{cookie}");
    let max_age: i64 = cookie
        .split("; ")
        .find_map(|a| a.strip_prefix("Max-Age="))
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        max_age,
        30 * 24 * 3600,
        "the session's lifetime, not 400 days"
    );
    let token = cookie[name.len() + 1..]
        .split(';')
        .next()
        .unwrap()
        .to_string();
    // A sibling subdomain can plant an unprefixed cookie; it is not ours, whatever its order.
    let res = app
        .client
        .get(app.url("/api/auth/session"))
        .header(
            "cookie",
            format!("{SESSION_COOKIE}=planted; {name}={token}"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

/// Two cookies of our name (one planted, one ours): the one that is a live session wins, in
/// either order.
#[tokio::test]
async fn of_two_session_cookies_the_live_one_is_used() {
    let app = spawn_app().await;
    let token = register_at(&app, "two@example.com").await;
    let other = register_at(&app, "planter@example.com").await;
    // The planter's own (valid) session must not be chosen over the victim's either when the
    // victim's comes second: a stale or foreign first cookie never wins over a live second one —
    // but of two live ones, the first is used, as browsers send the most specific first.
    for header in [
        format!(
            "{SESSION_COOKIE}=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA; {SESSION_COOKIE}={token}"
        ),
        format!("{SESSION_COOKIE}={token}; {SESSION_COOKIE}=garbage"),
    ] {
        let res = app
            .client
            .get(app.url("/api/auth/session"))
            .header("cookie", header.clone())
            .send()
            .await
            .unwrap();
        let (status, body) = body_of(res).await;
        assert_eq!(status, 200, "{header}: {body}");
        assert_eq!(body["user"]["email"], "two@example.com");
    }
    let _ = other;
}

#[tokio::test]
async fn resume_points_past_the_end_answer_at_once() {
    let app = spawn_app().await;
    let token = register_at(&app, "resume@example.com").await;
    let res = app
        .client
        .post(app.url("/api/sessions"))
        .bearer_auth(&token)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    let id = res.json::<serde_json::Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    for last in ["5", "9223372036854775807", "9223372036854775808", "-1"] {
        let started = Instant::now();
        let res = app
            .client
            .get(app.url(&format!("/api/sessions/{id}/events/stream")))
            .bearer_auth(&token)
            .header("last-event-id", last)
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .unwrap();
        let (status, body) = body_of(res).await;
        assert_eq!(status, 400, "{last}: {body}");
        assert_eq!(body["error"]["code"], "invalid_last_event_id");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{last} was held"
        );
    }
}
