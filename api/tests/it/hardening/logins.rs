//! Findings 5 and 6: registration per IP (IPv6 by /64) and a login limit that cannot lock out the
//! right password from a fresh client.

use super::{body_of, pair_with};
use crate::common::TestApp;
use serde_json::json;
use webedt_contract::names::*;

async fn register_from(app: &TestApp, email: &str, ip: &str) -> reqwest::Response {
    app.client
        .post(app.url("/api/auth/register"))
        .header("x-forwarded-for", ip)
        .json(&json!({ "email": email, "password": "password 123" }))
        .send()
        .await
        .unwrap()
}

async fn login_from(app: &TestApp, email: &str, password: &str, ip: &str) -> reqwest::Response {
    app.client
        .post(app.url("/api/auth/login"))
        .header("x-forwarded-for", ip)
        .json(&json!({ "email": email, "password": password }))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn registration_is_limited_per_ip_across_replicas_and_ipv6_by_its_64() {
    let (a, b) = pair_with(&[
        (LIMIT_REGISTRATIONS_PER_IP_HOUR, "3"),
        (TRUSTED_PROXY_HOPS, "1"),
    ])
    .await;
    for i in 0..3 {
        let app = if i % 2 == 0 { &a } else { &b };
        let res = register_from(app, &format!("u{i}@example.com"), "203.0.113.7").await;
        assert_eq!(res.status(), 201);
    }
    for app in [&a, &b] {
        let (status, body) =
            body_of(register_from(app, "late@example.com", "203.0.113.7").await).await;
        assert_eq!(status, 429, "{body}");
        assert_eq!(body["error"]["code"], "registration_limit");
    }
    let late: i64 =
        sqlx::query_scalar("SELECT count(*) FROM users WHERE email = 'late@example.com'")
            .fetch_one(a.state.db.pool())
            .await
            .unwrap();
    assert_eq!(late, 0);
    // Another IPv4 client is not affected.
    assert_eq!(
        register_from(&a, "v4@example.com", "203.0.113.8")
            .await
            .status(),
        201
    );
    // Addresses of one IPv6 /64 share a count; another /64 has its own.
    for i in 0..3 {
        let ip = format!("2001:db8:aa:1::{:x}", i + 1);
        assert_eq!(
            register_from(&b, &format!("six{i}@example.com"), &ip)
                .await
                .status(),
            201
        );
    }
    let res = register_from(&a, "six9@example.com", "2001:db8:aa:1:ffff::9").await;
    assert_eq!(res.status(), 429, "same /64");
    let res = register_from(&a, "other64@example.com", "2001:db8:aa:2::1").await;
    assert_eq!(res.status(), 201, "another /64");
}

/// An attacker fails the victim's password from several IPs on both replicas: those IPs are
/// refused, and every attempt on the account is slowed down, but the right password from a
/// fresh client still logs in.
#[tokio::test]
async fn the_right_password_from_a_new_ip_logs_in_during_an_attack() {
    let (a, b) = pair_with(&[
        (TRUSTED_PROXY_HOPS, "1"),
        (LIMIT_LOGIN_FAILURES_PER_ACCOUNT_IP, "5"),
        (LIMIT_LOGIN_SLOWDOWN_AFTER, "10"),
    ])
    .await;
    let res = register_from(&a, "victim@example.com", "198.51.100.1").await;
    assert_eq!(res.status(), 201);
    for attacker in 1..=3 {
        let ip = format!("192.0.2.{attacker}");
        for i in 0..5 {
            let app = if i % 2 == 0 { &a } else { &b };
            let res = login_from(app, "victim@example.com", "wrong password", &ip).await;
            assert_eq!(res.status(), 401);
        }
        // This attacker's IP is now refused for this account, even with the right password.
        let res = login_from(&b, "victim@example.com", "password 123", &ip).await;
        assert_eq!(res.status(), 429);
        assert!(res.headers().contains_key("retry-after"));
    }
    // 15 failures ≥ the slow-down threshold: the account is under attack, yet its owner from a
    // new address logs in, on either replica.
    for (app, ip) in [(&a, "198.51.100.2"), (&b, "2001:db8:77::1")] {
        let (status, body) =
            body_of(login_from(app, "victim@example.com", "password 123", ip).await).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["user"]["email"], "victim@example.com");
    }
    // The attackers' failures were not wiped by the owner's success.
    let res = login_from(&a, "victim@example.com", "password 123", "192.0.2.1").await;
    assert_eq!(res.status(), 429);
}
