//! GitHub: the OAuth App web flow, repositories and branches, pull requests — against a fake
//! GitHub written from GitHub's REST and OAuth documentation (see shared/reference/github-api.md):
//! it asserts the headers every REST request carries, pages lists with absolute `Link` URLs,
//! answers errors the way GitHub does (`{"message","documentation_url"}`, 422 with `errors[]`,
//! token errors with 200 and `{"error": …}`), and revokes grants with Basic client credentials.

use crate::common::{TestApp, app};
use crate::connections::Logs;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use webedt_contract::names;

const CLIENT_ID: &str = "Iv1.fakeclient0001";
const CLIENT_SECRET: &str = "client-SECRET-0123456789abcdef";
const GH_TOKEN: &str = "gho_FAKEsecretTOKEN0123456789abcdefABCD";
const GOOD_CODE: &str = "code-0123456789";
const KEY: &str = "k1:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";
const REPOS: usize = 250;

#[derive(Default)]
struct Fake {
    /// `METHOD path?query` of every REST request.
    requests: Vec<String>,
    /// Header problems seen on REST requests (empty when every request was right).
    bad_headers: Vec<String>,
    codes_used: Vec<String>,
    revoked: bool,
    grant_deletions: Vec<(String, Value)>,
    /// (head, base) → (number, url)
    pulls: Vec<(String, String, i32, String)>,
    base: String,
}

type Shared = Arc<Mutex<Fake>>;

fn gh_error(status: StatusCode, message: &str) -> Response {
    (
        status,
        Json(json!({
            "message": message,
            "documentation_url": "https://docs.github.com/rest",
            "status": status.as_u16().to_string(),
        })),
    )
        .into_response()
}

/// Checks the REST headers; `Err` is the 401 GitHub gives for a bad token.
#[allow(clippy::result_large_err)]
fn rest(fake: &Shared, headers: &HeaderMap, what: String) -> Result<(), Response> {
    let mut f = fake.lock().unwrap();
    f.requests.push(what.clone());
    let h = |k: &str| {
        headers
            .get(k)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    if h("accept") != "application/vnd.github+json" {
        f.bad_headers
            .push(format!("{what}: accept {}", h("accept")));
    }
    if h("x-github-api-version") != "2022-11-28" {
        f.bad_headers.push(format!("{what}: api version"));
    }
    if h("user-agent").is_empty() {
        f.bad_headers.push(format!("{what}: user-agent"));
    }
    if h("authorization") != format!("Bearer {GH_TOKEN}") || f.revoked {
        return Err(gh_error(StatusCode::UNAUTHORIZED, "Bad credentials"));
    }
    Ok(())
}

async fn token_endpoint(State(fake): State<Shared>, headers: HeaderMap, body: String) -> Response {
    assert_eq!(headers["accept"], "application/json");
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/x-www-form-urlencoded")
    );
    let form: HashMap<String, String> = url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    let mut f = fake.lock().unwrap();
    let ok = form.get("client_id").map(String::as_str) == Some(CLIENT_ID)
        && form.get("client_secret").map(String::as_str) == Some(CLIENT_SECRET);
    if !ok {
        return Json(json!({"error": "incorrect_client_credentials",
            "error_description": "The client_id and/or client_secret passed are incorrect."}))
        .into_response();
    }
    let code = form.get("code").cloned().unwrap_or_default();
    if code != GOOD_CODE || f.codes_used.contains(&code) {
        return Json(json!({"error": "bad_verification_code",
            "error_description": "The code passed is incorrect or expired.",
            "error_uri": "https://docs.github.com/apps/troubleshooting#bad-verification-code"}))
        .into_response();
    }
    f.codes_used.push(code);
    f.revoked = false;
    Json(json!({"access_token": GH_TOKEN, "scope": "repo", "token_type": "bearer"})).into_response()
}

async fn user(State(fake): State<Shared>, headers: HeaderMap) -> Response {
    if let Err(r) = rest(&fake, &headers, "GET /user".into()) {
        return r;
    }
    Json(json!({"login": "octocat", "id": 583231, "type": "User", "name": null, "email": null}))
        .into_response()
}

async fn user_repos(
    State(fake): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let query: Vec<String> = {
        let mut v: Vec<String> = q.iter().map(|(k, v)| format!("{k}={v}")).collect();
        v.sort();
        v
    };
    if let Err(r) = rest(
        &fake,
        &headers,
        format!("GET /user/repos?{}", query.join("&")),
    ) {
        return r;
    }
    let per_page: usize = q
        .get("per_page")
        .and_then(|p| p.parse().ok())
        .unwrap_or(30)
        .min(100);
    let page: usize = q.get("page").and_then(|p| p.parse().ok()).unwrap_or(1);
    let base = fake.lock().unwrap().base.clone();
    let items: Vec<Value> = (0..REPOS)
        .skip((page - 1) * per_page)
        .take(per_page)
        .map(|i| {
            let name = format!("repo-{i:03}");
            json!({
                "id": 1000 + i, "name": name, "full_name": format!("octocat/{name}"),
                "private": i % 2 == 0, "fork": false,
                "owner": {"login": "octocat", "id": 583231, "type": "User"},
                "html_url": format!("{base}/octocat/{name}"),
                "clone_url": format!("{base}/octocat/{name}.git"),
                "default_branch": "main", "archived": i == 7, "visibility": "public",
                "pushed_at": "2026-01-01T00:00:00Z",
                "permissions": {"admin": false, "maintain": false, "push": i % 5 != 0, "triage": true, "pull": true}
            })
        })
        .collect();
    let last = REPOS.div_ceil(per_page);
    let mut links = Vec::new();
    if page < last {
        links.push(format!(
            "<{base}/user/repos?per_page={per_page}&page={}>; rel=\"next\"",
            page + 1
        ));
        links.push(format!(
            "<{base}/user/repos?per_page={per_page}&page={last}>; rel=\"last\""
        ));
    }
    if page > 1 {
        links.push(format!(
            "<{base}/user/repos?per_page={per_page}&page={}>; rel=\"prev\"",
            page - 1
        ));
    }
    let mut res = Json(Value::Array(items)).into_response();
    if !links.is_empty() {
        res.headers_mut()
            .insert("link", links.join(", ").parse().unwrap());
    }
    res
}

async fn branches(
    State(fake): State<Shared>,
    headers: HeaderMap,
    Path((owner, repo)): Path<(String, String)>,
) -> Response {
    if let Err(r) = rest(
        &fake,
        &headers,
        format!("GET /repos/{owner}/{repo}/branches"),
    ) {
        return r;
    }
    match (owner.as_str(), repo.as_str()) {
        ("octocat", "repo-001") => Json(json!([
            {"name": "main", "commit": {"sha": "c5b97d5ae6c19d5c5df71a34c7fbeeda2479ccbc", "url": "x"}, "protected": true},
            {"name": "feature", "commit": {"sha": "6dcb09b5b57875f334f61aebed695e2e4193db5e", "url": "x"}, "protected": false}
        ]))
        .into_response(),
        ("octocat", "locked") => gh_error(
            StatusCode::FORBIDDEN,
            "Resource not accessible by personal access token",
        ),
        _ => gh_error(StatusCode::NOT_FOUND, "Not Found"),
    }
}

async fn create_pull(
    State(fake): State<Shared>,
    headers: HeaderMap,
    Path((owner, repo)): Path<(String, String)>,
    Json(body): Json<Value>,
) -> Response {
    if let Err(r) = rest(&fake, &headers, format!("POST /repos/{owner}/{repo}/pulls")) {
        return r;
    }
    let head = body["head"].as_str().unwrap_or_default().to_string();
    let base_branch = body["base"].as_str().unwrap_or_default().to_string();
    if body["title"].as_str().unwrap_or_default().is_empty() || head.is_empty() {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({"message": "Validation Failed", "errors": [
                {"resource": "PullRequest", "field": "head", "code": "invalid"}],
                "documentation_url": "https://docs.github.com/rest/pulls/pulls#create-a-pull-request"})),
        )
            .into_response();
    }
    let mut f = fake.lock().unwrap();
    if f.pulls.iter().any(|p| p.0 == head && p.1 == base_branch) {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({"message": "Validation Failed", "errors": [
                {"resource": "PullRequest", "code": "custom",
                 "message": format!("A pull request already exists for {owner}:{head}.")}],
                "documentation_url": "https://docs.github.com/rest/pulls/pulls#create-a-pull-request",
                "status": "422"})),
        )
            .into_response();
    }
    let number = 1347 + f.pulls.len() as i32;
    let url = format!("{}/{owner}/{repo}/pull/{number}", f.base);
    f.pulls
        .push((head.clone(), base_branch, number, url.clone()));
    (
        StatusCode::CREATED,
        Json(
            json!({"number": number, "html_url": url, "state": "open", "draft": false,
            "title": body["title"], "body": body["body"],
            "head": {"ref": head}, "base": {"ref": body["base"]}}),
        ),
    )
        .into_response()
}

async fn list_pulls(
    State(fake): State<Shared>,
    headers: HeaderMap,
    Path((owner, repo)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Err(r) = rest(&fake, &headers, format!("GET /repos/{owner}/{repo}/pulls")) {
        return r;
    }
    let f = fake.lock().unwrap();
    let head = q.get("head").cloned().unwrap_or_default();
    let found: Vec<Value> = f
        .pulls
        .iter()
        .filter(|p| format!("{owner}:{}", p.0) == head)
        .filter(|p| q.get("base").is_none_or(|b| *b == p.1))
        .map(|p| json!({"number": p.2, "html_url": p.3, "state": "open"}))
        .collect();
    Json(Value::Array(found)).into_response()
}

async fn delete_grant(
    State(fake): State<Shared>,
    headers: HeaderMap,
    Path(client): Path<String>,
    Json(body): Json<Value>,
) -> StatusCode {
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"))
    );
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let mut f = fake.lock().unwrap();
    f.grant_deletions.push((auth.clone(), body.clone()));
    if auth != basic || client != CLIENT_ID {
        return StatusCode::UNAUTHORIZED;
    }
    if body["access_token"] == GH_TOKEN {
        f.revoked = true;
    }
    StatusCode::NO_CONTENT
}

/// The fake (web and API on one origin, like a test GHES); returns `http://127.0.0.1:port`.
async fn fake_github() -> (String, Shared) {
    let fake: Shared = Arc::default();
    #[allow(clippy::disallowed_methods)]
    let router = axum::Router::new()
        .route(
            "/login/oauth/access_token",
            axum::routing::post(token_endpoint),
        )
        .route("/user", axum::routing::get(user))
        .route("/user/repos", axum::routing::get(user_repos))
        .route(
            "/repos/{owner}/{repo}/branches",
            axum::routing::get(branches),
        )
        .route(
            "/repos/{owner}/{repo}/pulls",
            axum::routing::post(create_pull).get(list_pulls),
        )
        .route(
            "/applications/{client}/grant",
            axum::routing::delete(delete_grant),
        )
        .with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    let base = format!("http://127.0.0.1:{}", addr.port());
    fake.lock().unwrap().base = base.clone();
    (base, fake)
}

async fn github_app(base: &str, db: Option<&str>) -> TestApp {
    let host = base.trim_start_matches("http://");
    let mut b = app()
        .env(names::CREDENTIALS_KEYS, KEY)
        .env(names::OUTBOUND_ALLOWED_HOSTS, host)
        .env(names::GITHUB_CLIENT_ID, CLIENT_ID)
        .env(names::GITHUB_CLIENT_SECRET, CLIENT_SECRET)
        .env(names::GITHUB_URL, base)
        .env(names::GITHUB_API_URL, base);
    if let Some(db) = db {
        b = b.database(db);
    }
    b.spawn().await
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// `GET start` as `token`: the `state` from GitHub's authorize URL.
async fn start(app: &TestApp, token: &str, return_to: Option<&str>) -> String {
    let mut url = app.url("/api/connections/github/start");
    if let Some(r) = return_to {
        url = format!("{url}?returnTo={}", urlencoding(r));
    }
    let res = no_redirects()
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 302);
    let location = url::Url::parse(res.headers()["location"].to_str().unwrap()).unwrap();
    assert_eq!(location.path(), "/login/oauth/authorize");
    let q: HashMap<String, String> = location.query_pairs().into_owned().collect();
    assert_eq!(q["client_id"], CLIENT_ID);
    assert_eq!(q["scope"], "repo");
    q["state"].clone()
}

fn urlencoding(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// `GET callback` as `token`: the `Location` it redirects to.
async fn callback(app: &TestApp, token: &str, code: &str, state: &str) -> String {
    let url = format!(
        "{}?code={}&state={}",
        app.url("/api/connections/github/callback"),
        urlencoding(code),
        urlencoding(state)
    );
    let res = no_redirects()
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    res.headers()["location"].to_str().unwrap().to_string()
}

async fn connect(app: &TestApp, token: &str) {
    let state = start(app, token, None).await;
    assert_eq!(
        callback(app, token, GOOD_CODE, &state).await,
        "/account?github=connected"
    );
}

fn code_of(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn the_oauth_flow_checks_its_state_stores_the_token_encrypted_and_revokes_on_disconnect() {
    let logs = Logs::default();
    let _capture = logs.capture();
    let (base, fake) = fake_github().await;
    let app = github_app(&base, None).await;
    let alice = app.register("alice@example.com").await;
    let bob = app.register("bob@example.com").await;

    // The return path must stay on this site.
    for bad in [
        "//evil.example/x",
        "https://evil.example/",
        "/\\evil.example",
    ] {
        let res = no_redirects()
            .get(format!(
                "{}?returnTo={}",
                app.url("/api/connections/github/start"),
                urlencoding(bad)
            ))
            .bearer_auth(&alice)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 422, "{bad}");
    }

    // A state is bound to the login session that started the flow: not bob's, not another
    // login of alice's.
    let state = start(&app, &alice, Some("/sessions/x?tab=changes")).await;
    assert_eq!(
        callback(&app, &bob, GOOD_CODE, &state).await,
        "/account?github_error=oauth_state_invalid"
    );
    // … and used by that attempt: it is gone for alice too.
    assert_eq!(
        callback(&app, &alice, GOOD_CODE, &state).await,
        "/account?github_error=oauth_state_invalid"
    );
    let state = start(&app, &alice, None).await;
    let res = app
        .login("alice@example.com", crate::support::api::PASSWORD)
        .await;
    let alice2 = crate::support::api::token_of(&res);
    assert_eq!(
        callback(&app, &alice2, GOOD_CODE, &state).await,
        "/account?github_error=oauth_state_invalid"
    );
    // Made up, or not a state at all.
    assert_eq!(
        callback(&app, &alice, GOOD_CODE, "x").await,
        "/account?github_error=oauth_state_invalid"
    );
    // Expired (10 minutes).
    let state = start(&app, &alice, Some("/account")).await;
    sqlx::query("UPDATE oauth_states SET expires_at = now() - interval '1 second'")
        .execute(&app.state.db)
        .await
        .unwrap();
    assert_eq!(
        callback(&app, &alice, GOOD_CODE, &state).await,
        "/account?github_error=oauth_state_expired"
    );
    // A code GitHub does not know (its error comes with a 200).
    let state = start(&app, &alice, None).await;
    assert_eq!(
        callback(&app, &alice, "wrong-code", &state).await,
        "/account?github_error=oauth_failed"
    );
    // The user declined on GitHub.
    let state = start(&app, &alice, None).await;
    let res = no_redirects()
        .get(format!(
            "{}?error=access_denied&state={state}",
            app.url("/api/connections/github/callback")
        ))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.headers()["location"],
        "/account?github_error=access_denied"
    );

    // The real thing: back to where it started, connected.
    let state = start(&app, &alice, Some("/sessions/x?tab=changes")).await;
    assert_eq!(
        callback(&app, &alice, GOOD_CODE, &state).await,
        "/sessions/x?tab=changes&github=connected"
    );
    // Used once.
    assert_eq!(
        callback(&app, &alice, GOOD_CODE, &state).await,
        "/account?github_error=oauth_state_invalid"
    );
    let res = app
        .call(&alice, Method::GET, "/api/connections", None)
        .await;
    let text = res.text().await.unwrap();
    assert!(!text.contains(GH_TOKEN), "{text}");
    let list: Value = serde_json::from_str(&text).unwrap();
    let conn = &list["connections"][0];
    assert_eq!(conn["kind"], "github");
    assert_eq!(conn["provider"], "github");
    assert_eq!(conn["login"], "octocat");
    assert_eq!(conn["host"], base);
    // Bob sees none of it.
    let res = app.call(&bob, Method::GET, "/api/connections", None).await;
    assert_eq!(res.json::<Value>().await.unwrap()["connections"], json!([]));

    // At rest: ciphertext only; no state in clear either.
    let (secret, account): (Vec<u8>, Option<String>) =
        sqlx::query_as("SELECT secret, account_id FROM connections WHERE kind = 'github'")
            .fetch_one(&app.state.db)
            .await
            .unwrap();
    assert!(
        !secret
            .windows(GH_TOKEN.len())
            .any(|w| w == GH_TOKEN.as_bytes())
    );
    assert_eq!(account.as_deref(), Some("583231"));
    let dump: String = sqlx::query_scalar(
        "SELECT coalesce(string_agg(t::text, ' '), '') FROM (SELECT * FROM connections) t",
    )
    .fetch_one(&app.state.db)
    .await
    .unwrap();
    assert!(!dump.contains(GH_TOKEN));

    // Runs on the connected GitHub commit as the account's noreply address.
    let user: uuid::Uuid = sqlx::query_scalar("SELECT user_id FROM connections")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    let cred = webedt_api::connections::credential_for(
        &app.state,
        user,
        &format!("{base}/octocat/repo-001.git"),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(cred.token, GH_TOKEN);
    assert_eq!(
        cred.author,
        Some((
            "octocat".to_string(),
            "583231+octocat@users.noreply.github.com".to_string()
        ))
    );

    // Disconnect: the row goes, and the grant is revoked with the app's Basic credentials.
    let id = conn["id"].as_str().unwrap();
    let res = app
        .call(
            &bob,
            Method::DELETE,
            &format!("/api/connections/{id}"),
            None,
        )
        .await;
    assert_eq!(res.status(), 404);
    assert!(fake.lock().unwrap().grant_deletions.is_empty());
    let res = app
        .call(
            &alice,
            Method::DELETE,
            &format!("/api/connections/{id}"),
            None,
        )
        .await;
    assert_eq!(res.status(), 204);
    {
        let f = fake.lock().unwrap();
        assert_eq!(f.grant_deletions.len(), 1);
        assert_eq!(f.grant_deletions[0].1, json!({"access_token": GH_TOKEN}));
        assert!(f.revoked, "the fake accepted the revocation");
        assert!(f.bad_headers.is_empty(), "{:?}", f.bad_headers);
    }
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM connections")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(count, 0);

    let text = logs.text();
    assert!(text.contains("GitHub connected"), "the capture works");
    assert!(!text.contains(GH_TOKEN), "the token is in the logs");
    assert!(
        !text.contains(CLIENT_SECRET),
        "the client secret is in the logs"
    );
}

#[tokio::test]
async fn without_an_oauth_app_start_says_so() {
    let app = app().env(names::CREDENTIALS_KEYS, KEY).spawn().await;
    let alice = app.register("alice@example.com").await;
    let res = no_redirects()
        .get(app.url("/api/connections/github/start"))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    assert_eq!(code_of(&res.json().await.unwrap()), "github_unavailable");
    let res = app
        .call(&alice, Method::GET, "/api/repositories", None)
        .await;
    assert_eq!(res.status(), 409);
    assert_eq!(code_of(&res.json().await.unwrap()), "github_not_connected");
}

#[tokio::test]
async fn repositories_follow_link_pages_filter_to_push_and_search_branches_map_errors() {
    let (base, fake) = fake_github().await;
    let app = github_app(&base, None).await;
    let alice = app.register("alice@example.com").await;
    let res = app
        .call(&alice, Method::GET, "/api/repositories", None)
        .await;
    assert_eq!(res.status(), 409);
    assert_eq!(code_of(&res.json().await.unwrap()), "github_not_connected");
    connect(&app, &alice).await;

    let res = app
        .call(&alice, Method::GET, "/api/repositories", None)
        .await;
    assert_eq!(res.status(), 200);
    let page: Value = res.json().await.unwrap();
    // 250 repositories, every fifth without push, one archived.
    let expected = (0..REPOS).filter(|i| i % 5 != 0 && *i != 7).count();
    assert_eq!(page["total"], expected);
    assert_eq!(page["repositories"].as_array().unwrap().len(), 30);
    assert_eq!(page["hasMore"], true);
    assert_eq!(page["login"], "octocat");
    let first = &page["repositories"][0];
    assert_eq!(first["fullName"], "octocat/repo-001");
    assert_eq!(first["cloneUrl"], format!("{base}/octocat/repo-001.git"));
    assert_eq!(first["defaultBranch"], "main");
    {
        let f = fake.lock().unwrap();
        let listed: Vec<&String> = f
            .requests
            .iter()
            .filter(|r| r.starts_with("GET /user/repos"))
            .collect();
        assert_eq!(listed.len(), 3, "three pages of 100: {listed:?}");
        assert!(listed[0].contains("per_page=100"), "{listed:?}");
        assert!(
            listed[2].contains("page=3"),
            "followed rel=next: {listed:?}"
        );
        assert!(f.bad_headers.is_empty(), "{:?}", f.bad_headers);
    }
    // The last page.
    let res = app
        .call(&alice, Method::GET, "/api/repositories?page=7", None)
        .await;
    let page: Value = res.json().await.unwrap();
    assert_eq!(
        page["repositories"].as_array().unwrap().len(),
        expected - 180
    );
    assert_eq!(page["hasMore"], false);
    // Search, case-insensitive, on owner/name.
    let res = app
        .call(
            &alice,
            Method::GET,
            "/api/repositories?q=OCTOCAT/REPO-01",
            None,
        )
        .await;
    let page: Value = res.json().await.unwrap();
    let names: Vec<&str> = page["repositories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "repo-011", "repo-012", "repo-013", "repo-014", "repo-016", "repo-017", "repo-018",
            "repo-019"
        ]
    );

    // Branches.
    let res = app
        .call(
            &alice,
            Method::GET,
            "/api/repositories/octocat/repo-001/branches",
            None,
        )
        .await;
    assert_eq!(res.status(), 200);
    let list: Value = res.json().await.unwrap();
    assert_eq!(list["branches"][0]["name"], "main");
    assert_eq!(list["branches"][0]["protected"], true);
    assert_eq!(list["branches"][1]["name"], "feature");
    assert_eq!(
        list["branches"][1]["commit"],
        "6dcb09b5b57875f334f61aebed695e2e4193db5e"
    );
    let res = app
        .call(
            &alice,
            Method::GET,
            "/api/repositories/octocat/nope/branches",
            None,
        )
        .await;
    assert_eq!(res.status(), 404);
    assert_eq!(code_of(&res.json().await.unwrap()), "not_found");
    let res = app
        .call(
            &alice,
            Method::GET,
            "/api/repositories/octocat/locked/branches",
            None,
        )
        .await;
    assert_eq!(res.status(), 403);
    let body: Value = res.json().await.unwrap();
    assert_eq!(code_of(&body), "github_forbidden");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Resource not accessible"),
        "{body}"
    );
    // Names GitHub cannot have never reach it.
    let res = app
        .call(
            &alice,
            Method::GET,
            "/api/repositories/octo%2Fcat/x/branches",
            None,
        )
        .await;
    assert_eq!(res.status(), 404);

    // Revoked at GitHub: a clear "connect again", not a 500.
    fake.lock().unwrap().revoked = true;
    let res = app
        .call(&alice, Method::GET, "/api/repositories", None)
        .await;
    assert_eq!(res.status(), 409);
    let body = res.text().await.unwrap();
    assert_eq!(
        code_of(&serde_json::from_str(&body).unwrap()),
        "reconnect_github"
    );
    assert!(!body.contains(GH_TOKEN));
    assert!(fake.lock().unwrap().bad_headers.is_empty());
}

/// A code session on the fake GitHub, as a run that pushed would leave it.
async fn pushed_session(app: &TestApp, token: &str, repository: &str) -> String {
    let res = app
        .call(
            token,
            Method::POST,
            "/api/sessions",
            Some(json!({"repository": repository, "baseBranch": "main", "provider": "demo"})),
        )
        .await;
    assert_eq!(res.status(), 201);
    let id = res.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let id_uuid: uuid::Uuid = id.parse().unwrap();
    sqlx::query(
        "UPDATE chat_sessions SET base_commit = 'c5b97d5ae6c19d5c5df71a34c7fbeeda2479ccbc',
             head_commit = '6dcb09b5b57875f334f61aebed695e2e4193db5e' WHERE id = $1",
    )
    .bind(id_uuid)
    .execute(&app.state.db)
    .await
    .unwrap();
    id
}

#[tokio::test]
async fn a_pull_request_is_opened_once_stored_and_owner_only() {
    let (base, fake) = fake_github().await;
    let tmp = tempfile::tempdir().unwrap();
    let host = base.trim_start_matches("http://").to_string();
    let app = app()
        .local_worker(&tmp.path().join("runs"))
        .env(names::CREDENTIALS_KEYS, KEY)
        .env(names::OUTBOUND_ALLOWED_HOSTS, &host)
        .env(names::GITHUB_CLIENT_ID, CLIENT_ID)
        .env(names::GITHUB_CLIENT_SECRET, CLIENT_SECRET)
        .env(names::GITHUB_URL, &base)
        .env(names::GITHUB_API_URL, &base)
        .spawn()
        .await;
    let alice = app.register("alice@example.com").await;
    let bob = app.register("bob@example.com").await;
    connect(&app, &alice).await;
    let repository = format!("{base}/octocat/repo-001.git");

    // A chat session has nothing to propose; a code session needs a pushed commit first.
    let chat = app.create_session(&alice).await;
    let path = |id: &str| format!("/api/sessions/{id}/pull-request");
    let res = app
        .call(&alice, Method::POST, &path(&chat), Some(json!({})))
        .await;
    assert_eq!(res.status(), 409);
    assert_eq!(code_of(&res.json().await.unwrap()), "no_changes");
    let res = app
        .call(
            &alice,
            Method::POST,
            "/api/sessions",
            Some(json!({"repository": repository, "baseBranch": "main", "provider": "demo"})),
        )
        .await;
    let fresh = res.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let res = app
        .call(&alice, Method::POST, &path(&fresh), Some(json!({})))
        .await;
    assert_eq!(res.status(), 409);
    assert_eq!(code_of(&res.json().await.unwrap()), "no_changes");

    let id = pushed_session(&app, &alice, &repository).await;
    // Another user's session: 404, and nothing reaches GitHub.
    let res = app
        .call(&bob, Method::POST, &path(&id), Some(json!({})))
        .await;
    assert_eq!(res.status(), 404);
    assert!(fake.lock().unwrap().pulls.is_empty());

    let res = app
        .call(
            &alice,
            Method::POST,
            &path(&id),
            Some(json!({"title": "Add a note", "body": "Done."})),
        )
        .await;
    assert_eq!(res.status(), 201);
    let created: Value = res.json().await.unwrap();
    assert_eq!(created["pullRequest"]["number"], 1347);
    assert_eq!(
        created["pullRequest"]["url"],
        format!("{base}/octocat/repo-001/pull/1347")
    );
    let branch = created["branch"].as_str().unwrap().to_string();
    assert!(branch.starts_with("webedt/"), "{branch}");
    assert_eq!(created["baseBranch"], "main");
    assert_eq!(fake.lock().unwrap().pulls[0].0, branch);

    // Again: the stored one, GitHub not asked.
    let asked = fake.lock().unwrap().requests.len();
    let res = app
        .call(&alice, Method::POST, &path(&id), Some(json!({})))
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.json::<Value>().await.unwrap()["pullRequest"]["number"],
        1347
    );
    assert_eq!(fake.lock().unwrap().requests.len(), asked);

    // The session shows it, on another replica too.
    let other = github_app(&base, Some(&app.db_url)).await;
    let res = other
        .call(&alice, Method::GET, &format!("/api/sessions/{id}"), None)
        .await;
    let session: Value = res.json().await.unwrap();
    assert_eq!(session["pullRequestNumber"], 1347);
    assert_eq!(
        session["pullRequestUrl"],
        format!("{base}/octocat/repo-001/pull/1347")
    );
    assert_eq!(
        session["headCommit"],
        "6dcb09b5b57875f334f61aebed695e2e4193db5e"
    );

    // Forgotten here but open on GitHub: GitHub's 422 "already exists" is looked up and adopted.
    sqlx::query("UPDATE chat_sessions SET pull_request_number = NULL, pull_request_url = NULL")
        .execute(&app.state.db)
        .await
        .unwrap();
    let res = app
        .call(&alice, Method::POST, &path(&id), Some(json!({})))
        .await;
    assert_eq!(res.status(), 201);
    assert_eq!(
        res.json::<Value>().await.unwrap()["pullRequest"]["number"],
        1347
    );
    assert_eq!(fake.lock().unwrap().pulls.len(), 1);

    // Default title and body come from the session (no events here: the fallbacks).
    let second = pushed_session(&app, &alice, &format!("{base}/octocat/repo-002.git")).await;
    let res = app
        .call(&alice, Method::POST, &path(&second), Some(json!({})))
        .await;
    assert_eq!(res.status(), 201);

    // Another host: the branch and a hint, no pull request API.
    let elsewhere = pushed_session(&app, &alice, &format!("http://{host}/other/repo.git")).await;
    sqlx::query("UPDATE chat_sessions SET repository = 'https://git.example.org/team/repo.git' WHERE id = $1")
        .bind(elsewhere.parse::<uuid::Uuid>().unwrap())
        .execute(&app.state.db)
        .await
        .unwrap();
    let res = app
        .call(&alice, Method::POST, &path(&elsewhere), Some(json!({})))
        .await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["pullRequest"], Value::Null);
    assert!(body["hint"].as_str().unwrap().contains("webedt/"), "{body}");

    // A revoked token: reconnect, not a 500.
    let third = pushed_session(&app, &alice, &format!("{base}/octocat/repo-003.git")).await;
    fake.lock().unwrap().revoked = true;
    let res = app
        .call(&alice, Method::POST, &path(&third), Some(json!({})))
        .await;
    assert_eq!(res.status(), 409);
    assert_eq!(code_of(&res.json().await.unwrap()), "reconnect_github");
    assert!(fake.lock().unwrap().bad_headers.is_empty());
}
