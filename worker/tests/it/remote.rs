//! A smart-HTTP git remote: `git http-backend` behind a server that requires the token.

use crate::common::*;

pub const TOKEN: &str = "ghs_TESTTOKEN_0123456789abcdef";

pub async fn http_remote(project_root: PathBuf) -> String {
    use base64::Engine;
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("x-access-token:{TOKEN}"))
    );
    let app = axum::Router::new().fallback(
        move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
            let (expected, root) = (expected.clone(), project_root.clone());
            async move {
                if headers.get("authorization").and_then(|v| v.to_str().ok())
                    != Some(expected.as_str())
                {
                    return (
                        StatusCode::UNAUTHORIZED,
                        [("www-authenticate", "Basic realm=\"git\"".to_string())],
                        Vec::new(),
                    );
                }
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
                    .env("GIT_PROJECT_ROOT", &root)
                    .env("GIT_HTTP_EXPORT_ALL", "1")
                    .env("PATH_INFO", uri.path())
                    .env("REQUEST_METHOD", method.as_str())
                    .env("QUERY_STRING", uri.query().unwrap_or_default())
                    .env("CONTENT_TYPE", h("content-type"))
                    .env("CONTENT_LENGTH", body.len().to_string())
                    .env("HTTP_CONTENT_ENCODING", h("content-encoding"))
                    .env("HTTP_GIT_PROTOCOL", h("git-protocol"))
                    .env("REMOTE_USER", "x-access-token")
                    .env("REMOTE_ADDR", "127.0.0.1")
                    .stdin(std::process::Stdio::piped())
                    .stdout(std::process::Stdio::piped())
                    .spawn()
                    .unwrap();
                use tokio::io::AsyncWriteExt;
                let mut stdin = child.stdin.take().unwrap();
                stdin.write_all(&body).await.unwrap();
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
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}
