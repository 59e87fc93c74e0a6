//! Finding 2: the CSRF exemption holds only for a Bearer credential, and write routes take JSON
//! only.

use super::{body_of, cookie_name, register_at};
use crate::common::spawn_app;
use serde_json::json;

#[tokio::test]
async fn basic_auth_with_the_cookie_from_another_site_is_refused() {
    let app = spawn_app().await;
    let token = register_at(&app, "basic@example.com").await;
    let cookie = format!("{}={token}", cookie_name());
    for path in ["/api/auth/logout", "/api/sessions"] {
        let res = app
            .client
            .post(app.url(path))
            .header("cookie", &cookie)
            // What a browser behind a basic-auth proxy adds by itself.
            .header("authorization", "Basic dXNlcjpwYXNz")
            .header("origin", "https://evil.example")
            .header("sec-fetch-site", "cross-site")
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .unwrap();
        let (status, body) = body_of(res).await;
        assert_eq!(status, 403, "{path}: {body}");
        assert_eq!(body["error"]["code"], "csrf");
    }
    // Nothing happened: the session lives and no chat session was created.
    let res = app
        .client
        .get(app.url("/api/sessions"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let (status, body) = body_of(res).await;
    assert_eq!(status, 200);
    assert_eq!(body["sessions"], json!([]));
}

#[tokio::test]
async fn write_routes_refuse_bodies_that_are_not_json() {
    let app = spawn_app().await;
    let token = register_at(&app, "plain@example.com").await;
    for (content_type, body) in [
        (Some("text/plain"), "{\"title\":\"x\"}"),
        (Some("application/x-www-form-urlencoded"), "title=x"),
        (Some("multipart/form-data; boundary=x"), "--x--"),
        (None, "{\"title\":\"x\"}"),
    ] {
        let mut req = app
            .client
            .post(app.url("/api/sessions"))
            .bearer_auth(&token)
            .body(body);
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        let (status, err) = body_of(req.send().await.unwrap()).await;
        assert_eq!(status, 415, "{content_type:?}: {err}");
        assert_eq!(err["error"]["code"], "unsupported_media_type");
    }
    // A cross-site form to a body-less write is refused by its type too.
    let res = app
        .client
        .post(app.url("/api/auth/logout"))
        .bearer_auth(&token)
        .header("content-type", "text/plain")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 415);
    // JSON, and the empty body the route documents, still create.
    let res = app
        .client
        .post(app.url("/api/sessions"))
        .bearer_auth(&token)
        .json(&json!({ "title": "fine" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let res = app
        .client
        .post(app.url("/api/sessions"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let res = app
        .client
        .get(app.url("/api/sessions"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let (_, body) = body_of(res).await;
    assert_eq!(body["sessions"].as_array().unwrap().len(), 2);
}
