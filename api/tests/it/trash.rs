//! Bulk delete/restore and "empty trash now": per-id results, owner isolation (another user's
//! ids are `not_found` and never touched), the 100-id limit, and an emptied trash really gone
//! with its events while everything else stays.

use crate::common::{TestApp, app};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use webedt_contract::names::*;

async fn bulk(app: &TestApp, token: &str, body: Value) -> (StatusCode, Value) {
    let res = app
        .call(token, Method::POST, "/api/sessions/bulk", Some(body))
        .await;
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn listed(app: &TestApp, token: &str, deleted: bool) -> Vec<String> {
    let res = app
        .call(
            token,
            Method::GET,
            &format!("/api/sessions?deleted={deleted}"),
            None,
        )
        .await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    let mut ids: Vec<String> = body["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

fn results(body: &Value) -> Vec<(String, String)> {
    body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["id"].as_str().unwrap().to_string(),
                r["result"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[tokio::test]
async fn bulk_delete_and_restore_answer_per_id_and_never_touch_another_users_sessions() {
    let app = app().spawn().await;
    let alice = app.register("bulk-alice@example.com").await;
    let bob = app.register("bulk-bob@example.com").await;
    let a1 = app.create_session(&alice).await;
    let a2 = app.create_session(&alice).await;
    let a3 = app.create_session(&alice).await;
    let b1 = app.create_session(&bob).await;

    let (status, body) = bulk(
        &app,
        &alice,
        json!({ "action": "delete", "ids": [a1, b1, "not-a-uuid", a2, a1, uuid::Uuid::new_v4()] }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let got = results(&body);
    assert_eq!(got.len(), 5, "duplicates count once: {body}");
    assert_eq!(got[0], (a1.clone(), "deleted".into()));
    assert_eq!(got[1], (b1.clone(), "not_found".into()));
    assert_eq!(got[2], ("not-a-uuid".into(), "not_found".into()));
    assert_eq!(got[3], (a2.clone(), "deleted".into()));
    assert_eq!(got[4].1, "not_found");
    assert_eq!(
        listed(&app, &alice, true).await,
        sorted(vec![a1.clone(), a2.clone()])
    );
    assert_eq!(listed(&app, &alice, false).await, vec![a3.clone()]);
    // Bob's session is where it was.
    assert_eq!(listed(&app, &bob, false).await, vec![b1.clone()]);
    assert_eq!(listed(&app, &bob, true).await, Vec::<String>::new());

    // Bob cannot restore Alice's sessions either.
    let (_, body) = bulk(&app, &bob, json!({ "action": "restore", "ids": [a1, a2] })).await;
    assert!(
        results(&body).iter().all(|(_, r)| r == "not_found"),
        "{body}"
    );
    assert_eq!(listed(&app, &alice, true).await.len(), 2);

    let (status, body) = bulk(
        &app,
        &alice,
        json!({ "action": "restore", "ids": [a1, a2] }),
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        results(&body).iter().all(|(_, r)| r == "restored"),
        "{body}"
    );
    assert_eq!(listed(&app, &alice, false).await.len(), 3);

    // Limits: at least one id, at most 100; an unknown action is a validation error.
    let (status, body) = bulk(&app, &alice, json!({ "action": "delete", "ids": [] })).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "validation");
    let many: Vec<String> = (0..101).map(|_| uuid::Uuid::new_v4().to_string()).collect();
    let (status, body) = bulk(&app, &alice, json!({ "action": "delete", "ids": many })).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "validation");
    let hundred: Vec<String> = (0..100).map(|_| uuid::Uuid::new_v4().to_string()).collect();
    let (status, _) = bulk(&app, &alice, json!({ "action": "delete", "ids": hundred })).await;
    assert_eq!(status, 200);
    let (status, body) = bulk(&app, &alice, json!({ "action": "purge", "ids": [a1] })).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(listed(&app, &alice, false).await.len(), 3);

    // Without a login: 401.
    let res = app
        .client
        .post(app.url("/api/sessions/bulk"))
        .json(&json!({ "action": "delete", "ids": [a1] }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}

#[tokio::test]
async fn empty_trash_removes_the_callers_trashed_sessions_and_their_events_only() {
    let app = app()
        .env(DEMO_EVENT_COUNT, 5)
        .env(DEMO_EVENT_DELAY_MS, 0)
        .spawn()
        .await;
    let db = sqlx::PgPool::connect(&app.db_url).await.unwrap();
    let alice = app.register("empty-alice@example.com").await;
    let bob = app.register("empty-bob@example.com").await;
    let mut alices = Vec::new();
    for _ in 0..3 {
        let id = app.create_session(&alice).await;
        assert_eq!(app.send(&alice, &id, "hello").await.status(), 202);
        alices.push(id);
    }
    let bobs = app.create_session(&bob).await;
    assert_eq!(app.send(&bob, &bobs, "hello").await.status(), 202);
    let deadline = Instant::now() + Duration::from_secs(20);
    while sqlx::query_scalar::<_, i64>("SELECT count(*) FROM active_runs")
        .fetch_one(&db)
        .await
        .unwrap()
        > 0
    {
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (trashed, kept) = (&alices[..2], &alices[2]);
    bulk(&app, &alice, json!({ "action": "delete", "ids": trashed })).await;
    bulk(&app, &bob, json!({ "action": "delete", "ids": [bobs] })).await;
    let events = |id: String| {
        let db = db.clone();
        async move {
            sqlx::query_scalar::<_, i64>(
                "SELECT count(*) FROM events WHERE chat_session_id = $1::uuid",
            )
            .bind(id)
            .fetch_one(&db)
            .await
            .unwrap()
        }
    };
    for id in trashed {
        assert!(events(id.clone()).await > 0);
    }

    let res = app
        .call(&alice, Method::POST, "/api/sessions/trash/empty", None)
        .await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["purgedSessions"], 2, "{body}");

    for id in trashed {
        assert_eq!(events(id.clone()).await, 0, "events gone with the session");
        let res = app
            .call(&alice, Method::GET, &format!("/api/sessions/{id}"), None)
            .await;
        assert_eq!(res.status(), 404);
        let search: i64 =
            sqlx::query_scalar("SELECT count(*) FROM chat_sessions WHERE id = $1::uuid")
                .bind(id)
                .fetch_one(&db)
                .await
                .unwrap();
        assert_eq!(search, 0);
    }
    assert_eq!(listed(&app, &alice, true).await, Vec::<String>::new());
    assert_eq!(listed(&app, &alice, false).await, vec![kept.clone()]);
    assert!(events(kept.clone()).await > 0);
    // Bob's trash is untouched, and emptying it is his alone to do.
    assert_eq!(listed(&app, &bob, true).await, vec![bobs.clone()]);
    assert!(events(bobs.clone()).await > 0);
    let res = app
        .call(&alice, Method::POST, "/api/sessions/trash/empty", None)
        .await;
    assert_eq!(res.json::<Value>().await.unwrap()["purgedSessions"], 0);
    assert_eq!(listed(&app, &bob, true).await, vec![bobs]);
}
