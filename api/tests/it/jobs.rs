use crate::common::{fresh_database, test_config};
use std::time::Duration;
use webedt_api::jobs::claim;

/// Opened as an app opens it (through PgBouncer when the suite runs through one).
async fn migrated_pool() -> webedt_api::db::Db {
    let config = test_config(&fresh_database().await, &[]);
    webedt_api::db::migrate(&config).await.unwrap();
    webedt_api::db::new_pool(&config)
}

#[tokio::test]
async fn exactly_one_replica_claims_each_interval() {
    let pool = migrated_pool().await;
    let interval = Duration::from_millis(700);
    let attempts = (0..10).map(|i| {
        let pool = pool.clone();
        async move {
            claim(&pool, "purge", interval, &format!("replica-{i}"))
                .await
                .unwrap()
        }
    });
    let won = futures::future::join_all(attempts).await;
    assert_eq!(won.iter().filter(|w| **w).count(), 1, "{won:?}");
    // Within the interval nobody else gets it, the winner included.
    assert!(!claim(&pool, "purge", interval, "replica-0").await.unwrap());
    assert!(!claim(&pool, "purge", interval, "replica-5").await.unwrap());
    // Other jobs are independent.
    assert!(
        claim(&pool, "orphans", interval, "replica-5")
            .await
            .unwrap()
    );
    tokio::time::sleep(interval + Duration::from_millis(100)).await;
    assert!(claim(&pool, "purge", interval, "replica-7").await.unwrap());
    let by: String = sqlx::query_scalar("SELECT last_run_by FROM job_runs WHERE name = 'purge'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(by, "replica-7");
}
