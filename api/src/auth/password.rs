//! Password hashing with argon2id (OWASP parameters: 19 MiB, 2 passes). Each hash takes tens of
//! milliseconds of CPU and 19 MiB, so hashing runs on the blocking pool behind a semaphore sized
//! to the cores: a login flood queues instead of exhausting memory or starving the runtime.

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use std::sync::{Arc, OnceLock};
use tokio::sync::Semaphore;

use crate::error::AppError;

pub const MIN_LEN: usize = 8;
pub const MAX_LEN: usize = 256;

#[derive(Clone)]
pub struct Passwords {
    permits: Arc<Semaphore>,
}

impl Default for Passwords {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self {
            permits: Arc::new(Semaphore::new(cores)),
        }
    }
}

/// Checks length in characters before any hashing (a 1 MB "password" must not cost a hash).
pub fn validate(field: &str, password: &str) -> Result<(), AppError> {
    let len = password.chars().count();
    if !(MIN_LEN..=MAX_LEN).contains(&len) {
        return Err(AppError::validation(
            field,
            format!("must be {MIN_LEN} to {MAX_LEN} characters"),
        ));
    }
    Ok(())
}

impl Passwords {
    pub async fn hash(&self, password: String) -> Result<String, AppError> {
        let _permit = self.permits.acquire().await.map_err(AppError::internal)?;
        tokio::task::spawn_blocking(move || {
            Argon2::default()
                .hash_password(password.as_bytes())
                .map(|h| h.to_string())
                .map_err(|e| AppError::internal(anyhow::anyhow!("hash password: {e}")))
        })
        .await
        .map_err(AppError::internal)?
    }

    /// Verifies `password` against `stored`, or against a dummy hash when there is no account,
    /// so an unknown email costs as much time as a wrong password.
    pub async fn verify(&self, password: String, stored: Option<String>) -> Result<bool, AppError> {
        let _permit = self.permits.acquire().await.map_err(AppError::internal)?;
        tokio::task::spawn_blocking(move || {
            let known = stored.is_some();
            let phc = stored.unwrap_or_else(|| dummy_hash().to_owned());
            let ok = match PasswordHash::new(&phc) {
                Ok(parsed) => Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok(),
                Err(_) => false,
            };
            known && ok
        })
        .await
        .map_err(AppError::internal)
    }
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        Argon2::default()
            .hash_password(b"not-a-real-password-just-for-timing")
            .expect("hashing a constant cannot fail")
            .to_string()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_are_argon2id_and_verify() {
        let p = Passwords::default();
        let h = p.hash("correct horse".into()).await.unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(
            p.verify("correct horse".into(), Some(h.clone()))
                .await
                .unwrap()
        );
        assert!(!p.verify("wrong horse".into(), Some(h)).await.unwrap());
        assert!(!p.verify("correct horse".into(), None).await.unwrap());
    }

    #[test]
    fn length_is_checked_in_characters() {
        assert!(validate("password", "1234567").is_err());
        assert!(validate("password", "12345678").is_ok());
        assert!(validate("password", &"é".repeat(256)).is_ok());
        assert!(validate("password", &"x".repeat(257)).is_err());
    }
}
