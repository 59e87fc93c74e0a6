//! `webedt-api reencrypt`: moves every stored token to the first key of `CREDENTIALS_KEYS`, so
//! an old key can then be removed. Row by row, each update conditional on the row still holding
//! what was read (a concurrent delete or reconnect wins); safe to run while replicas serve.

use uuid::Uuid;

use super::{Keyring, Sealed};

/// What one pass did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Report {
    pub moved: u64,
    /// Rows whose key is no longer configured or whose ciphertext does not authenticate; left
    /// as they are (their owners reconnect).
    pub unreadable: u64,
}

pub async fn reencrypt(db: &crate::db::Db, keyring: &Keyring) -> anyhow::Result<Report> {
    let rows: Vec<(Uuid, Uuid, Vec<u8>, String)> =
        sqlx::query_as("SELECT id, user_id, secret, key_id FROM connections WHERE key_id <> $1")
            .bind(keyring.current_id())
            .fetch_all(db)
            .await?;
    let mut report = Report::default();
    for (id, user, data, key_id) in rows {
        let old = Sealed { key_id, data };
        let Ok(plain) = keyring.open(user, id, &old) else {
            tracing::warn!(connection = %id, key = %old.key_id, "cannot decrypt; left as is");
            report.unreadable += 1;
            continue;
        };
        let new = keyring.seal(user, id, &plain);
        let updated = sqlx::query(
            "UPDATE connections SET secret = $3, key_id = $4
             WHERE id = $1 AND user_id = $2 AND key_id = $5 AND secret = $6",
        )
        .bind(id)
        .bind(user)
        .bind(&new.data)
        .bind(&new.key_id)
        .bind(&old.key_id)
        .bind(&old.data)
        .execute(db)
        .await?
        .rows_affected();
        report.moved += updated;
    }
    Ok(report)
}
