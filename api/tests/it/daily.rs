//! Sessions for daily use: favourites (star, filter, unstar, owner only) and search over titles
//! and conversations (ranked, prefix matching, keyset pages, never another user's sessions,
//! bad queries a 422 with a stable code). A word split across deltas: providers/search.rs.

use crate::common::{TestApp, app};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use webedt_contract::names::*;

async fn spawn() -> TestApp {
    app()
        .env(DEMO_EVENT_COUNT, 6)
        .env(DEMO_EVENT_DELAY_MS, 0)
        .spawn()
        .await
}

async fn create(app: &TestApp, token: &str, title: Option<&str>) -> String {
    let body = match title {
        Some(t) => json!({ "title": t }),
        None => json!({}),
    };
    let res = app
        .call(token, Method::POST, "/api/sessions", Some(body))
        .await;
    assert_eq!(res.status(), 201);
    res.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn get(app: &TestApp, token: &str, path: &str) -> (StatusCode, Value) {
    let res = app.call(token, Method::GET, path, None).await;
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// The ids of a list page, and its `nextCursor`.
async fn page(app: &TestApp, token: &str, query: &str) -> (Vec<String>, Option<String>) {
    let (status, body) = get(app, token, &format!("/api/sessions?{query}")).await;
    assert_eq!(status, 200, "{query}: {body}");
    let ids = body["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect();
    (ids, body["nextCursor"].as_str().map(str::to_string))
}

async fn search(app: &TestApp, token: &str, q: &str) -> Vec<String> {
    let q: String = url::form_urlencoded::byte_serialize(q.as_bytes()).collect();
    page(app, token, &format!("q={q}")).await.0
}

async fn star(app: &TestApp, token: &str, id: &str, on: bool) -> (StatusCode, Value) {
    let method = if on { Method::PUT } else { Method::DELETE };
    let res = app
        .call(token, method, &format!("/api/sessions/{id}/favorite"), None)
        .await;
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// Runs `prompt` in `session` with the demo provider and waits for the run to end.
async fn run(app: &TestApp, token: &str, session: &str, prompt: &str) {
    let res = app.send(token, session, prompt).await;
    assert_eq!(res.status(), 202, "{}", res.text().await.unwrap());
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, s) = get(app, token, &format!("/api/sessions/{session}")).await;
        if s["status"] != "running" {
            assert_eq!(s["status"], "completed", "{s}");
            return;
        }
        assert!(Instant::now() < deadline, "still running: {s}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test]
async fn favourites_star_filter_unstar_and_only_the_owner() {
    let app = spawn().await;
    let alice = app.register("fav-alice@example.com").await;
    let bob = app.register("fav-bob@example.com").await;
    let a1 = create(&app, &alice, Some("one")).await;
    let a2 = create(&app, &alice, Some("two")).await;
    let a3 = create(&app, &alice, Some("three")).await;

    let (_, listed) = get(&app, &alice, "/api/sessions").await;
    assert!(
        listed["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["favorite"] == false)
    );
    assert_eq!(
        page(&app, &alice, "favorite=true").await.0,
        Vec::<String>::new()
    );

    let (status, starred) = star(&app, &alice, &a2, true).await;
    assert_eq!(status, 200);
    assert_eq!(starred["favorite"], true);
    // Idempotent.
    assert_eq!(star(&app, &alice, &a2, true).await.0, 200);
    assert_eq!(page(&app, &alice, "favorite=true").await.0, [a2.as_str()]);
    assert_eq!(page(&app, &alice, "favorite=false").await.0.len(), 3);
    let (_, one) = get(&app, &alice, &format!("/api/sessions/{a2}")).await;
    assert_eq!(one["favorite"], true);

    // Another user can neither star nor unstar it, and never sees it among their favourites.
    let (status, body) = star(&app, &bob, &a1, true).await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "not_found");
    assert_eq!(star(&app, &bob, &a2, false).await.0, 404);
    assert_eq!(
        page(&app, &bob, "favorite=true").await.0,
        Vec::<String>::new()
    );
    let (_, still) = get(&app, &alice, &format!("/api/sessions/{a1}")).await;
    assert_eq!(still["favorite"], false);
    assert_eq!(star(&app, &alice, "not-a-uuid", true).await.0, 404);

    // Pages of favourites, newest first.
    star(&app, &alice, &a1, true).await;
    star(&app, &alice, &a3, true).await;
    let (first, next) = page(&app, &alice, "favorite=true&limit=2").await;
    assert_eq!(first, [a3.clone(), a2.clone()]);
    let (second, end) = page(
        &app,
        &alice,
        &format!("favorite=true&limit=2&cursor={}", next.unwrap()),
    )
    .await;
    assert_eq!(second, [a1.as_str()]);
    assert_eq!(end, None);

    let (status, unstarred) = star(&app, &alice, &a2, false).await;
    assert_eq!(status, 200);
    assert_eq!(unstarred["favorite"], false);
    assert_eq!(page(&app, &alice, "favorite=true").await.0, [a3, a1]);
}

#[tokio::test]
async fn search_ranks_titles_first_matches_prefixes_and_never_shows_another_users_sessions() {
    let app = spawn().await;
    let alice = app.register("search-alice@example.com").await;
    let bob = app.register("search-bob@example.com").await;
    let titled = create(&app, &alice, Some("Fix parse_config crash")).await;
    // Titled, so the first prompt does not become its title: its only hit is in the text.
    let body_hit = create(&app, &alice, Some("Investigation")).await;
    run(&app, &alice, &body_hit, "where is parse_config called from").await;
    let other = create(&app, &alice, Some("Cleanup")).await;
    run(&app, &alice, &other, "rename the tokenizer module").await;
    let bobs = create(&app, &bob, Some("parse_config for bob")).await;
    run(&app, &bob, &bobs, "parse_config tokenizer everything").await;

    // A title hit ranks above a body hit; identifiers match as typed.
    assert_eq!(
        search(&app, &alice, "parse_config").await,
        [titled.clone(), body_hit.clone()]
    );
    // The last word is a prefix while it is being typed, a whole word once it is complete.
    assert_eq!(search(&app, &alice, "tokeni").await, [other.as_str()]);
    assert_eq!(search(&app, &alice, "tokeni ").await, Vec::<String>::new());
    assert_eq!(search(&app, &alice, "TOKENIZER").await, [other.as_str()]);
    // The answer is indexed too (the demo's text), and every word must match.
    let mut answered = search(&app, &alice, "demo provider").await;
    answered.sort();
    let mut expected = vec![body_hit.clone(), other.clone()];
    expected.sort();
    assert_eq!(answered, expected);
    assert_eq!(
        search(&app, &alice, "tokenizer parse_config").await,
        Vec::<String>::new()
    );
    assert_eq!(search(&app, &alice, "?!").await, Vec::<String>::new());

    // Bob sees only his own, Alice never sees Bob's.
    assert_eq!(search(&app, &bob, "parse_config").await, [bobs.as_str()]);
    assert_eq!(search(&app, &bob, "rename").await, Vec::<String>::new());
    assert!(!search(&app, &alice, "bob").await.contains(&bobs));

    // Keyset pages over the ranked results: every hit once.
    let (first, next) = page(&app, &alice, "q=demo&limit=1").await;
    assert_eq!(first.len(), 1);
    let (second, end) = page(
        &app,
        &alice,
        &format!("q=demo&limit=1&cursor={}", next.unwrap()),
    )
    .await;
    assert_eq!(second.len(), 1);
    assert_ne!(first, second);
    assert_eq!(end, None);

    // Combined with the star filter; trashed sessions only with deleted=true.
    star(&app, &alice, &body_hit, true).await;
    assert_eq!(
        page(&app, &alice, "q=parse_config&favorite=true").await.0,
        [body_hit.as_str()]
    );
    let res = app
        .call(
            &alice,
            Method::DELETE,
            &format!("/api/sessions/{titled}"),
            None,
        )
        .await;
    assert_eq!(res.status(), 204);
    assert_eq!(
        search(&app, &alice, "parse_config").await,
        [body_hit.as_str()]
    );
    assert_eq!(
        page(&app, &alice, "q=parse_config&deleted=true").await.0,
        [titled]
    );
    // A rename is found at once.
    let res = app
        .call(
            &alice,
            Method::PATCH,
            &format!("/api/sessions/{other}"),
            Some(json!({ "title": "Quokka work" })),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(search(&app, &alice, "quokk").await, [other]);
}

#[tokio::test]
async fn bad_search_queries_are_422_invalid_search() {
    let app = spawn().await;
    let token = app.register("search-bad@example.com").await;
    for q in ["a%00b".to_string(), "x".repeat(201)] {
        let (status, body) = get(&app, &token, &format!("/api/sessions?q={q}")).await;
        assert_eq!(status, 422, "{body}");
        assert_eq!(body["error"]["code"], "invalid_search");
        assert_eq!(body["error"]["field"], "q");
    }
    assert_eq!(
        get(
            &app,
            &token,
            &format!("/api/sessions?q={}", "é".repeat(200))
        )
        .await
        .0,
        200
    );
    // A search cursor is not a list cursor, and the other way round.
    let (status, body) = get(&app, &token, "/api/sessions?q=x&cursor=bm9wZQ").await;
    assert_eq!(status, 422, "{body}");
    // Without a valid session: 401 before the bad query.
    let (status, _) = get(&app, "bogus-token", "/api/sessions?q=a%00b").await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn search_results_carry_a_snippet_with_the_matches_marked_and_nothing_else_does() {
    let app = spawn().await;
    let alice = app.register("snippet-alice@example.com").await;
    let titled = create(&app, &alice, Some("Fix parse_config crash")).await;
    let body_hit = create(&app, &alice, Some("Investigation")).await;
    // The markers in the text itself are dropped: they only ever mark matches.
    run(
        &app,
        &alice,
        &body_hit,
        "where is parse_config \u{E000} called from",
    )
    .await;

    let (status, body) = get(&app, &alice, "/api/sessions?q=parse_config").await;
    assert_eq!(status, 200);
    let sessions = body["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 2, "{body}");
    assert_eq!(sessions[0]["id"], titled.as_str());
    assert!(
        sessions[0].get("snippet").is_none(),
        "a title-only hit: {body}"
    );
    let snippet = sessions[1]["snippet"]
        .as_str()
        .expect("a body hit has a snippet");
    assert!(snippet.contains("\u{E000}parse\u{E001}"), "{snippet:?}");
    assert!(snippet.contains("\u{E000}config\u{E001}"), "{snippet:?}");
    assert!(snippet.contains("where is"), "{snippet:?}");
    assert_eq!(
        snippet.matches('\u{E000}').count(),
        snippet.matches('\u{E001}').count()
    );
    assert!(!snippet.contains("\u{E000}\u{E000}"), "{snippet:?}");
    // The plain list and a single session never carry one.
    let (_, list) = get(&app, &alice, "/api/sessions").await;
    assert!(
        list["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s.get("snippet").is_none())
    );
    let (_, one) = get(&app, &alice, &format!("/api/sessions/{body_hit}")).await;
    assert!(one.get("snippet").is_none());
}
