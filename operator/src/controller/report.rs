//! Step 6 of the pipeline: the status (computed by [`super::status`]) written when it changed,
//! and Events for condition transitions.

use super::status::{self, Observed, Outcome};
use super::{MANAGER, Reconcile, now};
use crate::crd::{ConditionType, WebEDTStatus};
use crate::error::{Error, Result};
use k8s_openapi::api::apps::v1::Deployment;
use kube::ResourceExt;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::runtime::events::EventType;
use std::hash::{Hash, Hasher};

/// The last status written for one `WebEDT`.
#[derive(Clone, PartialEq)]
pub(super) struct WrittenStatus {
    /// The resourceVersion of the object it was computed from.
    from_version: String,
    /// Hash of the status.
    hash: u64,
}

impl Reconcile<'_> {
    /// Status (and Event) for a spec that cannot be served.
    pub(super) async fn blocked(
        &self,
        generation: Option<i64>,
        e: &Error,
        deployment: Option<Deployment>,
    ) -> Result<()> {
        let observed = Observed {
            generation,
            deployment,
            outcome: Outcome::Blocked {
                reason: e.reason().into(),
                message: e.to_string(),
            },
            findings: vec![],
            selector: None,
            endpoint: None,
            worker: None,
        };
        let new = status::compute(&self.old_fresh(), &observed, &now());
        self.write_status(&new).await
    }

    /// The cached status with each condition replaced by the one this controller last wrote
    /// when that is fresher: a stale cache must not make a condition look newly flipped (its
    /// lastTransitionTime would move later than the real transition).
    pub(super) fn old_fresh(&self) -> WebEDTStatus {
        let written = self.memo(|m| m.conditions.clone());
        status::freshest(&self.old, &written)
    }

    /// Writes the status when it changed; publishes Events for condition transitions.
    pub(super) async fn write_status(&self, new: &WebEDTStatus) -> Result<()> {
        if *new == self.old {
            return Ok(());
        }
        // The same status was already written from this version of the object: the cache has
        // not caught up with that write yet (its watch event brings us back).
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        serde_json::to_vec(new)
            .unwrap_or_default()
            .hash(&mut hasher);
        let written = WrittenStatus {
            from_version: self.object.resource_version().unwrap_or_default(),
            hash: hasher.finish(),
        };
        if self.memo(|m| m.written.as_ref() == Some(&written)) {
            return Ok(());
        }
        let mut body = serde_json::to_value(new).map_err(|e| Error::SerializationFailed {
            what: "status".into(),
            message: e.to_string(),
        })?;
        // A merge patch keeps keys it does not mention: clear the ones that went away.
        if let (Some(b), Ok(serde_json::Value::Object(old))) =
            (body.as_object_mut(), serde_json::to_value(&self.old))
        {
            for k in old.keys() {
                b.entry(k.clone()).or_insert(serde_json::Value::Null);
            }
        }
        let api: Api<DynamicObject> = Api::namespaced_with(self.client(), &self.ns, &self.ctx.ar);
        let params = PatchParams {
            field_manager: Some(MANAGER.into()),
            ..Default::default()
        };
        api.patch_status(
            &self.name,
            &params,
            &Patch::Merge(serde_json::json!({ "status": body })),
        )
        .await
        .map_err(|source| Error::StatusUpdateFailed {
            what: format!("WebEDT {}/{}", self.ns, self.name),
            source,
        })?;
        self.memo(|m| {
            m.written = Some(written);
            m.conditions = new.conditions.clone();
        });
        self.transition_events(new).await;
        Ok(())
    }

    async fn transition_events(&self, new: &WebEDTStatus) {
        let old_condition = |t| status::get(&self.old, t);
        if let Some(degraded) = status::get(new, ConditionType::Degraded)
            && degraded.status == "True"
            && old_condition(ConditionType::Degraded)
                .is_none_or(|o| o.status != "True" || o.reason != degraded.reason)
        {
            self.event(
                EventType::Warning,
                &degraded.reason,
                "Reconcile",
                degraded.message.clone(),
            )
            .await;
        }
        if let Some(ready) = status::get(new, ConditionType::Ready)
            && ready.status == "True"
            && old_condition(ConditionType::Ready).is_none_or(|o| o.status != "True")
        {
            self.event(
                EventType::Normal,
                "Ready",
                "Reconcile",
                ready.message.clone(),
            )
            .await;
        }
        if let Some(progressing) = status::get(new, ConditionType::Progressing)
            && progressing.reason == "Paused"
            && old_condition(ConditionType::Progressing).is_none_or(|o| o.reason != "Paused")
        {
            self.event(
                EventType::Normal,
                "Paused",
                "Reconcile",
                progressing.message.clone(),
            )
            .await;
        }
    }
}
