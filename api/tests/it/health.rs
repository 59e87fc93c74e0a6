use crate::common::{app, spawn_app};
use axum::routing::post;
use serde_json::Value;

#[tokio::test]
async fn health_is_fast_and_describes_the_build() {
    let app = spawn_app().await;
    let res = app.get("/health").await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["x-container-id"].to_str().unwrap(),
        app.container_id()
    );
    assert!(!res.headers()["x-request-id"].is_empty());
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["service"], "webedt-api");
    assert_eq!(body["containerId"], app.container_id());
    for key in ["commitSha", "timestamp", "version"] {
        assert!(body["build"][key].is_string(), "build.{key} in {body}");
    }
    assert!(body["timestamp"].as_str().unwrap().ends_with('Z'));
}

#[tokio::test]
async fn live_and_ready_answer_their_documented_bodies() {
    let app = spawn_app().await;
    let live = app.get("/live").await;
    assert_eq!(live.status(), 200);
    assert_eq!(live.json::<Value>().await.unwrap()["status"], "alive");
    let ready = app.get("/ready").await;
    assert_eq!(ready.status(), 200);
    assert_eq!(ready.json::<Value>().await.unwrap()["status"], "ready");
}

#[tokio::test]
async fn status_reports_database_pool_and_scale() {
    let app = spawn_app().await;
    let res = app.get("/health/status").await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], "healthy", "{body}");
    assert_eq!(body["containerId"], app.container_id());
    assert!(body["uptimeSeconds"].is_u64());
    let db = &body["database"];
    assert_eq!(db["healthy"], true);
    assert!(db["latencyMs"].as_f64().unwrap() > 0.0);
    let c = &db["connections"];
    assert!(c["total"].as_u64().unwrap() >= 1, "{c}");
    assert_eq!(
        c["total"].as_u64().unwrap(),
        c["idle"].as_u64().unwrap() + c["inUse"].as_u64().unwrap()
    );
    assert_eq!(c["waiting"], 0);
    assert_eq!(c["max"], 10);
    assert_eq!(body["scale"]["architecture"], "horizontally scalable");
    assert!(body["jobs"].is_object(), "{body}");
    assert!(body["build"]["version"].is_string());
}

#[tokio::test]
async fn request_ids_are_echoed_or_generated() {
    let app = spawn_app().await;
    let res = app
        .client
        .get(app.url("/live"))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "abc-123");
    let a = app.get("/live").await.headers()["x-request-id"].clone();
    let b = app.get("/live").await.headers()["x-request-id"].clone();
    assert_ne!(a, b);
    assert_eq!(a.len(), 36, "a UUID");
}

async fn assert_error(res: reqwest::Response, status: u16, code: &str) -> Value {
    assert_eq!(res.status(), status);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    assert!(res.headers().contains_key("x-container-id"));
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(
        body["error"]["message"].as_str().unwrap().len() > 3,
        "{body}"
    );
    body
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_in_the_error_shape() {
    let app = spawn_app().await;
    assert_error(app.get("/api/does-not-exist").await, 404, "not_found").await;
    let res = app.client.delete(app.url("/live")).send().await.unwrap();
    assert!(res.headers()["allow"].to_str().unwrap().contains("GET"));
    assert_error(res, 405, "method_not_allowed").await;
}

#[derive(serde::Deserialize)]
#[allow(dead_code)]
struct Echo {
    name: String,
}

/// A JSON route added for the test, so the body limit, content type and JSON rejections are
/// checked through the real middleware stack.
// A test-only route, outside the contract.
#[allow(clippy::disallowed_methods)]
fn echo_routes() -> axum::Router<webedt_api::AppState> {
    axum::Router::new().route(
        "/api/test/echo",
        post(|webedt_api::json::Json(e): webedt_api::json::Json<Echo>| async move { e.name }),
    )
}

#[tokio::test]
async fn bad_bodies_get_clear_codes() {
    let app = app()
        .env(webedt_contract::names::BODY_LIMIT_BYTES, 1024)
        .routes(echo_routes())
        .spawn()
        .await;
    let post = |body: String, ct: &'static str| {
        app.client
            .post(app.url("/api/test/echo"))
            .header("content-type", ct)
            .body(body)
            .send()
    };
    let ok = post(r#"{"name":"x"}"#.into(), "application/json")
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.text().await.unwrap(), "x");
    assert_error(
        post("{".into(), "application/json").await.unwrap(),
        400,
        "invalid_json",
    )
    .await;
    let body = assert_error(
        post("{}".into(), "application/json").await.unwrap(),
        422,
        "validation",
    )
    .await;
    assert_eq!(body["error"]["field"], "name");
    assert_error(
        post(r#"{"name":"x"}"#.into(), "text/plain").await.unwrap(),
        415,
        "unsupported_media_type",
    )
    .await;
    let big = format!(r#"{{"name":"{}"}}"#, "x".repeat(4096));
    assert_error(
        post(big, "application/json").await.unwrap(),
        413,
        "payload_too_large",
    )
    .await;
}
