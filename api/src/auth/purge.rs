//! Housekeeping run by one replica at a time: expired sessions and aged-out login failures.

use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

use crate::jobs::Job;

pub const INTERVAL: Duration = Duration::from_secs(10 * 60);

pub fn job() -> Job {
    Job {
        name: "auth-purge",
        interval: INTERVAL,
        run: Arc::new(|pool| {
            Box::pin(async move {
                let sessions = sqlx::query("DELETE FROM auth_sessions WHERE expires_at <= now()")
                    .execute(&pool)
                    .await?
                    .rows_affected();
                let failures = sqlx::query(
                    "DELETE FROM login_failures WHERE failed_at <= now() - make_interval(secs => $1)",
                )
                .bind(super::rate_limit::WINDOW_SECS as f64)
                .execute(&pool)
                .await?
                .rows_affected();
                // The windows of the per-IP registration and per-user run-rate limits.
                sqlx::query(
                    "WITH r AS (DELETE FROM registrations WHERE registered_at <= now() - interval '1 hour'),
                          s AS (DELETE FROM run_starts WHERE started_at <= now() - interval '1 minute')
                     SELECT 1",
                )
                .execute(&pool)
                .await?;
                Ok(json!({ "expiredSessions": sessions, "loginFailures": failures }))
            })
        }),
    }
}
