//! Trash retention: sessions in the trash longer than TRASH_RETENTION_DAYS are purged with their
//! events, by one replica, and nothing else is touched.

use crate::common::{app, fresh_database};
use serde_json::Value;
use std::time::{Duration, Instant};
use webedt_contract::names::*;

async fn job_row(
    db: &sqlx::PgPool,
) -> Option<(chrono::DateTime<chrono::Utc>, String, Option<Value>)> {
    sqlx::query_as(
        "SELECT last_run_at, last_run_by, last_result FROM job_runs
         WHERE name = 'trash-purge' AND last_finished_at IS NOT NULL",
    )
    .fetch_optional(db)
    .await
    .unwrap()
}

async fn wait_job_after(
    db: &sqlx::PgPool,
    after: chrono::DateTime<chrono::Utc>,
) -> (chrono::DateTime<chrono::Utc>, String, Value) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some((at, by, Some(result))) = job_row(db).await
            && at > after
        {
            return (at, by, result);
        }
        assert!(Instant::now() < deadline, "trash-purge did not run");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn trash(app: &crate::common::TestApp, token: &str, id: &str) {
    let res = app
        .call(
            token,
            reqwest::Method::DELETE,
            &format!("/api/sessions/{id}"),
            None,
        )
        .await;
    assert!(res.status().is_success(), "{}", res.status());
}

#[tokio::test]
async fn only_sessions_past_the_retention_are_purged_with_their_events_by_one_replica() {
    let db_url = fresh_database().await;
    let a = app()
        .database(&db_url)
        .env(TRASH_RETENTION_DAYS, 2)
        .env(DEMO_EVENT_COUNT, 5)
        .env(DEMO_EVENT_DELAY_MS, 1)
        .spawn()
        .await;
    let b = app()
        .database(&db_url)
        .env(TRASH_RETENTION_DAYS, 2)
        .spawn()
        .await;
    let db = sqlx::PgPool::connect(&db_url).await.unwrap();
    // The first run (at start, on an empty trash) comes first, so the one we trigger below is
    // the only one that sees the data.
    let (first, _, _) = wait_job_after(&db, chrono::DateTime::UNIX_EPOCH).await;

    let alice = a.register("alice@example.com").await;
    let bob = a.register("bob@example.com").await;
    let mut ids = Vec::new();
    for token in [&alice, &alice, &alice, &alice, &bob] {
        let id = a.create_session(token).await;
        assert_eq!(a.send(token, &id, "hello").await.status(), 202);
        ids.push(id);
    }
    // Let the runs finish so every session has its events.
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
    let (old, older, recent, live, bobs_old) = (&ids[0], &ids[1], &ids[2], &ids[3], &ids[4]);
    for (id, token) in [
        (old, &alice),
        (older, &alice),
        (recent, &alice),
        (bobs_old, &bob),
    ] {
        trash(&a, token, id).await;
    }
    // Backdate: three past the 2-day retention, one inside it; the live one was created long ago
    // (age alone never purges).
    for (id, age) in [
        (old, "3 days"),
        (older, "30 days"),
        (bobs_old, "2 days 1 hour"),
        (recent, "1 day 23 hours"),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE chat_sessions SET deleted_at = now() - interval '{age}' WHERE id = $1::uuid"
        )))
        .bind(id)
        .execute(&db)
        .await
        .unwrap();
    }
    sqlx::query(
        "UPDATE chat_sessions SET created_at = now() - interval '90 days' WHERE id = $1::uuid",
    )
    .bind(live)
    .execute(&db)
    .await
    .unwrap();
    let events_before: Vec<(String, i64)> =
        sqlx::query_as("SELECT chat_session_id::text, count(*) FROM events GROUP BY 1 ORDER BY 1")
            .fetch_all(&db)
            .await
            .unwrap();
    assert_eq!(events_before.len(), 5, "every session has events");

    // Make the job due now instead of in an hour; exactly one replica claims it.
    sqlx::query(
        "UPDATE job_runs SET last_run_at = now() - interval '2 hours' WHERE name = 'trash-purge'",
    )
    .execute(&db)
    .await
    .unwrap();
    let (ran_at, by, result) = wait_job_after(&db, first).await;
    assert!(
        [a.container_id(), b.container_id()].contains(&by.as_str()),
        "{by}"
    );
    assert_eq!(result["ok"], true, "{result}");
    assert_eq!(result["result"]["purgedSessions"], 3, "{result}");

    let left: Vec<String> = sqlx::query_scalar("SELECT id::text FROM chat_sessions ORDER BY id")
        .fetch_all(&db)
        .await
        .unwrap();
    let mut expected = vec![recent.clone(), live.clone()];
    expected.sort();
    assert_eq!(left, expected);
    let events_after: Vec<(String, i64)> =
        sqlx::query_as("SELECT chat_session_id::text, count(*) FROM events GROUP BY 1 ORDER BY 1")
            .fetch_all(&db)
            .await
            .unwrap();
    let kept: Vec<(String, i64)> = events_before
        .into_iter()
        .filter(|(s, _)| expected.contains(s))
        .collect();
    assert_eq!(
        events_after, kept,
        "events of purged sessions went with them, others untouched"
    );
    // Still in the trash, still restorable; users untouched.
    let res = a
        .call(
            &alice,
            reqwest::Method::POST,
            &format!("/api/sessions/{recent}/restore"),
            None,
        )
        .await;
    assert!(res.status().is_success());
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(users, 2);

    // One run per interval: after a few more polls, nobody ran it again.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let (again, _, _) = job_row(&db).await.unwrap();
    assert_eq!(again, ran_at, "ran once, on one replica");
}
