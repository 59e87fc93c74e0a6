//! Chat sessions and runs across replicas: replay from any replica, interrupts that cross
//! replicas, orphan cleanup of a killed replica, seq integrity.

use crate::common::{TestApp, app, fresh_database};
use crate::support::sse::SseReader;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use webedt_contract::names::*;

const WAIT: Duration = Duration::from_secs(20);

async fn events(app: &TestApp, token: &str, session: &str) -> Vec<Value> {
    let res = app
        .call(
            token,
            reqwest::Method::GET,
            &format!("/api/sessions/{session}/events"),
            None,
        )
        .await;
    assert_eq!(res.status(), 200);
    res.json::<Value>().await.unwrap()["events"]
        .as_array()
        .unwrap()
        .clone()
}

async fn session(app: &TestApp, token: &str, id: &str) -> Value {
    app.call(
        token,
        reqwest::Method::GET,
        &format!("/api/sessions/{id}"),
        None,
    )
    .await
    .json()
    .await
    .unwrap()
}

/// Polls until the session leaves `running`; returns it.
async fn wait_finished(app: &TestApp, token: &str, id: &str, within: Duration) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let s = session(app, token, id).await;
        if s["status"] != "running" {
            return s;
        }
        assert!(Instant::now() < deadline, "still running: {s}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn assert_contiguous(seqs: &[i64], from: i64) {
    let expected: Vec<i64> = (from..from + seqs.len() as i64).collect();
    assert_eq!(seqs, expected, "seqs must be contiguous with no duplicate");
}

async fn pair(env: &[(&'static str, &str)]) -> (TestApp, TestApp) {
    let db = fresh_database().await;
    let mut a = app().database(&db);
    let mut b = app().database(&db);
    for (k, v) in env {
        a = a.env(k, v);
        b = b.env(k, v);
    }
    (a.spawn().await, b.spawn().await)
}

#[tokio::test]
async fn a_run_started_on_a_resumes_on_b_from_the_middle_with_no_gap_or_duplicate() {
    let (a, b) = pair(&[(DEMO_EVENT_COUNT, "30"), (DEMO_EVENT_DELAY_MS, "40")]).await;
    let token = a.register("resume@example.com").await;
    let id = a.create_session(&token).await;
    assert_eq!(a.send(&token, &id, "build me a thing").await.status(), 202);
    // Wait until the run is visibly under way, then resume on B from the middle.
    let deadline = Instant::now() + WAIT;
    while events(&b, &token, &id).await.len() < 8 {
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(session(&b, &token, &id).await["status"], "running");
    let res = b
        .client
        .get(b.url(&format!("/api/sessions/{id}/events/stream")))
        .bearer_auth(&token)
        .header("last-event-id", "5")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/event-stream");
    assert_eq!(res.headers()["x-accel-buffering"], "no");
    let frames = SseReader::new(res).collect(WAIT).await;
    let seqs: Vec<i64> = frames.iter().filter_map(|f| f.id).collect();
    assert_contiguous(&seqs, 6);
    assert_eq!(
        frames.last().unwrap().event,
        "completed",
        "ends after the terminal event"
    );
    let stored = events(&a, &token, &id).await;
    assert_eq!(*seqs.last().unwrap(), stored.len() as i64);
    let deltas = stored
        .iter()
        .filter(|e| e["type"] == "assistant_message")
        .count();
    assert_eq!(deltas, 30);
    for (frame, event) in frames.iter().zip(stored.iter().skip(5)) {
        assert_eq!(frame.event, event["type"]);
        assert_eq!(frame.json(), event["data"]);
    }
    let done = session(&a, &token, &id).await;
    assert_eq!(done["status"], "completed");
    assert!(done["completedAt"].is_string());
    // The same replay from the start via the alias and the query parameter.
    let res = a
        .client
        .get(a.url(&format!("/api/resume/{id}?lastEventId=0")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let all: Vec<i64> = SseReader::new(res)
        .collect(WAIT)
        .await
        .iter()
        .filter_map(|f| f.id)
        .collect();
    assert_contiguous(&all, 1);
    assert_eq!(all.len(), stored.len());
}

#[tokio::test]
async fn a_client_that_disconnects_does_not_stop_the_run() {
    let a = app()
        .env(DEMO_EVENT_COUNT, 20)
        .env(DEMO_EVENT_DELAY_MS, 30)
        .spawn()
        .await;
    let token = a.register("leave@example.com").await;
    let res = a
        .call(
            &token,
            reqwest::Method::POST,
            "/api/execute-remote",
            Some(json!({ "userRequest": "go" })),
        )
        .await;
    assert_eq!(res.status(), 200);
    let id = res.headers()["x-session-id"].to_str().unwrap().to_string();
    let mut reader = SseReader::new(res);
    let first = reader.next(WAIT).await.unwrap();
    assert_eq!(first.event, "user_message");
    let session: uuid::Uuid = id.parse().unwrap();
    assert!(a.state.hub.has_session_subscribers(session));
    drop(reader);
    // The stream ends with its client: the next write to the closed socket drops the body, and
    // the subscription with it.
    let deadline = Instant::now() + WAIT;
    while a.state.hub.has_session_subscribers(session) {
        assert!(Instant::now() < deadline, "the stream outlived its client");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let done = wait_finished(&a, &token, &id, WAIT).await;
    assert_eq!(done["status"], "completed");
    let stored = events(&a, &token, &id).await;
    assert_eq!(
        stored
            .iter()
            .filter(|e| e["type"] == "assistant_message")
            .count(),
        20
    );
    assert_eq!(stored.last().unwrap()["type"], "completed");
    let data = &stored.last().unwrap()["data"];
    assert!(data["durationMs"].as_u64().unwrap() >= 20 * 30);
    assert!(data["usage"]["outputTokens"].as_u64().unwrap() > 0);
}

#[tokio::test]
async fn an_interrupt_sent_to_another_replica_stops_the_run_quickly() {
    let (a, b) = pair(&[(DEMO_EVENT_COUNT, "400"), (DEMO_EVENT_DELAY_MS, "50")]).await;
    let token = a.register("stop@example.com").await;
    let id = a.create_session(&token).await;
    a.send(&token, &id, "long job").await;
    let deadline = Instant::now() + WAIT;
    while events(&b, &token, &id).await.len() < 5 {
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let asked = Instant::now();
    let res = b
        .call(
            &token,
            reqwest::Method::POST,
            &format!("/api/sessions/{id}/interrupt"),
            Some(json!({})),
        )
        .await;
    assert_eq!(res.status(), 202);
    let done = wait_finished(&b, &token, &id, Duration::from_secs(5)).await;
    let took = asked.elapsed();
    eprintln!("interrupt across replicas took {took:?}");
    assert_eq!(done["status"], "interrupted");
    assert!(
        took < Duration::from_millis(1500),
        "promised within 1 s (+ polling margin): {took:?}"
    );
    let stored = events(&a, &token, &id).await;
    assert_eq!(stored.last().unwrap()["type"], "interrupted");
    assert!(
        stored.len() < 100,
        "the run stopped early: {}",
        stored.len()
    );
    // Nothing to stop any more.
    let res = a
        .call(
            &token,
            reqwest::Method::POST,
            &format!("/api/sessions/{id}/interrupt"),
            None,
        )
        .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
}

/// A replica killed with SIGKILL mid-run: another replica notices the stale heartbeat within
/// timeout + interval and ends the run exactly once.
#[tokio::test]
async fn a_run_of_a_killed_replica_is_cleaned_up_once_by_another() {
    let db = fresh_database().await;
    let orphan_env = [
        (ORPHAN_SESSION_TIMEOUT_MINUTES, "0.05"),  // 3 s
        (ORPHAN_CLEANUP_INTERVAL_MINUTES, "0.02"), // 1.2 s
    ];
    let mut b = app().database(&db);
    for (k, v) in orphan_env {
        b = b.env(k, v);
    }
    let b = b.spawn().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut doomed = tokio::process::Command::new(env!("CARGO_BIN_EXE_webedt-api"))
        .env("DATABASE_URL", &db)
        .env("SESSION_SECRET", crate::common::SECRET)
        .env("HOST", "127.0.0.1")
        .env("PORT", port.to_string())
        .env("CONTAINER_ID", "doomed-replica")
        .env(DEMO_EVENT_COUNT, "1000")
        .env(DEMO_EVENT_DELAY_MS, "50")
        .envs(orphan_env)
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let deadline = Instant::now() + WAIT;
    while client
        .get(format!("{base}/ready"))
        .send()
        .await
        .map(|r| r.status() != 200)
        .unwrap_or(true)
    {
        assert!(
            Instant::now() < deadline,
            "doomed replica never became ready"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let token = b.register("orphan@example.com").await;
    let id = b.create_session(&token).await;
    let res = client
        .post(format!("{base}/api/sessions/{id}/send"))
        .bearer_auth(&token)
        .json(&json!({ "message": "work" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    while events(&b, &token, &id).await.len() < 5 {
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    doomed.start_kill().unwrap();
    doomed.wait().await.unwrap();
    let killed = Instant::now();
    let done = wait_finished(&b, &token, &id, Duration::from_secs(15)).await;
    let took = killed.elapsed();
    eprintln!("lost run detected after {took:?}");
    assert_eq!(done["status"], "error");
    assert!(
        took < Duration::from_millis(3000 + 1200 + 2000),
        "within timeout + interval (+ margin): {took:?}"
    );
    assert_eq!(
        done["lastError"],
        "run lost: replica doomed-replica stopped"
    );
    // Let further cleanup rounds pass: still exactly one error event.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let stored = events(&b, &token, &id).await;
    assert_eq!(stored.iter().filter(|e| e["type"] == "error").count(), 1);
    let status: Value = b.get("/health/status").await.json().await.unwrap();
    let job = &status["jobs"]["orphan-cleanup"];
    assert!(job["lastRunBy"].is_string(), "{status}");
}

#[tokio::test]
async fn a_healthy_long_run_is_never_marked_lost() {
    let a = app()
        .env(ORPHAN_SESSION_TIMEOUT_MINUTES, "0.04") // 2.4 s
        .env(ORPHAN_CLEANUP_INTERVAL_MINUTES, "0.01")
        .env(DEMO_EVENT_COUNT, 60)
        .env(DEMO_EVENT_DELAY_MS, 100) // ~6 s, well past the timeout
        .spawn()
        .await;
    let token = a.register("long@example.com").await;
    let id = a.create_session(&token).await;
    a.send(&token, &id, "slow and steady").await;
    let done = wait_finished(&a, &token, &id, Duration::from_secs(30)).await;
    assert_eq!(done["status"], "completed", "{done}");
    let stored = events(&a, &token, &id).await;
    assert_eq!(stored.iter().filter(|e| e["type"] == "error").count(), 0);
}

#[tokio::test]
async fn concurrent_appends_never_repeat_or_skip_a_seq() {
    let a = app().spawn().await;
    let token = a.register("seq@example.com").await;
    let id: uuid::Uuid = a.create_session(&token).await.parse().unwrap();
    let pool = a.state.db.pool().clone();
    let writers = (0..8).map(|w| {
        let pool = pool.clone();
        tokio::spawn(async move {
            for i in 0..40 {
                let text = webedt_api::events::kinds::Text {
                    text: format!("{w}-{i}"),
                };
                webedt_api::events::append(
                    &pool,
                    id,
                    &webedt_api::events::Event::AssistantMessage(text),
                )
                .await
                .unwrap();
            }
        })
    });
    for w in futures::future::join_all(writers).await {
        w.unwrap();
    }
    let seqs: Vec<i64> =
        sqlx::query_scalar("SELECT seq FROM events WHERE chat_session_id = $1 ORDER BY seq")
            .bind(id)
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_contiguous(&seqs, 1);
    assert_eq!(seqs.len(), 320);
}

#[tokio::test]
async fn the_updates_stream_sees_changes_made_on_another_replica() {
    let (a, b) = pair(&[]).await;
    let token = a.register("updates@example.com").await;
    let res = b
        .call(&token, reqwest::Method::GET, "/api/sessions/updates", None)
        .await;
    assert_eq!(res.status(), 200);
    let mut reader = SseReader::new(res);
    // Give B's subscription a moment to be registered before the change happens.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let id = a.create_session(&token).await;
    let frame = reader.next(Duration::from_secs(5)).await.unwrap();
    assert_eq!(frame.event, "session");
    assert_eq!(frame.json()["kind"], "created");
    assert_eq!(frame.json()["session"]["id"], id.as_str());
    a.call(
        &token,
        reqwest::Method::PATCH,
        &format!("/api/sessions/{id}"),
        Some(json!({ "title": "Renamed" })),
    )
    .await;
    let frame = reader.next(Duration::from_secs(5)).await.unwrap();
    assert_eq!(frame.json()["kind"], "updated");
    assert_eq!(frame.json()["session"]["title"], "Renamed");
    // Another user's changes are not visible.
    let other = a.register("someone-else@example.com").await;
    a.create_session(&other).await;
    a.call(
        &token,
        reqwest::Method::DELETE,
        &format!("/api/sessions/{id}"),
        None,
    )
    .await;
    let frame = reader.next(Duration::from_secs(5)).await.unwrap();
    assert_eq!(
        frame.json()["kind"],
        "deleted",
        "the other user's creation was skipped"
    );
}

#[tokio::test]
async fn sessions_crud_with_trash_and_pagination() {
    let a = app().spawn().await;
    let token = a.register("crud@example.com").await;
    let res = a
        .call(
            &token,
            reqwest::Method::POST,
            "/api/sessions",
            Some(json!({ "title": "First" })),
        )
        .await;
    assert_eq!(res.status(), 201);
    let first: Value = res.json().await.unwrap();
    for key in [
        "id",
        "title",
        "status",
        "provider",
        "model",
        "createdAt",
        "updatedAt",
        "completedAt",
        "totalCostUsd",
        "lastError",
    ] {
        assert!(first.get(key).is_some(), "{key} in {first}");
    }
    assert_eq!(first["status"], "idle");
    assert_eq!(first["provider"], "demo");
    for _ in 0..4 {
        a.create_session(&token).await;
    }
    let page: Value = a
        .call(&token, reqwest::Method::GET, "/api/sessions?limit=3", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["sessions"].as_array().unwrap().len(), 3);
    let cursor = page["nextCursor"].as_str().unwrap();
    let rest: Value = a
        .call(
            &token,
            reqwest::Method::GET,
            &format!("/api/sessions?limit=3&cursor={cursor}"),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(rest["sessions"].as_array().unwrap().len(), 2);
    assert!(rest["nextCursor"].is_null());
    assert_eq!(
        rest["sessions"][1]["id"], first["id"],
        "newest first, oldest last"
    );

    let id = first["id"].as_str().unwrap();
    let renamed: Value = a
        .call(
            &token,
            reqwest::Method::PATCH,
            &format!("/api/sessions/{id}"),
            Some(json!({ "title": "  Better  " })),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(renamed["title"], "Better");
    assert_eq!(
        a.call(
            &token,
            reqwest::Method::DELETE,
            &format!("/api/sessions/{id}"),
            None
        )
        .await
        .status(),
        204
    );
    let live: Value = a
        .call(&token, reqwest::Method::GET, "/api/sessions", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(live["sessions"].as_array().unwrap().len(), 4);
    let trash: Value = a
        .call(
            &token,
            reqwest::Method::GET,
            "/api/sessions?deleted=true",
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(trash["sessions"][0]["id"], id);
    assert!(trash["sessions"][0]["deletedAt"].is_string());
    let restored = a
        .call(
            &token,
            reqwest::Method::POST,
            &format!("/api/sessions/{id}/restore"),
            None,
        )
        .await;
    assert_eq!(restored.status(), 200);
    let live: Value = a
        .call(&token, reqwest::Method::GET, "/api/sessions", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(live["sessions"].as_array().unwrap().len(), 5);
}

#[tokio::test]
async fn other_users_get_404_on_every_session_route() {
    let a = app().env(DEMO_EVENT_COUNT, 200).spawn().await;
    let owner = a.register("owner2@example.com").await;
    let stranger = a.register("stranger@example.com").await;
    let id = a.create_session(&owner).await;
    a.send(&owner, &id, "mine").await;
    use reqwest::Method;
    let routes = [
        (Method::GET, format!("/api/sessions/{id}"), None),
        (
            Method::PATCH,
            format!("/api/sessions/{id}"),
            Some(json!({ "title": "x" })),
        ),
        (Method::DELETE, format!("/api/sessions/{id}"), None),
        (Method::POST, format!("/api/sessions/{id}/restore"), None),
        (Method::GET, format!("/api/sessions/{id}/events"), None),
        (
            Method::GET,
            format!("/api/sessions/{id}/events/stream"),
            None,
        ),
        (Method::GET, format!("/api/resume/{id}"), None),
        (
            Method::POST,
            format!("/api/sessions/{id}/send"),
            Some(json!({ "message": "hi" })),
        ),
        (Method::POST, format!("/api/sessions/{id}/interrupt"), None),
        (
            Method::POST,
            "/api/execute-remote".to_string(),
            Some(json!({ "websiteSessionId": id, "userRequest": "hi" })),
        ),
    ];
    for (method, path, body) in routes {
        let res = a.call(&stranger, method.clone(), &path, body.clone()).await;
        assert_eq!(res.status(), 404, "{method} {path}");
        let err: Value = res.json().await.unwrap();
        assert_eq!(err["error"]["code"], "not_found");
        // And without any login: 401.
        let mut req = a.client.request(method.clone(), a.url(&path));
        if let Some(b) = body {
            req = req.json(&b);
        }
        assert_eq!(req.send().await.unwrap().status(), 401, "{method} {path}");
    }
    let list: Value = a
        .call(&stranger, Method::GET, "/api/sessions", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["sessions"].as_array().unwrap().len(), 0);
    a.call(
        &owner,
        Method::POST,
        &format!("/api/sessions/{id}/interrupt"),
        None,
    )
    .await;
}

#[tokio::test]
async fn bad_run_input_gets_clear_errors() {
    let a = app().env(DEMO_EVENT_COUNT, 200).spawn().await;
    let token = a.register("bad@example.com").await;
    let id = a.create_session(&token).await;
    let res = a
        .client
        .get(a.url(&format!("/api/sessions/{id}/events/stream")))
        .bearer_auth(&token)
        .header("last-event-id", "abc")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"]["code"],
        "invalid_last_event_id"
    );
    let big = "x".repeat(100 * 1024 + 1);
    let res = a.send(&token, &id, &big).await;
    assert_eq!(res.status(), 422);
    let res = a
        .call(
            &token,
            reqwest::Method::POST,
            "/api/sessions",
            Some(json!({ "provider": "nope" })),
        )
        .await;
    assert_eq!(res.status(), 422);
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"]["field"],
        "provider"
    );
    let res = a.send(&token, &id, "   ").await;
    assert_eq!(res.status(), 422);
    assert_eq!(a.send(&token, &id, "first").await.status(), 202);
    let res = a.send(&token, &id, "second while running").await;
    assert_eq!(res.status(), 409);
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"]["code"],
        "run_active"
    );
    a.call(
        &token,
        reqwest::Method::POST,
        &format!("/api/sessions/{id}/interrupt"),
        None,
    )
    .await;
    let providers: Value = a
        .call(&token, reqwest::Method::GET, "/api/providers", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(providers["providers"][0]["id"], "demo");
    assert_eq!(providers["providers"][0]["default"], true);
}

#[tokio::test]
async fn a_follow_up_is_a_new_run_on_the_same_session() {
    let a = app()
        .env(DEMO_EVENT_COUNT, 5)
        .env(DEMO_EVENT_DELAY_MS, 10)
        .spawn()
        .await;
    let token = a.register("follow@example.com").await;
    let id = a.create_session(&token).await;
    a.send(&token, &id, "first question").await;
    wait_finished(&a, &token, &id, WAIT).await;
    assert_eq!(a.send(&token, &id, "and a follow-up").await.status(), 202);
    let done = wait_finished(&a, &token, &id, WAIT).await;
    assert_eq!(done["status"], "completed");
    assert_eq!(
        done["title"], "first question",
        "titled by the first prompt"
    );
    let stored = events(&a, &token, &id).await;
    let prompts: Vec<&str> = stored
        .iter()
        .filter(|e| e["type"] == "user_message")
        .map(|e| e["data"]["text"].as_str().unwrap())
        .collect();
    assert_eq!(prompts, ["first question", "and a follow-up"]);
    assert_eq!(
        stored.iter().filter(|e| e["type"] == "completed").count(),
        2
    );
    let seqs: Vec<i64> = stored.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert_contiguous(&seqs, 1);
}

/// A replica that comes back with the id of a dead process ends that process's runs at start,
/// without waiting for the orphan timeout (30 minutes by default here).
#[tokio::test]
async fn a_replica_restarting_with_the_same_id_ends_its_leftover_runs_at_once() {
    let db = fresh_database().await;
    let a = app().database(&db).spawn().await;
    let token = a.register("phoenix@example.com").await;
    let id = a.create_session(&token).await;
    // What a crashed process with id "phoenix" left behind: a running session and its run row.
    sqlx::query("UPDATE chat_sessions SET status = 'running' WHERE id = $1::uuid")
        .bind(&id)
        .execute(a.state.db.pool())
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO active_runs (chat_session_id, run_id, owner) VALUES ($1::uuid, gen_random_uuid(), 'phoenix')",
    )
    .bind(&id)
    .execute(a.state.db.pool())
    .await
    .unwrap();
    let b = app()
        .database(&db)
        .env(CONTAINER_ID, "phoenix")
        .spawn()
        .await;
    let done = wait_finished(&b, &token, &id, Duration::from_secs(10)).await;
    assert_eq!(done["status"], "error");
    assert_eq!(done["lastError"], "run lost: replica phoenix restarted");
    let stored = events(&b, &token, &id).await;
    assert_eq!(stored.iter().filter(|e| e["type"] == "error").count(), 1);
}
