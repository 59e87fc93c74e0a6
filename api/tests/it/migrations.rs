use crate::common::{app, fresh_database};
use std::time::Duration;

/// Three replicas starting at once on one empty database: all become ready, each migration is
/// applied exactly once and none fails (sqlx's migrator serialises them with an advisory lock).
#[tokio::test]
async fn three_replicas_starting_together_migrate_once() {
    let db = fresh_database().await;
    let replicas =
        futures::future::join_all((0..3).map(|_| app().database(&db).no_wait().spawn())).await;
    for r in &replicas {
        r.wait_ready_status(200, Duration::from_secs(30)).await;
    }
    let rows: Vec<(i64, bool)> =
        sqlx::query_as("SELECT version, success FROM _sqlx_migrations ORDER BY version")
            .fetch_all(replicas[0].state.db.pool())
            .await
            .unwrap();
    let expected: Vec<i64> = webedt_api::db::MIGRATOR.iter().map(|m| m.version).collect();
    let mut expected = expected;
    expected.sort();
    expected.dedup();
    assert_eq!(rows.iter().map(|r| r.0).collect::<Vec<_>>(), expected);
    assert!(rows.iter().all(|r| r.1), "{rows:?}");
}

#[tokio::test]
async fn migrate_command_applies_the_schema_and_is_idempotent() {
    let db = fresh_database().await;
    for _ in 0..2 {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_webedt-api"))
            .arg("migrate")
            .env("DATABASE_URL", &db)
            .env_remove("SESSION_SECRET")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let pool = sqlx::PgPool::connect(&db).await.unwrap();
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations WHERE success")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(n as usize, webedt_api::db::MIGRATOR.iter().count());
}
