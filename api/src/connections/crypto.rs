//! Encryption at rest for connection tokens: AES-256-GCM with a random 96-bit nonce per
//! ciphertext, bound to its (user id, connection id) as associated data so a ciphertext copied
//! onto another row does not decrypt. Every ciphertext records the id of the key that made it,
//! so keys rotate: the first key of `CREDENTIALS_KEYS` encrypts, every listed key decrypts.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use uuid::Uuid;
use webedt_contract::{ConfigError, names};

/// AES-256 takes exactly 32 bytes; longer keys are accepted and reduced with SHA-256 so that a
/// generated secret of any length ≥ 32 works.
pub const MIN_KEY_BYTES: usize = 32;
const NONCE_BYTES: usize = 12;
const MAX_KEY_ID: usize = 32;

/// The ordered keys. `Debug` shows only the ids.
#[derive(Clone)]
pub struct Keyring {
    keys: Vec<(String, Aes256Gcm)>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|(id, _)| id.as_str()).collect();
        f.debug_struct("Keyring").field("ids", &ids).finish()
    }
}

/// A sealed token as stored: the key id, and nonce ‖ ciphertext ‖ tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    pub key_id: String,
    pub data: Vec<u8>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OpenError {
    #[error("the key `{0}` is no longer configured")]
    UnknownKey(String),
    #[error("the ciphertext does not authenticate")]
    Corrupt,
}

impl Keyring {
    /// Parses `id:base64key,…`. Errors name `CREDENTIALS_KEYS` and never echo a key.
    pub fn parse(raw: &str) -> Result<Self, ConfigError> {
        let err = |rule: String| ConfigError::new(names::CREDENTIALS_KEYS, rule);
        let mut keys: Vec<(String, Aes256Gcm)> = Vec::new();
        for (i, entry) in raw.split(',').map(str::trim).enumerate() {
            let n = i + 1;
            let Some((id, key)) = entry.split_once(':') else {
                return Err(err(format!("entry {n} is not `id:base64key`")));
            };
            let id = id.trim();
            if id.is_empty()
                || id.len() > MAX_KEY_ID
                || !id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
            {
                return Err(err(format!(
                    "entry {n}: the id must be 1 to {MAX_KEY_ID} of [A-Za-z0-9._-]"
                )));
            }
            if keys.iter().any(|(k, _)| k == id) {
                return Err(err(format!("the key id `{id}` appears twice")));
            }
            let bytes = STANDARD
                .decode(key.trim())
                .map_err(|_| err(format!("the key `{id}` is not valid base64")))?;
            if bytes.len() < MIN_KEY_BYTES {
                return Err(err(format!(
                    "the key `{id}` must be at least {MIN_KEY_BYTES} bytes, got {}",
                    bytes.len()
                )));
            }
            keys.push((id.to_string(), cipher(&bytes)));
        }
        Ok(Self { keys })
    }

    /// The id of the key that encrypts.
    pub fn current_id(&self) -> &str {
        &self.keys[0].0
    }

    /// Encrypts `plain` with the first key, bound to `(user, connection)`.
    pub fn seal(&self, user: Uuid, connection: Uuid, plain: &[u8]) -> Sealed {
        let (id, cipher) = &self.keys[0];
        let mut nonce = [0u8; NONCE_BYTES];
        rand::Rng::fill(&mut rand::rng(), &mut nonce[..]);
        let aad = associated_data(user, connection);
        let ciphertext = cipher
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: plain,
                    aad: &aad,
                },
            )
            .expect("AES-GCM encryption of a bounded message cannot fail");
        let mut data = nonce.to_vec();
        data.extend_from_slice(&ciphertext);
        Sealed {
            key_id: id.clone(),
            data,
        }
    }

    /// Decrypts a stored token of `(user, connection)` with whichever key made it.
    pub fn open(
        &self,
        user: Uuid,
        connection: Uuid,
        sealed: &Sealed,
    ) -> Result<Vec<u8>, OpenError> {
        let (_, cipher) = self
            .keys
            .iter()
            .find(|(id, _)| *id == sealed.key_id)
            .ok_or_else(|| OpenError::UnknownKey(sealed.key_id.clone()))?;
        if sealed.data.len() < NONCE_BYTES {
            return Err(OpenError::Corrupt);
        }
        let (nonce, ciphertext) = sealed.data.split_at(NONCE_BYTES);
        let nonce: [u8; NONCE_BYTES] = nonce.try_into().expect("split at NONCE_BYTES");
        let aad = associated_data(user, connection);
        cipher
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: ciphertext,
                    aad: &aad,
                },
            )
            .map_err(|_| OpenError::Corrupt)
    }

    /// A fresh `id:base64key` entry (32 random bytes), for the local run.
    pub fn generate_entry(id: &str) -> String {
        let mut key = [0u8; MIN_KEY_BYTES];
        rand::Rng::fill(&mut rand::rng(), &mut key[..]);
        format!("{id}:{}", STANDARD.encode(key))
    }
}

fn cipher(key: &[u8]) -> Aes256Gcm {
    use sha2::Digest;
    let key: [u8; 32] = if key.len() == 32 {
        key.try_into().expect("32 bytes")
    } else {
        sha2::Sha256::digest(key).into()
    };
    Aes256Gcm::new(&key.into())
}

/// `user ‖ connection`, 32 bytes: fixed-length fields need no separator.
fn associated_data(user: Uuid, connection: Uuid) -> [u8; 32] {
    let mut aad = [0u8; 32];
    aad[..16].copy_from_slice(user.as_bytes());
    aad[16..].copy_from_slice(connection.as_bytes());
    aad
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> String {
        STANDARD.encode([byte; 32])
    }

    fn ring(entries: &[(&str, u8)]) -> Keyring {
        let raw: Vec<String> = entries
            .iter()
            .map(|(id, b)| format!("{id}:{}", key(*b)))
            .collect();
        Keyring::parse(&raw.join(",")).unwrap()
    }

    #[test]
    fn round_trip() {
        let ring = ring(&[("k1", 1)]);
        let (u, c) = (Uuid::new_v4(), Uuid::new_v4());
        let sealed = ring.seal(u, c, b"ghp_secret");
        assert_eq!(sealed.key_id, "k1");
        assert!(
            !sealed.data.windows(10).any(|w| w == b"ghp_secret"),
            "stored in clear"
        );
        assert_eq!(ring.open(u, c, &sealed).unwrap(), b"ghp_secret");
        // A random nonce: the same token twice gives different ciphertexts.
        assert_ne!(ring.seal(u, c, b"ghp_secret").data, sealed.data);
    }

    #[test]
    fn wrong_associated_data_fails() {
        let ring = ring(&[("k1", 1)]);
        let (u, c) = (Uuid::new_v4(), Uuid::new_v4());
        let sealed = ring.seal(u, c, b"token");
        assert_eq!(
            ring.open(Uuid::new_v4(), c, &sealed),
            Err(OpenError::Corrupt)
        );
        assert_eq!(
            ring.open(u, Uuid::new_v4(), &sealed),
            Err(OpenError::Corrupt)
        );
        let mut tampered = sealed.clone();
        *tampered.data.last_mut().unwrap() ^= 1;
        assert_eq!(ring.open(u, c, &tampered), Err(OpenError::Corrupt));
    }

    #[test]
    fn rotation_new_key_encrypts_old_key_decrypts() {
        let old = ring(&[("k1", 1)]);
        let (u, c) = (Uuid::new_v4(), Uuid::new_v4());
        let before = old.seal(u, c, b"token");
        let rotated = ring(&[("k2", 2), ("k1", 1)]);
        assert_eq!(rotated.current_id(), "k2");
        assert_eq!(rotated.open(u, c, &before).unwrap(), b"token");
        let after = rotated.seal(u, c, b"token");
        assert_eq!(after.key_id, "k2");
        // The old ring alone cannot read what the new key wrote.
        assert_eq!(
            old.open(u, c, &after),
            Err(OpenError::UnknownKey("k2".into()))
        );
        // Same id, different key material: does not authenticate.
        let impostor = ring(&[("k2", 9)]);
        assert_eq!(impostor.open(u, c, &after), Err(OpenError::Corrupt));
    }

    #[test]
    fn parse_errors_name_the_variable_and_hide_the_key() {
        let short = STANDARD.encode([7u8; 16]);
        for raw in [
            "nocolon".to_string(),
            format!("k1:{short}"),
            "k1:***".to_string(),
            format!("k1:{},k1:{}", key(1), key(2)),
            format!(":{}", key(1)),
        ] {
            let e = Keyring::parse(&raw).unwrap_err();
            assert_eq!(e.var, names::CREDENTIALS_KEYS, "{raw}");
            assert!(!e.to_string().contains(&short), "{e}");
            assert!(!e.to_string().contains(&key(1)), "{e}");
        }
        assert_eq!(
            Keyring::parse(&Keyring::generate_entry("local"))
                .unwrap()
                .current_id(),
            "local"
        );
        let debug = format!("{:?}", ring(&[("k1", 1)]));
        assert!(debug.contains("k1") && !debug.contains(&key(1)));
    }
}
