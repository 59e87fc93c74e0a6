//! Ending a login session (logout, revocation, password change) ends its open streams on every
//! replica within 2 s.

use super::{body_of, pair_with, register_at};
use crate::support::sse::SseReader;
use std::time::{Duration, Instant};

async fn ends_within(reader: &mut SseReader, within: Duration) -> Duration {
    let started = Instant::now();
    while started.elapsed() < within {
        match tokio::time::timeout(within, reader.next(within * 5)).await {
            Ok(None) => return started.elapsed(),
            Ok(Some(_)) => continue,
            Err(_) => break,
        }
    }
    panic!("stream still open after {within:?}");
}

#[tokio::test]
async fn logout_and_revocation_end_streams_on_the_other_replica() {
    let (a, b) = pair_with(&[]).await;
    let token = register_at(&a, "rev@example.com").await;
    // A second login of the same user, whose stream must survive the first one's logout.
    let res = a
        .client
        .post(a.url("/api/auth/login"))
        .json(&serde_json::json!({ "email": "rev@example.com", "password": "password 123" }))
        .send()
        .await
        .unwrap();
    let second = super::token_of(&res);
    let open = |token: String| {
        let b = &b;
        async move {
            let res = b
                .client
                .get(b.url("/api/sessions/updates"))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 200);
            let mut reader = SseReader::new(res);
            // The `connected` comment is skipped; make sure the stream is established.
            tokio::time::sleep(Duration::from_millis(200)).await;
            let _ = &mut reader;
            reader
        }
    };
    let mut first_stream = open(token.clone()).await;
    let mut second_stream = open(second.clone()).await;
    let res = a
        .client
        .post(a.url("/api/auth/logout"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let took = ends_within(&mut first_stream, Duration::from_secs(2)).await;
    assert!(took <= Duration::from_secs(2));
    // The other login's stream stays.
    assert!(
        tokio::time::timeout(
            Duration::from_millis(500),
            second_stream.next(Duration::from_secs(1))
        )
        .await
        .is_err(),
        "the other session's stream must stay open"
    );
    // Revoking that session from yet another login ends it too.
    let res = a
        .client
        .post(a.url("/api/auth/login"))
        .json(&serde_json::json!({ "email": "rev@example.com", "password": "password 123" }))
        .send()
        .await
        .unwrap();
    let third = super::token_of(&res);
    let (_, list) = body_of(
        a.client
            .get(a.url("/api/auth/sessions"))
            .bearer_auth(&third)
            .send()
            .await
            .unwrap(),
    )
    .await;
    let victim = list["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == false)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let res = a
        .client
        .delete(a.url(&format!("/api/auth/sessions/{victim}")))
        .bearer_auth(&third)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    ends_within(&mut second_stream, Duration::from_secs(2)).await;
}

#[tokio::test]
async fn password_change_ends_the_other_logins_streams_on_the_other_replica() {
    let (a, b) = pair_with(&[]).await;
    let kept = register_at(&a, "pw@example.com").await;
    let res = a
        .client
        .post(a.url("/api/auth/login"))
        .json(&serde_json::json!({ "email": "pw@example.com", "password": "password 123" }))
        .send()
        .await
        .unwrap();
    let other = super::token_of(&res);
    let open = |token: String| {
        let b = &b;
        async move {
            let res = b
                .client
                .get(b.url("/api/sessions/updates"))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 200);
            SseReader::new(res)
        }
    };
    let mut other_stream = open(other.clone()).await;
    let mut kept_stream = open(kept.clone()).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let res = a
        .client
        .post(a.url("/api/auth/password"))
        .bearer_auth(&kept)
        .json(&serde_json::json!({
            "currentPassword": "password 123",
            "newPassword": "another password 456",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    // The other login (a possibly stolen session) loses its stream on replica B at once ...
    ends_within(&mut other_stream, Duration::from_secs(2)).await;
    let res = b
        .client
        .get(b.url("/api/auth/session"))
        .bearer_auth(&other)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    // ... while the session that changed the password keeps its stream.
    assert!(
        tokio::time::timeout(
            Duration::from_millis(500),
            kept_stream.next(Duration::from_secs(1))
        )
        .await
        .is_err(),
        "the changing session's stream must stay open"
    );
}
