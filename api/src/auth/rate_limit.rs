//! Brute-force limit shared by every replica: failed logins are rows in PostgreSQL, counted per
//! email and per client IP over a sliding window. (A per-process counter would let an attacker
//! multiply the limit by the replica count.)

use sqlx::PgConnection;

use crate::error::AppError;

pub const MAX_FAILURES: i64 = 10;
pub const WINDOW_SECS: i64 = 15 * 60;

/// Refuses the attempt when the email or the IP already has `MAX_FAILURES` failures in the window,
/// with the seconds until one of them ages out.
pub async fn check(conn: &mut PgConnection, email: &str, ip: &str) -> Result<(), AppError> {
    // The MAX_FAILURES-th newest failure per key: while it is inside the window the key is
    // blocked, and when it leaves the window the count drops below the limit.
    let retry: Option<f64> = sqlx::query_scalar(
        "SELECT max(retry) FROM (
            (SELECT extract(epoch FROM failed_at + make_interval(secs => $3) - now())::float8 AS retry
             FROM login_failures WHERE email = $1 AND failed_at > now() - make_interval(secs => $3)
             ORDER BY failed_at DESC OFFSET $4 - 1 LIMIT 1)
            UNION ALL
            (SELECT extract(epoch FROM failed_at + make_interval(secs => $3) - now())::float8
             FROM login_failures WHERE ip = $2 AND failed_at > now() - make_interval(secs => $3)
             ORDER BY failed_at DESC OFFSET $4 - 1 LIMIT 1)
         ) blocked",
    )
    .bind(email)
    .bind(ip)
    .bind(WINDOW_SECS as f64)
    .bind(MAX_FAILURES)
    .fetch_one(conn)
    .await?;
    match retry {
        Some(secs) => Err(AppError::RateLimited {
            retry_after_secs: secs.ceil().max(1.0) as u64,
        }),
        None => Ok(()),
    }
}

pub async fn record_failure(conn: &mut PgConnection, email: &str, ip: &str) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO login_failures (email, ip) VALUES ($1, $2)")
        .bind(email)
        .bind(ip)
        .execute(conn)
        .await?;
    Ok(())
}

/// A successful login clears the account's counter (not the IP's: one shared address should not
/// be unblocked by an attacker who owns one account behind it).
pub async fn clear_email(conn: &mut PgConnection, email: &str) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM login_failures WHERE email = $1")
        .bind(email)
        .execute(conn)
        .await?;
    Ok(())
}
