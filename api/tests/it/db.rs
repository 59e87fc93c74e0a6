use crate::common::{app, fresh_database_on, spawn_app};
use std::time::{Duration, Instant};
use webedt_contract::names::*;
use webedt_devdb::{Cluster, ClusterOptions};

#[tokio::test]
async fn postgres_cancels_statements_over_the_timeout() {
    let app = app().env(DB_STATEMENT_TIMEOUT_MS, 300).spawn().await;
    let started = Instant::now();
    let err = sqlx::query("SELECT pg_sleep(5)")
        .execute(app.state.db.pool())
        .await
        .expect_err("the statement must be cancelled");
    let code = err
        .as_database_error()
        .and_then(|e| e.code().map(|c| c.into_owned()));
    assert_eq!(code.as_deref(), Some("57014"), "query_canceled, got {err}");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn connections_carry_the_replica_name_and_settings() {
    let app = spawn_app().await;
    let (name, timeout, idle): (String, String, String) = sqlx::query_as(
        "SELECT application_name, current_setting('statement_timeout'),
                current_setting('idle_in_transaction_session_timeout')
         FROM pg_stat_activity WHERE pid = pg_backend_pid()",
    )
    .fetch_one(app.state.db.pool())
    .await
    .unwrap();
    assert_eq!(name, format!("webedt-api/{}", app.container_id()));
    assert_eq!(timeout, "30s");
    assert_eq!(idle, "30s");
}

#[tokio::test]
async fn pool_follows_its_settings_and_bounds_waiting_by_the_connect_timeout() {
    let app = app()
        .env(DB_POOL_MIN, 3)
        .env(DB_POOL_MAX, 4)
        .env(DB_IDLE_TIMEOUT_MS, 12_345)
        .env(DB_CONNECT_TIMEOUT_MS, 400)
        .spawn()
        .await;
    let pool = app.state.db.raw();
    let options = pool.options();
    assert_eq!(options.get_min_connections(), 3);
    assert_eq!(options.get_max_connections(), 4);
    assert_eq!(
        options.get_idle_timeout(),
        Some(Duration::from_millis(12_345))
    );
    assert_eq!(options.get_acquire_timeout(), Duration::from_millis(400));

    let held: Vec<_> = futures::future::join_all((0..4).map(|_| pool.acquire()))
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(pool.size(), 4);
    // A fifth caller waits for DB_CONNECT_TIMEOUT_MS, then gets a clear error.
    let started = Instant::now();
    let err = app.state.db.acquire().await.expect_err("pool is exhausted");
    assert!(matches!(err, sqlx::Error::PoolTimedOut), "{err}");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(350) && waited < Duration::from_secs(3),
        "{waited:?}"
    );
    drop(held);
    assert!(app.state.db.acquire().await.is_ok());
}

async fn private_cluster() -> Cluster {
    tokio::task::spawn_blocking(|| Cluster::start(ClusterOptions::ephemeral()))
        .await
        .unwrap()
        .expect("start a private PostgreSQL")
}

/// Readiness follows the database within 5 s both ways while liveness never wavers. A private
/// cluster, so stopping it disturbs no other test.
#[tokio::test]
async fn ready_follows_postgres_down_and_back_while_live_stays_200() {
    let cluster = std::sync::Arc::new(private_cluster().await);
    let db = fresh_database_on(&cluster.url("postgres")).await;
    let app = app().database(&db).spawn().await;

    let c = cluster.clone();
    tokio::task::spawn_blocking(move || c.stop())
        .await
        .unwrap()
        .unwrap();
    let took = app.wait_ready_status(503, Duration::from_secs(5)).await;
    eprintln!("/ready turned 503 after {took:?}");
    assert_eq!(app.get("/live").await.status(), 200);
    let status = app.get("/health/status").await;
    assert_eq!(status.status(), 503);
    let body: serde_json::Value = status.json().await.unwrap();
    assert_eq!(body["database"]["healthy"], false);

    let c = cluster.clone();
    tokio::task::spawn_blocking(move || c.start_again())
        .await
        .unwrap()
        .unwrap();
    let took = app.wait_ready_status(200, Duration::from_secs(5)).await;
    eprintln!("/ready back to 200 after {took:?}");
    assert_eq!(app.get("/live").await.status(), 200);
    app.shutdown().await.unwrap();
}

/// A replica started before its database serves `/live` and an honest `/ready` 503, then
/// connects (with backoff) and migrates once PostgreSQL appears.
#[tokio::test]
async fn server_starts_without_postgres_and_connects_when_it_appears() {
    let cluster = std::sync::Arc::new(private_cluster().await);
    let db = fresh_database_on(&cluster.url("postgres")).await;
    let c = cluster.clone();
    tokio::task::spawn_blocking(move || c.stop())
        .await
        .unwrap()
        .unwrap();

    let app = app()
        .database(&db)
        .env(DB_CONNECT_TIMEOUT_MS, 500)
        .no_wait()
        .spawn()
        .await;
    for _ in 0..3 {
        assert_eq!(app.get("/live").await.status(), 200);
        assert_eq!(app.get("/ready").await.status(), 503);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let c = cluster.clone();
    tokio::task::spawn_blocking(move || c.start_again())
        .await
        .unwrap()
        .unwrap();
    // Backoff tops out at 10 s between attempts; allow one full step plus the migration.
    app.wait_ready_status(200, Duration::from_secs(15)).await;
    let applied: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations")
        .fetch_one(app.state.db.pool())
        .await
        .unwrap();
    assert_eq!(applied as usize, webedt_api::db::MIGRATOR.iter().count());
}
