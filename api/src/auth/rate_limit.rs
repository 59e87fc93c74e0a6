//! Login and registration limits shared by every replica: attempts are rows in PostgreSQL,
//! counted over sliding windows (a per-process counter would multiply the limit by the replica
//! count).
//!
//! The login limit is designed so that it cannot be used to lock a user out (README, "Login
//! limits"): failures are counted per (account, client IP) and per client IP, and only those
//! pairs or IPs are refused. Failures of one account from everywhere only slow every attempt on
//! it down (1 s); the right password still logs in, from a fresh client at once.

use crate::db::ConnHandle;
use std::time::Duration;

use crate::error::{AppError, ErrorCode};
use crate::state::AppState;

pub const WINDOW_SECS: i64 = 15 * 60;
/// What every attempt on an account under attack waits before it is verified.
pub const SLOWDOWN: Duration = Duration::from_secs(1);

/// What the login check decided for an attempt it lets through.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Go,
    /// The account is under attack from many IPs: wait [`SLOWDOWN`] first.
    SlowDown,
}

/// Refuses the attempt (429 with the seconds until the window frees a place) when this
/// (account, IP) pair or this IP has used up its failures; says whether to slow down.
pub async fn check(
    state: &AppState,
    conn: &mut ConnHandle,
    email: &str,
    ip: &str,
) -> Result<Verdict, AppError> {
    let limits = &state.config.settings.limits;
    // For each key, the N-th newest failure in the window: while it is inside the window the key
    // is blocked, and the seconds until it leaves are the Retry-After.
    let (pair, by_ip, account): (Option<f64>, Option<f64>, i64) = sqlx::query_as(
        "SELECT
           (SELECT extract(epoch FROM failed_at + make_interval(secs => $3) - now())::float8
            FROM login_failures WHERE email = $1 AND ip = $2
              AND failed_at > now() - make_interval(secs => $3)
            ORDER BY failed_at DESC OFFSET $4 - 1 LIMIT 1),
           (SELECT extract(epoch FROM failed_at + make_interval(secs => $3) - now())::float8
            FROM login_failures WHERE ip = $2 AND failed_at > now() - make_interval(secs => $3)
            ORDER BY failed_at DESC OFFSET $5 - 1 LIMIT 1),
           (SELECT count(*) FROM (SELECT 1 FROM login_failures
             WHERE email = $1 AND failed_at > now() - make_interval(secs => $3) LIMIT $6) f)",
    )
    .bind(email)
    .bind(ip)
    .bind(WINDOW_SECS as f64)
    .bind(i64::from(limits.login_failures_per_account_ip))
    .bind(i64::from(limits.login_failures_per_ip))
    .bind(i64::from(limits.login_slowdown_after))
    .fetch_one(conn)
    .await?;
    let (limit, retry) = match (pair, by_ip) {
        (Some(p), _) => ("login_failures_per_account_ip", p),
        (None, Some(i)) => ("login_failures_per_ip", i),
        (None, None) => {
            return Ok(if account >= i64::from(limits.login_slowdown_after) {
                Verdict::SlowDown
            } else {
                Verdict::Go
            });
        }
    };
    crate::audit::limit_hit(state, None, Some(ip), limit);
    Err(AppError::RateLimited {
        retry_after_secs: retry.ceil().max(1.0) as u64,
    })
}

pub async fn record_failure(conn: &mut ConnHandle, email: &str, ip: &str) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO login_failures (email, ip) VALUES ($1, $2)")
        .bind(email)
        .bind(ip)
        .execute(conn)
        .await?;
    Ok(())
}

/// A successful login clears this (account, IP) pair's failures only: neither the account's
/// failures from other IPs (an attacker's) nor the IP's with other accounts.
pub async fn clear(conn: &mut ConnHandle, email: &str, ip: &str) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM login_failures WHERE email = $1 AND ip = $2")
        .bind(email)
        .bind(ip)
        .execute(conn)
        .await?;
    Ok(())
}

/// Counts a registration attempt from `ip` (already keyed: IPv6 by its /64), or refuses it with
/// 429 at `LIMIT_REGISTRATIONS_PER_IP_HOUR`, before the (deliberately slow) password hash. An
/// advisory lock per IP makes replicas count one after the other.
pub async fn register_attempt(
    state: &AppState,
    conn: &mut ConnHandle,
    ip: &str,
) -> Result<(), AppError> {
    let limit = state.config.settings.limits.registrations_per_ip_hour;
    let mut tx = conn.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('webedt-register:' || $1))")
        .bind(ip)
        .execute(&mut *tx)
        .await?;
    let oldest: Option<f64> = sqlx::query_scalar(
        "SELECT extract(epoch FROM registered_at + interval '1 hour' - now())::float8
         FROM registrations WHERE ip = $1 AND registered_at > now() - interval '1 hour'
         ORDER BY registered_at DESC OFFSET $2 - 1 LIMIT 1",
    )
    .bind(ip)
    .bind(i64::from(limit))
    .fetch_optional(&mut *tx)
    .await?
    .flatten();
    if let Some(retry) = oldest {
        drop(tx);
        crate::audit::limit_hit(state, None, Some(ip), "registrations_per_ip_hour");
        return Err(AppError::LimitReached {
            code: ErrorCode::RegistrationLimit,
            message: format!("at most {limit} accounts per hour from one address"),
            retry_after_secs: retry.ceil().max(1.0) as u64,
        });
    }
    sqlx::query("INSERT INTO registrations (ip) VALUES ($1)")
        .bind(ip)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}
