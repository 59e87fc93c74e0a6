//! Session tokens: 32 random bytes, base64url, handed to the client once. Only their HMAC
//! (keyed by `SESSION_SECRET`, shared by all replicas) is stored, so a database leak yields no
//! usable token and every replica can recompute the key of any token it is shown.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

use crate::config::SessionSecret;

pub struct Token(pub String);

pub fn generate() -> Token {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    Token(URL_SAFE_NO_PAD.encode(bytes))
}

/// The storage key of a token. Tokens of the wrong shape hash too (and then match nothing), so a
/// malformed token costs the same as a wrong one.
pub fn key(secret: &SessionSecret, token: &str) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose()).expect("HMAC takes any key");
    mac.update(token.as_bytes());
    mac.finalize().into_bytes().into()
}

/// Constant-time comparison of a stored key with a token's key (`key(secret, token)`, already
/// computed to look the row up), after the indexed lookup found the row: the lookup is by exact
/// key, this guards against any future change to how rows are found. Comparing the keys is what
/// `Mac::verify_slice` does after recomputing the same HMAC; taking the key computed once saves
/// the second HMAC on every authenticated request.
pub fn matches(token_key: &[u8; 32], stored: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    stored.len() == token_key.len() && bool::from(token_key.as_slice().ct_eq(stored))
}

/// A plausibly shaped token: 43 base64url characters. Anything else is rejected before any query.
pub fn well_formed(token: &str) -> bool {
    token.len() == 43
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_well_formed_and_keyed() {
        let secret = SessionSecret::new(b"k".repeat(32));
        let other = SessionSecret::new(b"j".repeat(32));
        let a = generate();
        let b = generate();
        assert_ne!(a.0, b.0);
        assert!(well_formed(&a.0), "{}", a.0);
        assert!(!well_formed("short"));
        assert!(!well_formed(&format!("{}=", &a.0[..42])));
        let k = key(&secret, &a.0);
        assert!(matches(&key(&secret, &a.0), &k));
        assert!(!matches(&key(&secret, &b.0), &k));
        assert!(!matches(&key(&secret, &a.0), &k[..31]), "a truncated key");
        assert_ne!(key(&other, &a.0), k, "the secret keys the hash");
    }
}
