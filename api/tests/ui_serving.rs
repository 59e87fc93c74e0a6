//! The web UI through the whole server (router, middleware, fallback) over real HTTP: deep links
//! get the app shell with its security headers and the replica id, assets are versioned and
//! long-cached, and API and probe paths keep their JSON 404. Serving the UI needs no database,
//! so these tests point the server at an unreachable one.

mod support;

use std::time::Duration;
use support::api::Api;
use tokio_util::sync::CancellationToken;
use webedt_api::{Config, Server};
use webedt_contract::{Settings, names};

struct App {
    api: Api,
    stop: CancellationToken,
}

impl std::ops::Deref for App {
    type Target = Api;

    fn deref(&self) -> &Api {
        &self.api
    }
}

impl Drop for App {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

async fn spawn() -> App {
    let env: Vec<(&'static str, String)> = vec![
        // Nothing listens on port 9: the UI must not need the database.
        (
            names::DATABASE_URL,
            "postgres://nobody@127.0.0.1:9/none".into(),
        ),
        (
            names::SESSION_SECRET,
            "ui-test-secret-0123456789abcdef0123456789".into(),
        ),
        (names::CONTAINER_ID, "ui-replica".into()),
        (names::LB_DRAIN_DELAY_MS, "0".into()),
        (names::MIGRATE_ON_START, "false".into()),
        (names::DB_POOL_MIN, "0".into()),
        (names::COOKIE_SECURE, "false".into()),
    ];
    let settings = Settings::from_env(&env).expect("valid settings");
    let config = Config::new(settings).expect("valid config");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let server = Server::with_listener(config, listener);
    let base = format!("http://{}", server.local_addr());
    let stop = CancellationToken::new();
    let signal = stop.clone();
    tokio::spawn(server.run(async move { signal.cancelled().await }));
    App {
        api: Api::new(
            base,
            reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .expect("client"),
        ),
        stop,
    }
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .unwrap_or_else(|| panic!("missing {name}"))
        .to_str()
        .expect("ascii header")
}

#[tokio::test]
async fn deep_links_serve_the_app_with_security_headers_and_replica_id() {
    let app = spawn().await;
    for path in ["/", "/login", "/sessions/3f0c", "/account", "/admin"] {
        let response = app.get(path).await;
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(
            header(&response, "content-type"),
            "text/html; charset=utf-8"
        );
        let csp = header(&response, "content-security-policy");
        assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"));
        assert_eq!(header(&response, "x-content-type-options"), "nosniff");
        assert_eq!(header(&response, "referrer-policy"), "no-referrer");
        assert_eq!(header(&response, "x-frame-options"), "DENY");
        assert_eq!(header(&response, "cache-control"), "no-cache");
        assert_eq!(header(&response, "x-container-id"), "ui-replica");
        let html = response.text().await.unwrap();
        assert!(html.contains(&webedt_api::ui::asset_base()), "{html}");
    }
}

#[tokio::test]
async fn assets_are_versioned_and_long_cached() {
    let app = spawn().await;
    let base = webedt_api::ui::asset_base();
    let response = app.get(&format!("{base}/js/app.js")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        header(&response, "cache-control"),
        "public, max-age=31536000, immutable"
    );
    assert_eq!(header(&response, "x-content-type-options"), "nosniff");
    assert!(header(&response, "content-type").starts_with("text/javascript"));
    let css = app.get(&format!("{base}/css/app.css")).await;
    assert_eq!(css.status(), 200);
    assert!(header(&css, "content-type").starts_with("text/css"));
}

#[tokio::test]
async fn api_and_probe_paths_keep_their_json_404() {
    let app = spawn().await;
    for path in [
        "/api/nope",
        "/api",
        "/health/nope",
        "/metrics/x",
        "/favicon.ico",
        "/assets/x/none.js",
    ] {
        let response = app.get(path).await;
        assert_eq!(response.status(), 404, "{path}");
        assert!(header(&response, "content-type").starts_with("application/json"));
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "not_found", "{path}");
    }
    // Not GET: not the app either.
    let response = app
        .client
        .post(format!("{}/sessions/x", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    // The probes themselves still answer (the UI fallback does not shadow them).
    assert_eq!(app.get("/live").await.status(), 200);
}
