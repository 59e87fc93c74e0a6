use super::*;
use axum::body::to_bytes;

async fn call(method: Method, uri: &str, headers: &[(&str, &str)]) -> Response {
    let mut builder = Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    fallback(builder.body(Body::empty()).unwrap()).await
}

async fn get(uri: &str) -> Response {
    call(Method::GET, uri, &[]).await
}

async fn text(response: Response) -> String {
    String::from_utf8(
        to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap()
            .to_vec(),
    )
    .unwrap()
}

fn header<'a>(response: &'a Response, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .unwrap_or_else(|| panic!("missing header {name}"))
        .to_str()
        .unwrap()
}

async fn assert_json_404(response: Response) {
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert!(header(&response, "content-type").starts_with("application/json"));
    let body: serde_json::Value = serde_json::from_str(&text(response).await).unwrap();
    assert_eq!(body["error"]["code"], "not_found");
}

fn assert_security_headers(response: &Response) {
    let csp = header(response, "content-security-policy");
    assert!(csp.contains("script-src 'self';"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(header(response, "x-content-type-options"), "nosniff");
    assert_eq!(header(response, "referrer-policy"), "no-referrer");
    assert_eq!(header(response, "x-frame-options"), "DENY");
}

#[tokio::test]
async fn deep_links_serve_the_app_shell_with_security_headers() {
    for path in [
        "/",
        "/login",
        "/register",
        "/account",
        "/admin",
        "/sessions/0b6d3c1e-7c1f-4d0e-9d53-6c4b1f8f2a10",
        "/sessions/x?tab=1",
    ] {
        let response = get(path).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_eq!(
            header(&response, "content-type"),
            "text/html; charset=utf-8"
        );
        assert_eq!(header(&response, "cache-control"), "no-cache");
        assert_security_headers(&response);
        let html = text(response).await;
        assert!(
            html.contains(&format!("{}/js/app.js", asset_base())),
            "{html}"
        );
        assert!(!html.contains("{{"), "unreplaced placeholder: {html}");
    }
}

#[tokio::test]
async fn index_html_has_no_inline_script_or_style() {
    let html = text(get("/").await).await;
    for (i, _) in html.match_indices("<script") {
        let tag = &html[i..i + html[i..].find('>').unwrap()];
        assert!(tag.contains(" src="), "inline script: {tag}");
    }
    assert!(!html.contains("<style"), "inline <style>");
    assert!(!html.contains(" style="), "inline style attribute");
    for (i, _) in html.match_indices(" on") {
        let word: String = html[i + 1..]
            .chars()
            .take_while(|c| c.is_ascii_alphabetic())
            .collect();
        let after = html[i + 1 + word.len()..].chars().next();
        assert!(after != Some('='), "inline event handler attribute {word}");
    }
}

#[tokio::test]
async fn api_probe_and_metrics_paths_stay_json_404() {
    for path in [
        "/api",
        "/api/",
        "/api/nope",
        "/api/sessions/x/y/z",
        "/health/nope",
        "/healthz",
        "/ready/x",
        "/live/x",
        "/metrics/x",
        "/favicon.ico",
        "/robots.txt",
        "/assets",
        "/assets/",
        "/assets/nope",
        "/assets/v/nope.js",
        "/assets/v/../Cargo.toml",
        "/assets/v/index.html",
    ] {
        assert_json_404(get(path).await).await;
    }
}

#[tokio::test]
async fn only_get_and_head_serve_the_app() {
    for method in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
        assert_json_404(call(method, "/sessions/x", &[]).await).await;
    }
}

#[tokio::test]
async fn current_assets_are_long_cached_and_others_revalidated() {
    let current = get(&format!("{}/js/app.js", asset_base())).await;
    assert_eq!(current.status(), StatusCode::OK);
    assert_eq!(
        header(&current, "content-type"),
        "text/javascript; charset=utf-8"
    );
    assert_eq!(
        header(&current, "cache-control"),
        "public, max-age=31536000, immutable"
    );
    assert_eq!(header(&current, "x-content-type-options"), "nosniff");
    assert!(text(current).await.contains("import"));

    let css = get(&format!("{}/css/app.css", asset_base())).await;
    assert_eq!(header(&css, "content-type"), "text/css; charset=utf-8");

    let other = get("/assets/0000000000000000/js/app.js").await;
    assert_eq!(other.status(), StatusCode::OK);
    assert_eq!(header(&other, "cache-control"), "no-cache");
}

#[tokio::test]
async fn head_has_headers_and_no_body() {
    let full = text(get("/account").await).await;
    let response = call(Method::HEAD, "/account", &[]).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, "content-length"), full.len().to_string());
    assert_security_headers(&response);
    assert!(text(response).await.is_empty());
}

#[tokio::test]
async fn etags_revalidate() {
    let first = get("/").await;
    let etag = header(&first, "etag").to_owned();
    let again = call(Method::GET, "/sessions/1", &[("if-none-match", &etag)]).await;
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    assert!(text(again).await.is_empty());

    let path = format!("{}/css/app.css", asset_base());
    let etag = header(&get(&path).await, "etag").to_owned();
    let again = call(Method::GET, &path, &[("if-none-match", &etag)]).await;
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
}

/// Every relative import of every module resolves to an embedded file, and everything
/// `index.html` references exists: a typo would otherwise only show in a browser.
#[test]
fn module_graph_is_complete() {
    let mut checked = 0;
    for name in Assets::iter() {
        if !name.ends_with(".js") {
            continue;
        }
        let source = String::from_utf8(Assets::get(&name).unwrap().data.to_vec()).unwrap();
        let dir = name.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
        for spec in relative_imports(&source) {
            let resolved = resolve(dir, &spec);
            assert!(
                Assets::get(&resolved).is_some(),
                "{name} imports {spec} ({resolved}), which is not in api/ui/"
            );
            checked += 1;
        }
    }
    assert!(checked > 0, "no imports found: is the parser broken?");
    let html = String::from_utf8(Assets::get("index.html").unwrap().data.to_vec()).unwrap();
    for (i, _) in html.match_indices(ASSET_BASE_PLACEHOLDER) {
        let rest = &html[i + ASSET_BASE_PLACEHOLDER.len() + 1..];
        let end = rest.find('"').unwrap();
        assert!(
            Assets::get(&rest[..end]).is_some(),
            "index.html references missing {}",
            &rest[..end]
        );
    }
}

/// The UI builds DOM nodes with `textContent`; no HTML parsing of strings anywhere, so model
/// output can never become markup.
#[test]
fn no_html_string_sinks_in_the_ui() {
    // The vendored highlight.js writes innerHTML in `highlightElement`/`highlightAll`, which
    // the UI never calls (checked below): it builds nodes from the token tree (js/highlight.js).
    for name in Assets::iter().filter(|n| n.ends_with(".js") && !n.starts_with("vendor/")) {
        let source = String::from_utf8(Assets::get(&name).unwrap().data.to_vec()).unwrap();
        for call in ["highlightElement", "highlightAll", "highlightBlock"] {
            assert!(!source.contains(call), "{name} calls highlight.js's {call}");
        }
        for sink in [
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
            "new Function",
        ] {
            assert!(!source.contains(sink), "{name} uses {sink}");
        }
    }
}

fn relative_imports(source: &str) -> Vec<String> {
    let mut out = Vec::new();
    for quote in ['\'', '"'] {
        for marker in [format!("from {quote}."), format!("import({quote}.")] {
            for (i, _) in source.match_indices(&marker) {
                let start = i + marker.len() - 1;
                let end = start + source[start..].find(quote).unwrap();
                out.push(source[start..end].to_owned());
            }
        }
    }
    out
}

fn resolve(dir: &str, spec: &str) -> String {
    let mut parts: Vec<&str> = dir.split('/').filter(|s| !s.is_empty()).collect();
    for seg in spec.split('/') {
        match seg {
            "." => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    parts.join("/")
}
