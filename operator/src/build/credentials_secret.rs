//! The generated credentials Secret: `CREDENTIALS_KEYS`, the keys that encrypt users' connection
//! tokens at rest. Create-only like the session Secret: a new key list would make every stored
//! token unreadable. Rotation is a human step (a new entry first, then `webedt-api reencrypt`).

use super::session_secret::CREATE_ONLY_ANNOTATION;
use super::{Role, object_meta};
use crate::validate::ValidatedWebEDT;
use k8s_openapi::api::core::v1::Secret;
use std::collections::BTreeMap;

/// The key list of a new Secret: one key named `k1` (the API's format: `id:base64key`, the key
/// 32 random bytes, standard base64).
pub fn new_keys(random: &[u8; 32]) -> String {
    use base64::Engine;
    format!(
        "k1:{}",
        base64::engine::general_purpose::STANDARD.encode(random)
    )
}

/// `value` is a fresh [`new_keys`] (controller) or a placeholder (`render`). None when
/// spec.credentials.secretRef names a Secret of the team's.
pub fn build(v: &ValidatedWebEDT, value: &str) -> Option<Secret> {
    if !v.credentials_keys_generated {
        return None;
    }
    let mut metadata = object_meta(v, Role::CredentialsSecret);
    metadata.annotations = Some(BTreeMap::from([(
        CREATE_ONLY_ANNOTATION.to_string(),
        "generated once by webedt-operator; never changed (stored tokens need these keys): \
         to rotate, put a new entry first and run `webedt-api reencrypt`"
            .to_string(),
    )]));
    Some(Secret {
        metadata,
        type_: Some("Opaque".into()),
        string_data: Some(BTreeMap::from([(
            v.credentials_keys.key.clone(),
            value.to_string(),
        )])),
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_key_list_is_one_entry_of_32_bytes() {
        use base64::Engine;
        let keys = new_keys(&[7; 32]);
        let (id, key) = keys.split_once(':').unwrap();
        assert_eq!(id, "k1");
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(key)
            .unwrap();
        assert_eq!(bytes, [7; 32]);
    }
}
