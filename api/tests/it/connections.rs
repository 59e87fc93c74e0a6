//! Connections: a personal access token checked against a fake git host (reachable only through
//! `OUTBOUND_ALLOWED_HOSTS`), stored encrypted, listed without the token, deleted by its owner
//! only; the SSRF guard refuses private hosts that are not allowlisted.

use crate::common::{TestApp, app};
use axum::Json;
use axum::http::{HeaderMap, StatusCode};
use reqwest::Method;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use webedt_contract::names;

const TOKEN: &str = "glpat-SECRETsecret0123456789";
const KEY1: &str = "k1:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";
const KEY2: &str = "k2:AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=";

/// A GitLab-like host: `GET /api/v4/user` answers for [`TOKEN`] in `PRIVATE-TOKEN`, 401
/// otherwise; every other path is a 404 (so detection has to find GitLab). Records the tokens
/// it was sent.
async fn fake_gitlab() -> (String, Arc<Mutex<Vec<String>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    #[allow(clippy::disallowed_methods)]
    let router = axum::Router::new().route(
        "/api/v4/user",
        axum::routing::get(move |headers: HeaderMap| {
            let log = log.clone();
            async move {
                let token = headers
                    .get("private-token")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_string();
                log.lock().unwrap().push(token.clone());
                if token == TOKEN {
                    (
                        StatusCode::OK,
                        Json(json!({"id": 7, "username": "alice", "name": "Alice"})),
                    )
                } else {
                    (
                        StatusCode::UNAUTHORIZED,
                        Json(json!({"message": "401 Unauthorized"})),
                    )
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    (format!("127.0.0.1:{}", addr.port()), seen)
}

async fn app_for(host: &str, keys: &str, db: Option<&str>) -> TestApp {
    let mut b = app()
        .env(names::CREDENTIALS_KEYS, keys)
        .env(names::OUTBOUND_ALLOWED_HOSTS, host);
    if let Some(db) = db {
        b = b.database(db);
    }
    b.spawn().await
}

async fn create(app: &TestApp, token: &str, body: Value) -> (u16, String) {
    let res = app
        .call(token, Method::POST, "/api/connections", Some(body))
        .await;
    (res.status().as_u16(), res.text().await.unwrap())
}

fn code(body: &str) -> String {
    serde_json::from_str::<Value>(body).unwrap()["error"]["code"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Everything logged on this thread (the test's current-thread runtime runs the servers too),
/// at every level.
#[derive(Clone, Default)]
pub(crate) struct Logs(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Logs {
    pub(crate) fn capture(&self) -> tracing::subscriber::DefaultGuard {
        let logs = self.clone();
        tracing::subscriber::set_default(
            tracing_subscriber::fmt()
                .with_max_level(tracing::Level::TRACE)
                .with_writer(move || logs.clone())
                .finish(),
        )
    }

    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

#[tokio::test]
async fn a_token_is_checked_stored_encrypted_listed_without_it_and_survives_rotation() {
    let logs = Logs::default();
    let _capture = logs.capture();
    let (host, seen) = fake_gitlab().await;
    let app = app_for(&host, KEY1, None).await;
    let alice = app.register("alice@example.com").await;

    // Wrong token: the host refuses it, and the error does not echo it.
    let (status, body) = create(
        &app,
        &alice,
        json!({"host": format!("http://{host}"), "token": "glpat-wrong-token-value"}),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(code(&body), "token_rejected");
    assert!(!body.contains("glpat-wrong-token-value"), "{body}");

    let (status, body) = create(
        &app,
        &alice,
        json!({"host": format!("http://{host}/some/path"), "token": TOKEN}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert!(!body.contains(TOKEN), "{body}");
    let created: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(created["provider"], "gitlab");
    assert_eq!(created["login"], "alice");
    assert_eq!(created["host"], format!("http://{host}"));
    assert!(seen.lock().unwrap().iter().any(|t| t == TOKEN));

    // The same host again: a conflict, not a second row.
    let (status, body) = create(
        &app,
        &alice,
        json!({"host": format!("http://{host}"), "token": TOKEN}),
    )
    .await;
    assert_eq!((status, code(&body).as_str()), (409, "connection_exists"));

    let res = app
        .call(&alice, Method::GET, "/api/connections", None)
        .await;
    assert_eq!(res.status(), 200);
    let list = res.text().await.unwrap();
    assert!(!list.contains(TOKEN), "{list}");
    let list: Value = serde_json::from_str(&list).unwrap();
    assert_eq!(list["connections"].as_array().unwrap().len(), 1);

    // In the database: ciphertext under k1, not the token.
    let (secret, key_id): (Vec<u8>, String) =
        sqlx::query_as("SELECT secret, key_id FROM connections")
            .fetch_one(&app.state.db)
            .await
            .unwrap();
    assert_eq!(key_id, "k1");
    assert!(!secret.windows(TOKEN.len()).any(|w| w == TOKEN.as_bytes()));

    // A replica with a rotated keyring (k2 encrypts, k1 still listed) reads the stored token
    // as a run credential.
    let rotated = app_for(&host, &format!("{KEY2},{KEY1}"), Some(&app.db_url)).await;
    let user: uuid::Uuid = sqlx::query_scalar("SELECT user_id FROM connections")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    let cred = webedt_api::connections::credential_for(
        &rotated.state,
        user,
        &format!("http://{host}/alice/project.git"),
    )
    .await
    .unwrap();
    assert_eq!(
        cred.map(|c| (c.username, c.token)),
        Some(("oauth2".to_string(), TOKEN.to_string()))
    );
    // Another host: no credential.
    let none =
        webedt_api::connections::credential_for(&rotated.state, user, "https://example.org/x.git")
            .await
            .unwrap();
    assert!(none.is_none());
    // A replica that no longer has k1: the token does not decrypt, and the run goes without.
    let lost = app_for(&host, KEY2, Some(&app.db_url)).await;
    let repo = format!("http://{host}/alice/project.git");
    let cred = webedt_api::connections::credential_for(&lost.state, user, &repo)
        .await
        .unwrap();
    assert!(cred.is_none());

    // `reencrypt` moves the row to k2; then k1 can go.
    let keyring = rotated.state.config.keyring.clone().unwrap();
    let report = webedt_api::connections::reencrypt(&rotated.state.db, &keyring)
        .await
        .unwrap();
    assert_eq!(
        report,
        webedt_api::connections::Report {
            moved: 1,
            unreadable: 0
        }
    );
    let again = webedt_api::connections::reencrypt(&rotated.state.db, &keyring)
        .await
        .unwrap();
    assert_eq!(again.moved, 0, "nothing left under an old key");
    let key_id: String = sqlx::query_scalar("SELECT key_id FROM connections")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(key_id, "k2");
    let cred = webedt_api::connections::credential_for(&lost.state, user, &repo)
        .await
        .unwrap();
    assert_eq!(
        cred.map(|c| (c.username, c.token)),
        Some(("oauth2".to_string(), TOKEN.to_string()))
    );

    // Nothing logged, at any level, carries a token (the wrong one included).
    let text = logs.text();
    assert!(text.contains("connection created"), "the capture works");
    assert!(!text.contains(TOKEN), "the token is in the logs");
    assert!(
        !text.contains("glpat-wrong-token-value"),
        "a rejected token is in the logs"
    );
}

#[tokio::test]
async fn only_the_owner_sees_and_deletes_a_connection() {
    let (host, _) = fake_gitlab().await;
    let app = app_for(&host, KEY1, None).await;
    let alice = app.register("alice@example.com").await;
    let bob = app.register("bob@example.com").await;
    let (status, body) = create(
        &app,
        &alice,
        json!({"host": format!("http://{host}"), "token": TOKEN, "provider": "gitlab"}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let id = serde_json::from_str::<Value>(&body).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();

    let res = app.call(&bob, Method::GET, "/api/connections", None).await;
    let list: Value = res.json().await.unwrap();
    assert_eq!(list["connections"], json!([]));
    let path = format!("/api/connections/{id}");
    let res = app.call(&bob, Method::DELETE, &path, None).await;
    assert_eq!(res.status(), 404);
    let res = app
        .call(&alice, Method::DELETE, "/api/connections/not-a-uuid", None)
        .await;
    assert_eq!(res.status(), 404);
    let res = app.call(&alice, Method::DELETE, &path, None).await;
    assert_eq!(res.status(), 204);
    let res = app.call(&alice, Method::DELETE, &path, None).await;
    assert_eq!(res.status(), 404);
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM connections")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(n, 0, "the stored token is gone");
}

#[tokio::test]
async fn private_and_plain_http_hosts_are_refused_unless_allowlisted() {
    let (host, seen) = fake_gitlab().await;
    // The fake is not on the allowlist of this app.
    let app = app_for("git.example.com", KEY1, None).await;
    let alice = app.register("alice@example.com").await;
    for h in [
        format!("http://{host}"),
        format!("https://{host}"),
        "https://localhost".to_string(),
        "https://169.254.169.254".to_string(),
        "https://[::1]:8443".to_string(),
        "https://10.0.0.5".to_string(),
    ] {
        let (status, body) = create(&app, &alice, json!({"host": h, "token": TOKEN})).await;
        assert_eq!(
            (status, code(&body).as_str()),
            (422, "host_forbidden"),
            "{h}: {body}"
        );
        assert!(!body.contains(TOKEN));
    }
    assert!(
        seen.lock().unwrap().is_empty(),
        "no request reached the private host"
    );
}

#[tokio::test]
async fn without_keys_connections_are_unavailable_and_the_cap_holds() {
    let app = app().spawn().await;
    let alice = app.register("alice@example.com").await;
    let (status, body) = create(&app, &alice, json!({"host": "github.com", "token": TOKEN})).await;
    assert_eq!(
        (status, code(&body).as_str()),
        (422, "connections_unavailable"),
        "{body}"
    );

    let (host, _) = fake_gitlab().await;
    let app = app_for(&host, KEY1, None).await;
    let alice = app.register("alice@example.com").await;
    let user: uuid::Uuid = sqlx::query_scalar("SELECT id FROM users")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    for i in 0..webedt_api::connections::MAX_PER_USER {
        sqlx::query(
            "INSERT INTO connections (id, user_id, kind, provider, host, login, secret, key_id)
             VALUES ($1, $2, 'pat', 'gitlab', $3, 'x', '\\x00', 'k1')",
        )
        .bind(uuid::Uuid::new_v4())
        .bind(user)
        .bind(format!("https://h{i}.example.com"))
        .execute(&app.state.db)
        .await
        .unwrap();
    }
    let (status, body) = create(
        &app,
        &alice,
        json!({"host": format!("http://{host}"), "token": TOKEN}),
    )
    .await;
    assert_eq!(
        (status, code(&body).as_str()),
        (409, "connection_limit"),
        "{body}"
    );
}

/// A GitHub Enterprise-like host: `GET /api/v3/user` as GitHub documents it, answering only a
/// request with the headers GitHub asks clients for.
async fn fake_github() -> String {
    #[allow(clippy::disallowed_methods)]
    let router = axum::Router::new().route(
        "/api/v3/user",
        axum::routing::get(|headers: HeaderMap| async move {
            let h = |k: &str| headers.get(k).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
            if h("accept") != "application/vnd.github+json" || h("x-github-api-version") != "2022-11-28" || h("user-agent").is_empty() {
                return (StatusCode::BAD_REQUEST, Json(json!({"message": "bad headers"})));
            }
            if h("authorization") != format!("Bearer {TOKEN}") {
                return (
                    StatusCode::UNAUTHORIZED,
                    Json(json!({"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest", "status": "401"})),
                );
            }
            (StatusCode::OK, Json(json!({"login": "octocat", "id": 1, "type": "User", "site_admin": false})))
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("127.0.0.1:{}", addr.port())
}

#[tokio::test]
async fn a_github_enterprise_token_is_checked_with_githubs_headers_and_detected() {
    let host = fake_github().await;
    let (gitlab, _) = fake_gitlab().await;
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("127.0.0.1:{}", l.local_addr().unwrap().port())
    };
    let app = app_for(&format!("{host},{gitlab},{closed}"), KEY1, None).await;
    let alice = app.register("alice@example.com").await;
    let url = format!("http://{host}");
    let (status, body) = create(
        &app,
        &alice,
        json!({"host": url, "token": "ghp_wrong", "provider": "github"}),
    )
    .await;
    assert_eq!(
        (status, code(&body).as_str()),
        (422, "token_rejected"),
        "{body}"
    );
    // No provider given: GitLab's and Gitea's endpoints answer 404, GitHub's is found.
    let (status, body) = create(&app, &alice, json!({"host": url, "token": TOKEN})).await;
    assert_eq!(status, 201, "{body}");
    let c: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (c["provider"].as_str(), c["login"].as_str()),
        (Some("github"), Some("octocat"))
    );
    // A host that is none of the three.
    let (status, body) = create(
        &app,
        &alice,
        json!({"host": format!("{url}:1"), "token": TOKEN}),
    )
    .await;
    assert_eq!(status, 422, "{body}");
}

#[tokio::test]
async fn a_code_session_on_a_private_address_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let app = app()
        .local_worker(dir.path())
        .env(names::OUTBOUND_ALLOWED_HOSTS, "127.0.0.1:9")
        .spawn()
        .await;
    let alice = app.register("alice@example.com").await;
    for repo in [
        "https://127.0.0.1/o/r.git",
        "https://169.254.169.254/o/r.git",
        "https://[fd00::1]/o/r.git",
        "https://gitea.svc.cluster.local/o/r.git",
    ] {
        let res = app
            .call(
                &alice,
                Method::POST,
                "/api/sessions",
                Some(json!({"repository": repo, "baseBranch": "main"})),
            )
            .await;
        let status = res.status().as_u16();
        let body = res.text().await.unwrap();
        assert_eq!(
            (status, code(&body).as_str()),
            (422, "host_forbidden"),
            "{repo}: {body}"
        );
    }
    // Allowlisted: accepted (plain http too).
    let res = app
        .call(
            &alice,
            Method::POST,
            "/api/sessions",
            Some(json!({"repository": "http://127.0.0.1:9/o/r.git", "baseBranch": "main"})),
        )
        .await;
    assert_eq!(res.status(), 201);
}
