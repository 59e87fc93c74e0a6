//! Deletes audit entries older than `AUDIT_RETENTION_DAYS`, on one replica per interval (the
//! shared jobs mechanism).

use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

use crate::jobs::Job;

pub const INTERVAL: Duration = Duration::from_secs(60 * 60);

pub fn job(retention_days: u32) -> Job {
    Job {
        name: "audit-retention",
        interval: INTERVAL,
        run: Arc::new(move |pool| {
            Box::pin(async move {
                let deleted = sqlx::query(
                    "DELETE FROM audit_log WHERE at < now() - make_interval(days => $1)",
                )
                .bind(retention_days as i32)
                .execute(&pool)
                .await?
                .rows_affected();
                Ok(json!({ "deleted": deleted, "retentionDays": retention_days }))
            })
        }),
    }
}
