//! The audit log: security-relevant actions (logins, logouts, password changes, session
//! revocations, admin actions, limit hits) with who, what, when, from which IP and on which
//! replica, in PostgreSQL, for admins to read (`GET /api/admin/audit`) and kept for
//! `AUDIT_RETENTION_DAYS`.
//!
//! Floods stay cheap: a failed login or a limit hit is written at most once per (action, key,
//! minute) — a per-replica memo skips the INSERT entirely after the first, and a unique `dedup`
//! key makes it once across replicas.

pub mod retention;

use serde_json::Value;
use std::collections::HashMap;
use std::sync::Mutex;
use uuid::Uuid;

use crate::state::AppState;

/// One entry to write.
#[derive(Debug, Default, Clone)]
pub struct Entry {
    pub action: &'static str,
    pub actor: Option<Uuid>,
    pub subject: Option<Uuid>,
    pub email: Option<String>,
    pub ip: Option<String>,
    pub detail: Value,
}

/// Per-replica memo of the (action, key) pairs written this minute.
#[derive(Default)]
pub struct Memo(Mutex<(i64, HashMap<String, ()>)>);

impl Memo {
    /// True the first time `key` is seen in `minute` on this replica.
    fn first(&self, key: &str, minute: i64) -> bool {
        let mut guard = self.0.lock().expect("audit memo");
        if guard.0 != minute {
            *guard = (minute, HashMap::new());
        }
        guard.1.insert(key.to_owned(), ()).is_none()
    }
}

fn minute_now() -> i64 {
    chrono::Utc::now().timestamp() / 60
}

/// Writes `entry` now (in the caller's request). Errors are logged, never returned: the action
/// itself already happened.
pub async fn record(state: &AppState, entry: Entry) {
    insert(state, entry, None).await;
}

/// Writes `entry` unless this (action, `key`) was already written this minute.
pub fn record_once_per_minute(state: &AppState, entry: Entry, key: &str) {
    let minute = minute_now();
    let dedup = format!("{}:{key}:{minute}", entry.action);
    if !state.audit_memo.first(&dedup, minute) {
        return;
    }
    let state = state.clone();
    tokio::spawn(async move { insert(&state, entry, Some(dedup)).await });
}

/// A limit refused a request: recorded once per (limit, key, minute).
pub fn limit_hit(state: &AppState, user: Option<Uuid>, ip: Option<&str>, limit: &'static str) {
    let key = match (user, ip) {
        (Some(u), _) => u.to_string(),
        (None, Some(ip)) => ip.to_owned(),
        (None, None) => "-".to_owned(),
    };
    record_once_per_minute(
        state,
        Entry {
            action: "limit_hit",
            actor: user,
            ip: ip.map(str::to_owned),
            detail: serde_json::json!({ "limit": limit }),
            ..Entry::default()
        },
        &format!("{limit}:{key}"),
    );
}

async fn insert(state: &AppState, entry: Entry, dedup: Option<String>) {
    // Emails are bounded before anything is written (validation), but a failed login's raw
    // email is stored cut, whatever it was.
    let email: Option<String> = entry.email.map(|e| e.chars().take(254).collect());
    let detail = if entry.detail.is_null() {
        serde_json::json!({})
    } else {
        entry.detail
    };
    let result = sqlx::query(
        "INSERT INTO audit_log (action, actor_id, subject_id, email, ip, replica, detail, dedup)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (dedup) DO NOTHING",
    )
    .bind(entry.action)
    .bind(entry.actor)
    .bind(entry.subject)
    .bind(email)
    .bind(entry.ip)
    .bind(state.config.container_id())
    .bind(&detail)
    .bind(dedup)
    .execute(state.db.pool())
    .await;
    if let Err(e) = result {
        tracing::warn!(action = entry.action, error = %e, "could not write an audit entry");
    }
}
