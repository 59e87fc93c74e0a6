//! The generated session Secret. Create-only: the controller creates it when absent and never
//! applies it again, because a new value would log every user out.

use super::{Role, object_meta};
use crate::validate::ValidatedWebEDT;
use k8s_openapi::api::core::v1::Secret;
use std::collections::BTreeMap;

/// Annotation telling humans why the operator never updates this Secret.
pub const CREATE_ONLY_ANNOTATION: &str = "webedt.dev/create-only";

/// `value` is random (controller) or a placeholder (`render`).
pub fn build(v: &ValidatedWebEDT, value: &str) -> Secret {
    let mut metadata = object_meta(v, Role::SessionSecret);
    metadata.annotations = Some(BTreeMap::from([(
        CREATE_ONLY_ANNOTATION.to_string(),
        "generated once by webedt-operator; delete it to rotate (logs every user out)".to_string(),
    )]));
    Secret {
        metadata,
        type_: Some("Opaque".into()),
        string_data: Some(BTreeMap::from([(
            v.session_secret.key.clone(),
            value.to_string(),
        )])),
        ..Default::default()
    }
}
