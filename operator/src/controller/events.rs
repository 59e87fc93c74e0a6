//! Publishing Events (events.k8s.io/v1) like kube's `Recorder`: a repeat of an Event (same
//! type, action, reason and regarding object) within six minutes becomes a series on the first
//! one (its count and last observed time are patched) instead of a new Event.
//!
//! kube's `Recorder` remembers every Event it published, whole, for those six minutes; with
//! thousands of objects that cache was a good part of the operator's memory. This one keeps a
//! hash of the key and the Event's name, namespace, count and time.

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::events::v1::Event as K8sEvent;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::Client;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::events::{Event, EventType};
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Mutex;

/// How long a published Event is remembered for a series (kube's `Recorder` value).
const CACHE_TTL: SignedDuration = SignedDuration::from_mins(6);

struct Seen {
    namespace: String,
    name: String,
    count: i32,
    last: Timestamp,
}

pub struct Recorder {
    client: Client,
    controller: String,
    instance: String,
    cache: Mutex<Cache>,
}

/// The Events remembered for series, by key; expired ones are swept now and then rather than on
/// every publish (a sweep visits every entry, thousands with thousands of objects).
#[derive(Default)]
struct Cache {
    seen: HashMap<u64, Seen>,
    swept: Option<Timestamp>,
}

/// Least time between two sweeps of expired entries.
const SWEEP_EVERY: SignedDuration = SignedDuration::from_secs(10);

impl Recorder {
    pub fn new(client: Client, controller: &str, instance: &str) -> Self {
        Self {
            client,
            controller: controller.into(),
            instance: instance.into(),
            cache: Mutex::new(Cache::default()),
        }
    }

    fn key(ev: &Event, regarding: &ObjectReference) -> u64 {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        matches!(ev.type_, EventType::Warning).hash(&mut h);
        ev.action.hash(&mut h);
        ev.reason.hash(&mut h);
        serde_json::to_string(regarding)
            .unwrap_or_default()
            .hash(&mut h);
        h.finish()
    }

    pub async fn publish(&self, ev: &Event, regarding: &ObjectReference) -> kube::Result<()> {
        let now = Timestamp::now();
        let key = Self::key(ev, regarding);
        let repeat = {
            let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            if cache.swept.is_none_or(|t| t + SWEEP_EVERY <= now) {
                cache.seen.retain(|_, s| s.last + CACHE_TTL > now);
                cache.swept = Some(now);
            }
            cache
                .seen
                .get(&key)
                .filter(|s| s.last + CACHE_TTL > now)
                .map(|s| (s.namespace.clone(), s.name.clone(), s.count + 1))
        };
        let seen = match repeat {
            Some((namespace, name, count)) => {
                let series = serde_json::json!({"series": {
                    "count": count,
                    "lastObservedTime": MicroTime(now),
                }});
                Api::<K8sEvent>::namespaced(self.client.clone(), &namespace)
                    .patch(&name, &PatchParams::default(), &Patch::Merge(&series))
                    .await?;
                Seen {
                    namespace,
                    name,
                    count,
                    last: now,
                }
            }
            None => {
                let namespace = regarding
                    .namespace
                    .clone()
                    .unwrap_or_else(|| "default".into());
                let name = format!(
                    "{}.{:x}",
                    regarding.name.as_ref().unwrap_or(&self.controller),
                    now.as_nanosecond()
                );
                let event = K8sEvent {
                    action: Some(ev.action.clone()),
                    reason: Some(ev.reason.clone()),
                    event_time: Some(MicroTime(now)),
                    regarding: Some(regarding.clone()),
                    note: ev.note.clone(),
                    metadata: ObjectMeta {
                        namespace: regarding.namespace.clone(),
                        name: Some(name.clone()),
                        ..Default::default()
                    },
                    reporting_controller: Some(self.controller.clone()),
                    reporting_instance: Some(self.instance.clone()),
                    type_: Some(
                        match ev.type_ {
                            EventType::Normal => "Normal",
                            EventType::Warning => "Warning",
                        }
                        .into(),
                    ),
                    related: ev.secondary.clone(),
                    ..Default::default()
                };
                Api::<K8sEvent>::namespaced(self.client.clone(), &namespace)
                    .create(&PostParams::default(), &event)
                    .await?;
                Seen {
                    namespace,
                    name,
                    count: 1,
                    last: now,
                }
            }
        };
        self.cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .seen
            .insert(key, seen);
        Ok(())
    }
}
