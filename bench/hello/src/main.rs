//! The reference for P1: a bare axum server answering `/live` like webedt-api does, built with
//! the same profile, so the ratio measures what webedt-api's middleware and state cost.
use axum::{Json, Router, routing::get};

#[tokio::main]
async fn main() {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:3998".into());
    let app = Router::new().route(
        "/live",
        get(|| async { Json(serde_json::json!({ "status": "alive" })) }),
    );
    let listener = tokio::net::TcpListener::bind(&addr).await.unwrap();
    axum::serve(listener, app).await.unwrap();
}
