//! The OpenAPI document (`GET /api/openapi.json`) against the router that serves the API: the
//! same paths and methods, and every operation complete (operationId, security, the shared error
//! responses); the reference page under the CSP.

use crate::common::spawn_app;
use reqwest::Method;
use serde_json::Value;
use std::collections::BTreeSet;
use webedt_api::error::ErrorCode;

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

async fn document(app: &crate::common::TestApp) -> Value {
    let res = app.get("/api/openapi.json").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/json");
    res.json().await.expect("the document is JSON")
}

fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in METHODS {
            if let Some(op) = item.get(method) {
                ops.push((path.clone(), method.to_string(), op.clone()));
            }
        }
    }
    ops
}

/// Every documented (path, method) is a route of the server, every other method on those paths
/// is a 405 from the router, and the routes the server matched while probing (its metrics'
/// route labels) are exactly the documented paths.
#[tokio::test]
async fn router_and_document_agree() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    let paths: BTreeSet<String> = doc["paths"].as_object().unwrap().keys().cloned().collect();
    assert!(paths.len() >= 25, "{paths:?}");
    for path in &paths {
        let concrete = path.replace("{id}", &uuid::Uuid::new_v4().to_string());
        for method in METHODS {
            let documented = doc["paths"][path].get(method).is_some();
            let res = app
                .client
                .request(
                    Method::from_bytes(method.to_uppercase().as_bytes()).unwrap(),
                    app.url(&concrete),
                )
                .bearer_auth("not-a-token")
                .header("content-type", "application/json")
                .body("{}")
                .send()
                .await
                .unwrap();
            let status = res.status().as_u16();
            if documented {
                assert_ne!(status, 405, "{method} {path} is documented but not routed");
            } else {
                assert_eq!(status, 405, "{method} {path} is routed but not documented");
            }
        }
    }
    let metrics = app.get("/metrics").await.text().await.unwrap();
    let matched: BTreeSet<String> = metrics
        .lines()
        .filter(|l| l.starts_with("webedt_http_requests_total{"))
        .filter_map(|l| l.split("route=\"").nth(1)?.split('"').next())
        .filter(|route| route.starts_with("/api"))
        .map(str::to_owned)
        .collect();
    assert_eq!(
        matched, paths,
        "routes matched by the server vs documented paths"
    );
}

/// The plain `route` that `api/clippy.toml` forbids is not used for `/api` anywhere, even with
/// an `#[allow]`: such a route would be served but missing from the document.
#[test]
fn no_api_route_bypasses_the_document() {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut stack = vec![src];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                let compact: String = text.split_whitespace().collect();
                for call in [".route(\"/api", ".route_service(\"/api", ".nest(\"/api"] {
                    assert!(
                        !compact.contains(call),
                        "{} registers an /api route outside OpenApiRouter::routes",
                        path.display()
                    );
                }
            }
        }
    }
}

#[tokio::test]
async fn every_operation_is_complete() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    assert_eq!(doc["openapi"], "3.1.0");
    let ops = operations(&doc);
    let mut ids = BTreeSet::new();
    for (path, method, op) in &ops {
        let id = op["operationId"].as_str().expect("operationId");
        assert!(
            id.chars().next().unwrap().is_ascii_lowercase()
                && id.chars().all(|c| c.is_ascii_alphanumeric()),
            "{id}: operationIds are camelCase"
        );
        assert!(ids.insert(id.to_owned()), "{id} is not unique");
        assert!(op["tags"].as_array().is_some_and(|t| !t.is_empty()), "{id}");
        assert!(op["security"].is_array(), "{method} {path}: security");
        let responses = op["responses"].as_object().unwrap();
        for status in [
            "400", "401", "403", "408", "413", "415", "422", "429", "503",
        ] {
            assert!(responses.contains_key(status), "{id}: no {status}");
        }
        // A redirect is the success of the GitHub sign-in pages (start, callback).
        assert!(
            responses
                .keys()
                .any(|s| s.starts_with('2') || s.starts_with('3')),
            "{id}: no success response"
        );
        if path.contains("{id}") {
            let params = op["parameters"].as_array().expect("parameters");
            assert!(
                params
                    .iter()
                    .any(|p| p["name"] == "id" && p["in"] == "path"),
                "{id}: path parameter"
            );
        }
    }
    // Public operations say so; the rest need the cookie or a Bearer token.
    for id in ["register", "login", "getOpenApi", "getApiDocs"] {
        let (_, _, op) = ops.iter().find(|o| o.2["operationId"] == id).unwrap();
        assert!(
            op["security"]
                .as_array()
                .unwrap()
                .iter()
                .any(|s| s == &serde_json::json!({})),
            "{id} is public"
        );
    }
    let (_, _, sessions) = ops
        .iter()
        .find(|o| o.2["operationId"] == "listSessions")
        .unwrap();
    let schemes: Vec<String> = sessions["security"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s.as_object().unwrap().keys().cloned())
        .collect();
    assert_eq!(schemes, ["cookie", "bearer"]);
    let components = &doc["components"];
    assert_eq!(components["securitySchemes"]["cookie"]["in"], "cookie");
    assert_eq!(
        components["securitySchemes"]["cookie"]["name"],
        webedt_contract::names::SESSION_COOKIE
    );
    assert_eq!(components["securitySchemes"]["bearer"]["scheme"], "bearer");
    assert!(
        components["responses"]["TooManyRequests"]["headers"]["retry-after"].is_object(),
        "429 says when to retry"
    );
    assert!(
        doc["info"]["description"]
            .as_str()
            .unwrap()
            .contains("`csrf`"),
        "the CSRF rule is explained"
    );
}

#[tokio::test]
async fn schemas_list_every_error_code_event_kind_and_session_field() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    let schemas = &doc["components"]["schemas"];
    let codes: BTreeSet<&str> = schemas["ErrorCode"]["enum"]
        .as_array()
        .expect("ErrorCode enum")
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    let all: BTreeSet<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
    assert_eq!(codes, all);
    assert!(codes.contains("csrf") && codes.contains("stream_limit"));

    let kinds: BTreeSet<String> = schemas["Event"]["oneOf"]
        .as_array()
        .expect("Event is one of its kinds")
        .iter()
        .map(|k| {
            k["properties"]["type"]["enum"][0]
                .as_str()
                .unwrap_or_else(|| panic!("a kind's type: {k}"))
                .to_owned()
        })
        .collect();
    for kind in [
        "user_message",
        "run_started",
        "assistant_message",
        "tool_use",
        "tool_result",
        "changes",
        "completed",
        "interrupted",
        "error",
    ] {
        assert!(kinds.contains(kind), "{kind} in {kinds:?}");
    }
    let session = schemas["Session"]["properties"].as_object().unwrap();
    for field in ["repository", "baseBranch", "workingBranch", "headCommit"] {
        assert!(session.contains_key(field), "Session.{field}");
    }

    for (path, op_id) in [
        ("/api/sessions/{id}/events/stream", "streamEvents"),
        ("/api/resume/{id}", "resumeEvents"),
        ("/api/sessions/updates", "streamSessionUpdates"),
    ] {
        let op = &doc["paths"][path]["get"];
        assert_eq!(op["operationId"], op_id);
        assert!(
            op["responses"]["200"]["content"]["text/event-stream"].is_object(),
            "{op_id} is an event stream"
        );
    }
    assert!(
        doc["paths"]["/api/execute-remote"]["post"]["responses"]["200"]["content"]
            ["text/event-stream"]
            .is_object()
    );
    // Stateful fuzzing follows these from a created session to its own resources.
    let links = &doc["paths"]["/api/sessions"]["post"]["responses"]["201"]["links"];
    for target in ["getSession", "renameSession", "deleteSession"] {
        assert_eq!(links[target]["operationId"], target);
        assert_eq!(links[target]["parameters"]["id"], "$response.body#/id");
    }
}

/// The reference page runs under the app's CSP: no inline script or style, its script and
/// stylesheet from this origin.
#[tokio::test]
async fn docs_page_is_served_under_the_csp() {
    let app = spawn_app().await;
    let res = app.get("/api/docs").await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["content-security-policy"],
        webedt_api::ui::CONTENT_SECURITY_POLICY
    );
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = res.text().await.unwrap();
    assert!(!html.contains("style="), "no inline style");
    assert!(!html.contains("<style"), "no style element");
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "no CDN"
    );
    let mut scripts = 0;
    for tag in html.split("<script").skip(1) {
        let tag = tag.split("</script>").next().unwrap();
        assert!(
            tag.contains(" src=\"/assets/"),
            "external script only: {tag}"
        );
        assert!(
            tag.trim_end().ends_with('>'),
            "no inline script body: {tag}"
        );
        scripts += 1;
        let src = tag
            .split("src=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        let js = app.get(src).await;
        assert_eq!(js.status(), 200, "{src}");
        let body = js.text().await.unwrap();
        assert!(body.contains("/api/openapi.json"));
        assert!(!body.contains("innerHTML"), "DOM APIs only");
    }
    assert_eq!(scripts, 1);
    let css = html
        .split("rel=\"stylesheet\" href=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    assert_eq!(app.get(css).await.status(), 200);
    // Linked from the app.
    let index = app.get("/").await.text().await.unwrap();
    assert!(index.contains("href=\"/api/docs\""));
}

/// Requests the document allows that the API refused, found by the contract fuzzer: a JSON
/// `null` body for the optional body of `createSession`, and an empty `cursor` (a client that
/// sends `?cursor=${next ?? ''}`) for the first page of `listSessions`.
#[tokio::test]
async fn requests_the_document_allows_are_accepted() {
    let app = spawn_app().await;
    let token = app.register("contract@example.com").await;
    let res = app
        .client
        .post(app.url("/api/sessions"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("null")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "a null body is no fields");
    let created: Value = res.json().await.unwrap();
    assert_eq!(created["title"], "New session");
    let res = app
        .call(&token, Method::GET, "/api/sessions?cursor=&limit=5", None)
        .await;
    assert_eq!(res.status(), 200, "an empty cursor is the first page");
    let page: Value = res.json().await.unwrap();
    assert_eq!(page["sessions"][0]["id"], created["id"]);
}
