//! Step 4 and 5 of the pipeline: write the desired objects and delete what is no longer
//! wanted, each as its role's [`ApplyPolicy`] says.
//!
//! - Memoised server-side apply: an apply that would send the same body to a child the cache
//!   shows unchanged since the last apply is skipped, so a reconcile with nothing to do makes
//!   no requests.
//! - The migration gate: the image's Job is created once; the Deployment waits for it.
//! - The replicas hand-over when autoscaling is turned on.
//! - Deletion of the objects of roles the spec switched off (once per generation for kinds
//!   without a cache).

use super::watches::{MetaStamp, has_synced};
use super::{HANDOVER_MANAGER, MANAGER, Reconcile};
use crate::build::{ApplyPolicy, Desired, Kind, Role};
use crate::error::{Error, Result};
use crate::validate::ValidatedWebEDT;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams, PostParams};
use kube::runtime::events::EventType;
use kube::runtime::reflector::ObjectRef;
use kube::{Resource, ResourceExt};
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// A child of one `WebEDT`: two roles may share a kind, never a (kind, name).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) struct Child {
    pub kind: Kind,
    pub name: String,
}

/// The last apply of a child: hash of the body sent, the child's metadata in the answer.
#[derive(Clone, PartialEq)]
pub(super) struct Applied {
    body: u64,
    stamp: MetaStamp,
}

impl Applied {
    /// Whether the cached child is still what this apply left: the same resourceVersion, or
    /// (for kinds that count spec changes in `generation`) the same generation and metadata,
    /// so only its status moved.
    fn unchanged(&self, cached: &MetaStamp) -> bool {
        self.stamp.resource_version == cached.resource_version
            || (self.stamp.generation.is_some_and(|g| g > 0)
                && self.stamp.generation == cached.generation
                && self.stamp.metadata_hash == cached.metadata_hash)
    }
}

/// Whether the Deployment may be applied with the current spec.
pub(super) enum Gate {
    Open,
    Wait(String),
    Failed(String),
}

impl Reconcile<'_> {
    /// Creates the image's migration Job when absent and tells whether the Deployment may move.
    pub(super) async fn migration(&self, job: &Job) -> Result<Gate> {
        let api = self.api::<Job>();
        let name = job.name_any();
        let what = format!("Job {}/{name}", self.ns);
        let cached = self
            .ctx
            .caches
            .jobs
            .get(&ObjectRef::new(&name).within(&self.ns));
        let read = match cached {
            Some(j) => Some(j),
            None => api
                .get_opt(&name)
                .await
                .map_err(|source| Error::ReadFailed {
                    what: what.clone(),
                    source,
                })?
                .map(Arc::new),
        };
        let current = match read {
            Some(j) => j,
            None => {
                let params = PostParams {
                    field_manager: Some(MANAGER.into()),
                    ..Default::default()
                };
                match api.create(&params, job).await {
                    Ok(j) => {
                        self.event(
                            EventType::Normal,
                            "MigrationStarted",
                            "Create",
                            format!("created {what} for the new image"),
                        )
                        .await;
                        Arc::new(j)
                    }
                    Err(kube::Error::Api(e)) if e.code == 409 => return Ok(Gate::Wait(name)),
                    Err(source) => return Err(Error::CreateFailed { what, source }),
                }
            }
        };
        let status = current.status.clone().unwrap_or_default();
        let condition = |type_: &str| {
            status
                .conditions
                .iter()
                .flatten()
                .any(|c| c.type_ == type_ && c.status == "True")
        };
        if condition("Complete") || status.succeeded.unwrap_or(0) > 0 {
            Ok(Gate::Open)
        } else if condition("Failed") {
            Ok(Gate::Failed(name))
        } else {
            Ok(Gate::Wait(name))
        }
    }

    /// With real server-side apply, a field its only manager stops sending is removed: the
    /// Deployment would drop to 1 replica when autoscaling is turned on. So while the operator
    /// still owns `spec.replicas`, a second manager first applies the current value; the
    /// operator's apply without the field then leaves it to that manager and the HPA.
    pub(super) async fn hand_over_replicas(&self, name: &str) -> Result<()> {
        let api = self.api::<Deployment>();
        let what = format!("Deployment {}/{name}", self.ns);
        let Some(deployment) = api
            .get_opt(name)
            .await
            .map_err(|source| Error::ReadFailed {
                what: what.clone(),
                source,
            })?
        else {
            return Ok(());
        };
        let owns = deployment
            .metadata
            .managed_fields
            .iter()
            .flatten()
            .any(|m| {
                m.manager.as_deref() == Some(MANAGER)
                    && m.operation.as_deref() == Some("Apply")
                    && m.fields_v1
                        .as_ref()
                        .and_then(|f| f.0.get("f:spec"))
                        .and_then(|s| s.get("f:replicas"))
                        .is_some()
            });
        if !owns {
            return Ok(());
        }
        let replicas = deployment.spec.replicas.unwrap_or(1);
        let patch = serde_json::json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": self.ns},
            "spec": {"replicas": replicas},
        });
        api.patch(
            name,
            &PatchParams::apply(HANDOVER_MANAGER).force(),
            &Patch::Apply(&patch),
        )
        .await
        .map_err(|source| Error::ApplyFailed {
            what: what.clone(),
            source,
        })?;
        self.event(
            EventType::Normal,
            "ReplicasHandedOver",
            "Apply",
            format!("autoscaling on: {what} keeps {replicas} replicas until the HorizontalPodAutoscaler changes them"),
        )
        .await;
        Ok(())
    }

    /// The Deployment, from the cache or else the API.
    pub(super) async fn deployment(&self, name: &str) -> Result<Option<Deployment>> {
        let key = ObjectRef::new(name).within(&self.ns);
        if let Some(d) = self.ctx.caches.deployments.get(&key) {
            return Ok(Some((*d).clone()));
        }
        if has_synced(&self.ctx.caches.deployments) {
            // Not created yet (or just now: its watch event brings us back).
            return Ok(None);
        }
        self.api::<Deployment>()
            .get_opt(name)
            .await
            .map_err(|source| Error::ReadFailed {
                what: format!("Deployment {}/{name}", self.ns),
                source,
            })
    }

    /// Server-side apply of `obj`. Skipped (None) when the last apply of the same body left
    /// the child as its kind's cache still shows it: the apply would change nothing.
    pub(super) async fn apply(&self, obj: &Desired) -> Result<Option<DynamicObject>> {
        let kind = obj.role().kind();
        let child = Child {
            kind,
            name: obj.name().to_string(),
        };
        let what = format!("{kind} {}/{}", self.ns, child.name);
        let json = obj.to_json()?;
        let body = serde_json::to_vec(&json).map_err(|e| Error::SerializationFailed {
            what: what.clone(),
            message: e.to_string(),
        })?;
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        body.hash(&mut hasher);
        let body = hasher.finish();
        let cached = self
            .ctx
            .caches
            .of(kind)
            .and_then(|c| c.stamp(&self.ns, &child.name));
        if let Some(cached) = cached {
            let unchanged = self.memo(|m| {
                m.applied
                    .get(&child)
                    .is_some_and(|last| last.body == body && last.unchanged(&cached))
            });
            if unchanged {
                return Ok(None);
            }
        }
        let api: Api<DynamicObject> =
            Api::namespaced_with(self.client(), &self.ns, &kind.api_resource());
        let out = api
            .patch(
                &child.name,
                &PatchParams::apply(MANAGER).force(),
                &Patch::Apply(&json),
            )
            .await
            .map_err(|source| Error::ApplyFailed { what, source })?;
        let stamp = MetaStamp::of(out.meta());
        self.memo(|m| m.applied.insert(child, Applied { body, stamp }));
        Ok(Some(out))
    }

    /// Deletes the objects of `absent` roles that this `WebEDT` controls. Roles with a cached
    /// kind are asked on every reconcile (no request unless there is something to delete);
    /// the others are read once per generation.
    pub(super) async fn delete_absent(
        &self,
        v: &ValidatedWebEDT,
        absent: &[Role],
        generation: Option<i64>,
    ) -> Result<()> {
        let generation = generation.unwrap_or(0);
        let cleaned = self.memo(|m| m.cleaned == Some(generation));
        let uid = self.object.uid().unwrap_or_default();
        let controlled_by_us = |refs: &[OwnerReference]| {
            refs.iter()
                .any(|r| r.uid == uid && r.controller == Some(true))
        };
        for role in absent {
            match role.policy() {
                ApplyPolicy::Apply => {}
                // Never deleted by the operator (see the policy).
                ApplyPolicy::CreateOnly => continue,
            }
            let kind = role.kind();
            let name = role.name(v);
            let cache = self.ctx.caches.of(kind).filter(|c| c.has_synced());
            let cached = cache.map(|c| c.owners(&self.ns, &name));
            if cached.is_none() && cleaned {
                continue;
            }
            if let Some(refs) = &cached
                && !refs.as_deref().is_some_and(controlled_by_us)
            {
                continue;
            }
            let api: Api<DynamicObject> =
                Api::namespaced_with(self.client(), &self.ns, &kind.api_resource());
            let what = format!("{kind} {}/{name}", self.ns);
            if cached.is_none() {
                let existing = match api.get_opt(&name).await {
                    Ok(o) => o,
                    // No such resource in this cluster (e.g. no ServiceMonitor CRD): nothing
                    // to do.
                    Err(kube::Error::Api(e)) if e.code == 404 => None,
                    Err(source) => return Err(Error::ReadFailed { what, source }),
                };
                if !existing.is_some_and(|o| controlled_by_us(o.owner_references())) {
                    continue;
                }
            }
            match api.delete(&name, &DeleteParams::background()).await {
                Ok(_) => {
                    self.event(
                        EventType::Normal,
                        "Deleted",
                        "Delete",
                        format!("deleted {what}: no longer in the spec"),
                    )
                    .await
                }
                Err(kube::Error::Api(e)) if e.code == 404 => {}
                Err(source) => return Err(Error::DeleteFailed { what, source }),
            }
        }
        self.memo(|m| m.cleaned = Some(generation));
        Ok(())
    }
}
