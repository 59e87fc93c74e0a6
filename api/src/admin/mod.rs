//! Administration, enforced by the server: only a user whose row says `is_admin` (read with the
//! session on every request, so a revocation applies at once) reaches these routes. Admin rights
//! are granted by a command an operator runs (`webedt-api admin grant EMAIL`), never by
//! registering a particular address.

mod routes;

use crate::db::Db;

pub use routes::router;

/// Grants (`admin = true`) or revokes admin rights of the account with `email`. `false` when no
/// such account exists.
pub async fn set_admin(db: &Db, email: &str, admin: bool) -> sqlx::Result<bool> {
    let email = email.trim().to_lowercase();
    let mut tx = db.begin().await?;
    let id: Option<uuid::Uuid> =
        sqlx::query_scalar("UPDATE users SET is_admin = $2 WHERE email = $1 RETURNING id")
            .bind(&email)
            .bind(admin)
            .fetch_optional(&mut *tx)
            .await?;
    if let Some(id) = id {
        sqlx::query(
            "INSERT INTO audit_log (action, subject_id, email, replica, detail)
             VALUES ($1, $2, $3, 'command', '{}')",
        )
        .bind(if admin {
            "admin_granted"
        } else {
            "admin_revoked"
        })
        .bind(id)
        .bind(&email)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(id.is_some())
}
