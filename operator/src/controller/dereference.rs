//! Step 2 of the pipeline: every Secret key the pods read must exist. Their resourceVersions
//! are hashed into the pod template so a rotated key rolls the pods; values are never copied.
//! The generated session and worker Secrets are created here when absent, because their
//! versions are part of that hash.

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
    /// spec.worker is on and the generated worker Secret does not exist yet.
    pub worker_secret_absent: bool,
    /// The operator generates the credentials Secret and it does not exist yet.
    pub credentials_secret_absent: bool,
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
            worker_secret_absent: false,
            credentials_secret_absent: false,
        };
        let worker_secret = v.worker.as_ref().map(|w| w.secret.name.as_str());
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
                None if worker_secret == Some(name.as_str()) => found.worker_secret_absent = true,
                None if v.credentials_keys_generated && name == v.credentials_keys.name => {
                    found.credentials_secret_absent = true
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
        let secret = build::session_secret::build(v, &random_hex());
        self.create_generated(secret, "SessionSecretCreated").await
    }

    /// Creates the generated credentials Secret with one random key.
    pub(super) async fn create_credentials_secret(
        &self,
        v: &ValidatedWebEDT,
    ) -> Result<Option<SecretVersion>> {
        let random: [u8; 32] = rand::Rng::random(&mut rand::rng());
        match build::credentials_secret::build(v, &build::credentials_secret::new_keys(&random)) {
            Some(secret) => Ok(Some(
                self.create_generated(secret, "CredentialsSecretCreated")
                    .await?,
            )),
            None => Ok(None),
        }
    }

    /// Creates the generated worker Secret (spec.worker) with a random value.
    pub(super) async fn create_worker_secret(
        &self,
        v: &ValidatedWebEDT,
    ) -> Result<Option<SecretVersion>> {
        match build::worker_secret::build(v, &random_hex()) {
            Some(secret) => Ok(Some(
                self.create_generated(secret, "WorkerSecretCreated").await?,
            )),
            None => Ok(None),
        }
    }

    /// Creates a generated Secret unless it exists (409: another reconcile was first, its
    /// value is kept).
    async fn create_generated(&self, secret: Secret, reason: &str) -> Result<SecretVersion> {
        let name = secret.name_any();
        let api = self.api::<Secret>();
        let what = format!("Secret {}/{name}", self.ns);
        let params = PostParams {
            field_manager: Some(MANAGER.into()),
            ..Default::default()
        };
        let created = match api.create(&params, &secret).await {
            Ok(s) => {
                self.event(
                    EventType::Normal,
                    reason,
                    "Create",
                    format!("generated {what}"),
                )
                .await;
                s
            }
            Err(kube::Error::Api(e)) if e.code == 409 => {
                api.get(&name).await.map_err(|source| Error::ReadFailed {
                    what: what.clone(),
                    source,
                })?
            }
            Err(source) => return Err(Error::CreateFailed { what, source }),
        };
        Ok(SecretVersion {
            name,
            version: created.resource_version().unwrap_or_default(),
        })
    }
}

/// 32 random bytes as hex.
fn random_hex() -> String {
    use rand::Rng;
    let bytes: [u8; 32] = rand::rng().random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
