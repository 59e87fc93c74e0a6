//! Step 2 of the pipeline: every Secret key the pods read must exist. Their resourceVersions
//! are hashed into the pod template so a rotated key rolls the pods; values are never copied.
//! The generated session Secret is created here when absent, because its version is part of
//! that hash.

use super::{MANAGER, Reconcile};
use crate::build::{self, SecretVersion};
use crate::error::{Error, Result};
use crate::validate::ValidatedWebEDT;
use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::api::PostParams;
use kube::runtime::events::EventType;
use kube::runtime::reflector::ObjectRef;
use std::collections::BTreeMap;
use std::sync::Arc;

/// What dereferencing found.
pub(super) struct Dereferenced {
    /// The versions of the Secrets that exist.
    pub versions: Vec<SecretVersion>,
    /// What is missing, one sentence each ("Secret db does not exist", "… has no key url").
    pub missing: Vec<String>,
    /// The operator generates the session Secret and it does not exist yet.
    pub session_secret_absent: bool,
}

impl Reconcile<'_> {
    /// Reads the Secrets of [`ValidatedWebEDT::secret_keys`], from the cache or else the API.
    pub(super) async fn dereference(&self, v: &ValidatedWebEDT) -> Result<Dereferenced> {
        let mut wanted: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for s in v.secret_keys() {
            wanted.entry(s.key.name).or_default().push(s.key.key);
        }
        let api = self.api::<Secret>();
        let mut found = Dereferenced {
            versions: Vec::new(),
            missing: Vec::new(),
            session_secret_absent: false,
        };
        for (name, keys) in wanted {
            let cached = self
                .ctx
                .caches
                .secrets
                .get(&ObjectRef::new(&name).within(&self.ns));
            let secret = match cached {
                Some(s) => Some(s),
                None => api
                    .get_opt(&name)
                    .await
                    .map_err(|source| Error::ReadFailed {
                        what: format!("Secret {}/{name}", self.ns),
                        source,
                    })?
                    .map(Arc::new),
            };
            match secret {
                None if v.session_secret_generated && name == v.session_secret.name => {
                    found.session_secret_absent = true
                }
                None => found.missing.push(format!("Secret {name} does not exist")),
                Some(s) => {
                    for key in keys {
                        let has = s.data.as_ref().is_some_and(|d| d.contains_key(&key))
                            || s.string_data.as_ref().is_some_and(|d| d.contains_key(&key));
                        if !has {
                            found
                                .missing
                                .push(format!("Secret {name} has no key {key}"));
                        }
                    }
                    found.versions.push(SecretVersion {
                        name: name.clone(),
                        version: s.resource_version().unwrap_or_default(),
                    });
                }
            }
        }
        Ok(found)
    }

    /// Creates the generated session Secret with a random value (create-only: see
    /// [`crate::build::ApplyPolicy::CreateOnly`]).
    pub(super) async fn create_session_secret(&self, v: &ValidatedWebEDT) -> Result<SecretVersion> {
        use rand::Rng;
        let bytes: [u8; 32] = rand::rng().random();
        let value: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let secret = build::session_secret::build(v, &value);
        let api = self.api::<Secret>();
        let what = format!("Secret {}/{}", self.ns, v.session_secret.name);
        let params = PostParams {
            field_manager: Some(MANAGER.into()),
            ..Default::default()
        };
        let created = match api.create(&params, &secret).await {
            Ok(s) => {
                self.event(
                    EventType::Normal,
                    "SessionSecretCreated",
                    "Create",
                    format!("generated {what}"),
                )
                .await;
                s
            }
            Err(kube::Error::Api(e)) if e.code == 409 => api
                .get(&v.session_secret.name)
                .await
                .map_err(|source| Error::ReadFailed {
                    what: what.clone(),
                    source,
                })?,
            Err(source) => return Err(Error::CreateFailed { what, source }),
        };
        Ok(SecretVersion {
            name: v.session_secret.name.clone(),
            version: created.resource_version().unwrap_or_default(),
        })
    }
}
