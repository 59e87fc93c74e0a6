//! The generated worker Secret: the bearer secret the API sends (AI_WORKER_SECRET) and the
//! workers check (WORKER_SECRET). Create-only like the session Secret; deleting it rotates it
//! (the operator creates a new one, and both sides roll because its version is in both pod
//! templates' Secret hash).

use super::session_secret::CREATE_ONLY_ANNOTATION;
use super::{Role, object_meta};
use crate::validate::ValidatedWebEDT;
use k8s_openapi::api::core::v1::Secret;
use std::collections::BTreeMap;

/// `value` is random (controller) or a placeholder (`render`). None without spec.worker.
pub fn build(v: &ValidatedWebEDT, value: &str) -> Option<Secret> {
    let w = v.worker.as_ref()?;
    let mut metadata = object_meta(v, Role::WorkerSecret);
    metadata.annotations = Some(BTreeMap::from([(
        CREATE_ONLY_ANNOTATION.to_string(),
        "generated once by webedt-operator; delete it to rotate (API and worker pods roll)"
            .to_string(),
    )]));
    Some(Secret {
        metadata,
        type_: Some("Opaque".into()),
        string_data: Some(BTreeMap::from([(w.secret.key.clone(), value.to_string())])),
        ..Default::default()
    })
}
