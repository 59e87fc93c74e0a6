//! Finding 1: `/metrics` labels cannot be minted by clients.

use crate::common::spawn_app;
use rand::Rng;
use reqwest::Method;

#[tokio::test]
async fn metric_series_stay_bounded_under_invented_methods() {
    let app = spawn_app().await;
    let names: Vec<String> = {
        let mut rng = rand::rng();
        (0..300)
            .map(|_| {
                (0..40)
                    .map(|_| rng.random_range(b'A'..=b'Z') as char)
                    .collect()
            })
            .collect()
    };
    for (i, name) in names.iter().enumerate() {
        let method = Method::from_bytes(name.as_bytes()).unwrap();
        let path = if i % 2 == 0 {
            "/health"
        } else {
            "/api/sessions"
        };
        let _ = app.client.request(method, app.url(path)).send().await;
    }
    let text = app.get("/metrics").await.text().await.unwrap();
    let series: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("webedt_http_requests_total{"))
        .collect();
    // Two routes × (GET for the scrape, `other`) × a few statuses: a handful, not 300.
    assert!(
        series.len() <= 10,
        "{} series:\n{}",
        series.len(),
        series.join("\n")
    );
    assert!(
        series.iter().any(|l| l.contains("method=\"other\"")),
        "{text}"
    );
    let durations = text
        .lines()
        .filter(|l| l.starts_with("webedt_http_request_duration_seconds_count{"))
        .count();
    assert!(durations <= 6, "{durations} duration series");
}
