//! A coding run on a private repository: the git host (a Gitea-like user API plus
//! `git http-backend` that demands HTTP Basic `alice:<token>`) is connected with a token, and the
//! local run's worker clones and pushes with it. Without the connection the same run fails.

use crate::coding::{bare_repository, events, git, wait_finished};
use crate::common::app;
use axum::body::Bytes;
use axum::http::{HeaderMap, Method as HttpMethod, StatusCode, Uri};
use base64::Engine;
use reqwest::Method;
use serde_json::{Value, json};
use std::path::PathBuf;
use webedt_contract::names::*;

const TOKEN: &str = "gta_PRIVATE_TOKEN_0123456789abcdef";

/// The fake host; returns `127.0.0.1:port`.
async fn private_host(project_root: PathBuf) -> String {
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("alice:{TOKEN}"))
    );
    let app = axum::Router::new().fallback(
        move |method: HttpMethod, uri: Uri, headers: HeaderMap, body: Bytes| {
            let (basic, root) = (basic.clone(), project_root.clone());
            async move {
                let auth = headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_string();
                if uri.path() == "/api/v1/user" {
                    return if auth == format!("token {TOKEN}") {
                        (
                            StatusCode::OK,
                            [("content-type", "application/json".to_string())],
                            br#"{"id":1,"login":"alice","username":"alice"}"#.to_vec(),
                        )
                    } else {
                        (
                            StatusCode::UNAUTHORIZED,
                            [("content-type", "application/json".into())],
                            b"{}".to_vec(),
                        )
                    };
                }
                if uri.path().starts_with("/api/") {
                    return (
                        StatusCode::NOT_FOUND,
                        [("content-type", "text/plain".into())],
                        Vec::new(),
                    );
                }
                if auth != basic {
                    return (
                        StatusCode::UNAUTHORIZED,
                        [("www-authenticate", "Basic realm=\"git\"".to_string())],
                        Vec::new(),
                    );
                }
                http_backend(&root, &method, &uri, &headers, &body).await
            }
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("127.0.0.1:{}", addr.port())
}

/// `git http-backend` as CGI (the pattern of worker/tests/it/remote.rs).
async fn http_backend(
    root: &std::path::Path,
    method: &HttpMethod,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> (StatusCode, [(&'static str, String); 1], Vec<u8>) {
    use tokio::io::AsyncWriteExt;
    let h = |k: &str| {
        headers
            .get(k)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let mut child = tokio::process::Command::new("git")
        .arg("http-backend")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap())
        .env("GIT_PROJECT_ROOT", root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("PATH_INFO", uri.path())
        .env("REQUEST_METHOD", method.as_str())
        .env("QUERY_STRING", uri.query().unwrap_or_default())
        .env("CONTENT_TYPE", h("content-type"))
        .env("CONTENT_LENGTH", body.len().to_string())
        .env("HTTP_CONTENT_ENCODING", h("content-encoding"))
        .env("HTTP_GIT_PROTOCOL", h("git-protocol"))
        .env("REMOTE_USER", "alice")
        .env("REMOTE_ADDR", "127.0.0.1")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(body).await.unwrap();
    drop(stdin);
    let out = child.wait_with_output().await.unwrap().stdout;
    let split = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| (p, 4))
        .or_else(|| out.windows(2).position(|w| w == b"\n\n").map(|p| (p, 2)))
        .unwrap();
    let head = String::from_utf8_lossy(&out[..split.0]).to_string();
    let mut status = StatusCode::OK;
    let mut ctype = String::from("text/plain");
    for line in head.lines() {
        if let Some(v) = line.strip_prefix("Status: ") {
            status = StatusCode::from_u16(v[..3].parse().unwrap()).unwrap();
        } else if let Some(v) = line.strip_prefix("Content-Type: ") {
            ctype = v.trim().to_string();
        }
    }
    (
        status,
        [("content-type", ctype)],
        out[split.0 + split.1..].to_vec(),
    )
}

#[tokio::test]
async fn a_coding_run_pushes_to_a_private_remote_with_the_connected_token() {
    // The in-process worker runs on this test's thread too: its logs are captured.
    let logs = crate::connections::Logs::default();
    let _capture = logs.capture();
    let tmp = tempfile::tempdir().unwrap();
    let (bare, main) = bare_repository(tmp.path());
    let host = private_host(tmp.path().to_path_buf()).await;
    let local = app()
        .local_worker(&tmp.path().join("runs"))
        .env(DEMO_EVENT_DELAY_MS, 0)
        .env(
            CREDENTIALS_KEYS,
            "k1:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=",
        )
        .env(OUTBOUND_ALLOWED_HOSTS, &host)
        .spawn()
        .await;
    let token = local.register("ada@example.com").await;
    let repository = format!("http://{host}/origin.git");
    let new_session =
        || json!({"repository": repository, "baseBranch": "main", "provider": "demo"});

    // Not connected yet: the remote refuses the clone and the run ends in an error.
    let res = local
        .call(&token, Method::POST, "/api/sessions", Some(new_session()))
        .await;
    assert_eq!(res.status(), 201);
    let id = res.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(local.send(&token, &id, "Add a note").await.status(), 202);
    let s = wait_finished(&local, &token, &id).await;
    assert_eq!(s["status"], "error", "{s}");

    // Connected (detected as Gitea, the login from the host): the run clones and pushes.
    let res = local
        .call(
            &token,
            Method::POST,
            "/api/connections",
            Some(json!({"host": format!("http://{host}"), "token": TOKEN})),
        )
        .await;
    assert_eq!(res.status(), 201);
    let conn: Value = res.json().await.unwrap();
    assert_eq!(
        (conn["provider"].as_str(), conn["login"].as_str()),
        (Some("gitea"), Some("alice"))
    );

    let res = local
        .call(&token, Method::POST, "/api/sessions", Some(new_session()))
        .await;
    let session: Value = res.json().await.unwrap();
    let id = session["id"].as_str().unwrap().to_string();
    let branch = session["workingBranch"].as_str().unwrap().to_string();
    assert_eq!(
        local
            .send(&token, &id, "Add a note to the README")
            .await
            .status(),
        202
    );
    let s = wait_finished(&local, &token, &id).await;
    let all = events(&local, &token, &id).await;
    assert_eq!(s["status"], "completed", "{s} {all:?}");
    let head = git(&bare, &["rev-parse", &format!("refs/heads/{branch}")]);
    assert_eq!(git(&bare, &["rev-parse", &format!("{head}^")]), main);
    // The token is in no event and not in the session.
    let dump = format!("{s} {all:?}");
    assert!(!dump.contains(TOKEN), "the token leaked into events");
    let text = logs.text();
    assert!(text.contains("connection created"), "the capture works");
    assert!(
        text.contains("webedt_worker"),
        "the worker's logs are captured too"
    );
    assert!(!text.contains(TOKEN), "the token is in the logs");
}
