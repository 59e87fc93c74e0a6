//! The watches: the `WebEDT` cache that drives the controller, one slim cache per child kind
//! (a manual edit of a child triggers a reconcile that reverts it) and the Secret watch, mapped
//! back to the `WebEDT`s that reference each Secret.
//!
//! The reconciler reads these caches before asking the API server. They keep no managedFields,
//! no Secret values (only their keys), no Job spec and no Deployment pod template.

use super::http::Health;
use super::{CONCURRENCY, Context, MANAGER, error_policy, key_of, parse_webedt, reconcile};
use crate::build::{Kind, labels};
use crate::controller::events::Recorder;
use crate::crd::WebEDT;
use crate::validate;
use futures::{FutureExt, StreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Secret, Service};
use k8s_openapi::api::networking::v1::{Ingress, NetworkPolicy};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::api::{Api, ApiResource, DynamicObject, ListParams, PartialObjectMeta};
use kube::runtime::controller::{Config as ControllerConfig, Controller};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use std::collections::{HashMap, HashSet};
use std::fmt::Debug;
use std::hash::{Hash, Hasher};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

/// Watch caches the reconciler reads instead of the API server; a miss falls back to a GET.
/// Each is also what triggers reconciles for its kind.
pub(super) struct Caches {
    /// Referenced and generated Secrets: name, resourceVersion, owners and key names only.
    pub secrets: Store<Secret>,
    pub jobs: Store<Job>,
    pub deployments: Store<Deployment>,
    pub services: Store<PartialObjectMeta<Service>>,
    pub pdbs: Store<PartialObjectMeta<PodDisruptionBudget>>,
    pub hpas: Store<PartialObjectMeta<HorizontalPodAutoscaler>>,
    pub ingresses: Store<PartialObjectMeta<Ingress>>,
    pub network_policies: Store<PartialObjectMeta<NetworkPolicy>>,
    /// None where the cluster does not serve ServiceMonitors (no Prometheus Operator CRD).
    pub service_monitors: Option<DynamicMetaStore>,
}

impl Caches {
    /// The cache of `kind`; None for a kind without one (the ServiceMonitor where its CRD was
    /// not installed when the operator started).
    pub fn of(&self, kind: Kind) -> Option<&dyn ChildCache> {
        match kind {
            Kind::Secret => Some(&self.secrets),
            Kind::Job => Some(&self.jobs),
            Kind::Deployment => Some(&self.deployments),
            Kind::Service => Some(&self.services),
            Kind::PodDisruptionBudget => Some(&self.pdbs),
            Kind::HorizontalPodAutoscaler => Some(&self.hpas),
            Kind::Ingress => Some(&self.ingresses),
            Kind::NetworkPolicy => Some(&self.network_policies),
            Kind::ServiceMonitor => self.service_monitors.as_ref().map(|c| c as _),
        }
    }
}

/// What the reconciler asks of a child kind's cache, whatever the cached type.
pub(super) trait ChildCache {
    /// Whether the cache has its first list (before that, a miss means nothing).
    fn has_synced(&self) -> bool;
    /// The cached object's [`MetaStamp`], if it is cached.
    fn stamp(&self, ns: &str, name: &str) -> Option<MetaStamp>;
    /// The owner references of the named object; None when it does not exist. One already
    /// being deleted counts as gone, so it is not deleted (and reported) again on every
    /// reconcile until the watch sees it leave.
    fn owners(&self, ns: &str, name: &str) -> Option<Vec<OwnerReference>>;
}

impl<K: Resource<DynamicType = ()> + Clone + 'static> ChildCache for Store<K> {
    fn has_synced(&self) -> bool {
        has_synced(self)
    }

    fn stamp(&self, ns: &str, name: &str) -> Option<MetaStamp> {
        self.get(&ObjectRef::new(name).within(ns))
            .map(|o| MetaStamp::of(o.meta()))
    }

    fn owners(&self, ns: &str, name: &str) -> Option<Vec<OwnerReference>> {
        self.get(&ObjectRef::new(name).within(ns))
            .filter(|o| o.meta().deletion_timestamp.is_none())
            .map(|o| o.owner_references().to_vec())
    }
}

/// The metadata cache of a kind known only at run time (the ServiceMonitor).
pub(super) struct DynamicMetaStore {
    store: Store<PartialObjectMeta<DynamicObject>>,
    ar: ApiResource,
}

impl ChildCache for DynamicMetaStore {
    fn has_synced(&self) -> bool {
        self.store
            .wait_until_ready()
            .now_or_never()
            .is_some_and(|r| r.is_ok())
    }

    fn stamp(&self, ns: &str, name: &str) -> Option<MetaStamp> {
        self.store
            .get(&ObjectRef::new_with(name, self.ar.clone()).within(ns))
            .map(|o| MetaStamp::of(o.meta()))
    }

    fn owners(&self, ns: &str, name: &str) -> Option<Vec<OwnerReference>> {
        self.store
            .get(&ObjectRef::new_with(name, self.ar.clone()).within(ns))
            .filter(|o| o.meta().deletion_timestamp.is_none())
            .map(|o| o.owner_references().to_vec())
    }
}

/// Whether the cluster serves the resource `api` names: a one-item metadata list answers 404
/// when its CRD is not installed. Checked once at start; installing the CRD later takes an
/// operator restart for the watch (applies work either way).
async fn served(api: &Api<DynamicObject>) -> bool {
    match api.list_metadata(&ListParams::default().limit(1)).await {
        Ok(_) => true,
        Err(kube::Error::Api(e)) if e.code == 404 => false,
        Err(error) => {
            // Forbidden or unreachable: run without the watch rather than not at all.
            tracing::warn!(%error, "cannot tell whether ServiceMonitors are served; not watching them");
            false
        }
    }
}

/// Whether a cache has its first list.
pub(super) fn has_synced<K: Resource<DynamicType = ()> + Clone + 'static>(
    store: &Store<K>,
) -> bool {
    store
        .wait_until_ready()
        .now_or_never()
        .is_some_and(|r| r.is_ok())
}

/// A child's metadata as far as "did anything but its status change?" needs it.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct MetaStamp {
    pub resource_version: String,
    pub generation: Option<i64>,
    /// Hash of labels, annotations and owner references.
    pub metadata_hash: u64,
}

impl MetaStamp {
    pub fn of(m: &ObjectMeta) -> Self {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        m.labels.hash(&mut h);
        m.annotations.hash(&mut h);
        serde_json::to_string(&m.owner_references)
            .unwrap_or_default()
            .hash(&mut h);
        Self {
            resource_version: m.resource_version.clone().unwrap_or_default(),
            generation: m.generation,
            metadata_hash: h.finish(),
        }
    }
}

/// A watch of `api` that keeps `store` current (after `strip`) and yields touched objects.
fn cached<K>(
    api: Api<K>,
    config: watcher::Config,
    strip: impl FnMut(&mut K) + Send + 'static,
) -> (
    Store<K>,
    impl futures::Stream<Item = std::result::Result<K, watcher::Error>> + Send + 'static,
)
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    let (store, writer) = reflector::store();
    let stream = watcher(api, config)
        .modify(strip)
        .reflect(writer)
        .touched_objects();
    (store, stream)
}

/// With kube 5, an `Api<PartialObjectMeta<K>>` (see `meta_api`) makes metadata-only list and
/// watch requests, so these watches never receive specs or statuses.
fn strip_meta<K>(o: &mut PartialObjectMeta<K>) {
    o.metadata.managed_fields = None;
}

fn api<K>(client: &Client, ns: &Option<String>) -> Api<K>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
{
    match ns {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

fn meta_api<K>(client: &Client, ns: &Option<String>) -> Api<PartialObjectMeta<K>>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
{
    match ns {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

/// The controller itself; runs until dropped.
pub async fn run_controller(
    client: Client,
    settings: crate::controller::Settings,
    health: Arc<Health>,
) {
    let ar = ApiResource::erase::<WebEDT>(&());
    let ns = settings.watch_namespace.clone();
    let webedts: Api<DynamicObject> = match &ns {
        Some(n) => Api::namespaced_with(client.clone(), n, &ar),
        None => Api::all_with(client.clone(), &ar),
    };
    let managed_by_us =
        watcher::Config::default().labels(&format!("{}={}", labels::MANAGED_BY, labels::MANAGER));
    // The WebEDT cache, without managedFields (never read).
    let writer = reflector::store::Writer::<DynamicObject>::new(ar.clone());
    let reader = writer.as_reader();
    let mapper_refs = Arc::new(SecretRefs::default());
    let index_refs = mapper_refs.clone();
    let trigger = watcher(webedts, watcher::Config::default())
        .modify(|o: &mut DynamicObject| o.metadata.managed_fields = None)
        .reflect(writer)
        // The Secret index follows the same events as the cache, right after it.
        .inspect(move |ev| {
            if let Ok(ev) = ev {
                index_refs.observe(ev);
            }
        })
        .applied_objects();
    let controller = Controller::for_stream_with(trigger, reader, ar.clone())
        .with_config(ControllerConfig::default().concurrency(CONCURRENCY));
    let store = controller.store();
    let mapper_ar = ar.clone();
    let recorder = Recorder::new(client.clone(), MANAGER, &settings.identity);
    // Secrets: the referenced ones (users' Secrets carry none of our labels) and the generated
    // session Secret; only their keys are kept.
    let (secrets, secret_stream) = cached(
        api::<Secret>(&client, &ns),
        watcher::Config::default(),
        |s: &mut Secret| {
            // Only the name, resourceVersion and key names are read. Annotations go too:
            // `kubectl apply` leaves the whole Secret, values included, in one of them.
            s.metadata.managed_fields = None;
            s.metadata.annotations = None;
            s.metadata.labels = None;
            s.string_data = None;
            for value in s.data.iter_mut().flat_map(|d| d.values_mut()) {
                value.0 = Vec::new();
            }
        },
    );
    let (jobs, job_stream) = cached(
        api::<Job>(&client, &ns),
        managed_by_us.clone(),
        |j: &mut Job| {
            j.metadata.managed_fields = None;
            j.spec = None;
        },
    );
    let (deployments, deployment_stream) = cached(
        api::<Deployment>(&client, &ns),
        managed_by_us.clone(),
        |d: &mut Deployment| {
            d.metadata.managed_fields = None;
            d.spec.template = Default::default();
        },
    );
    let (services, service_stream) = cached(
        meta_api::<Service>(&client, &ns),
        managed_by_us.clone(),
        strip_meta,
    );
    let (pdbs, pdb_stream) = cached(
        meta_api::<PodDisruptionBudget>(&client, &ns),
        managed_by_us.clone(),
        strip_meta,
    );
    let (hpas, hpa_stream) = cached(
        meta_api::<HorizontalPodAutoscaler>(&client, &ns),
        managed_by_us.clone(),
        strip_meta,
    );
    let (ingresses, ingress_stream) = cached(
        meta_api::<Ingress>(&client, &ns),
        managed_by_us.clone(),
        strip_meta,
    );
    let (network_policies, network_policy_stream) = cached(
        meta_api::<NetworkPolicy>(&client, &ns),
        managed_by_us.clone(),
        strip_meta,
    );
    let sm_ar = Kind::ServiceMonitor.api_resource();
    let sm_api: Api<DynamicObject> = match &ns {
        Some(n) => Api::namespaced_with(client.clone(), n, &sm_ar),
        None => Api::all_with(client.clone(), &sm_ar),
    };
    let (service_monitors, service_monitor_stream) = if served(&sm_api).await {
        let writer =
            reflector::store::Writer::<PartialObjectMeta<DynamicObject>>::new(sm_ar.clone());
        let store = writer.as_reader();
        let meta_api: Api<PartialObjectMeta<DynamicObject>> = match &ns {
            Some(n) => Api::namespaced_with(client.clone(), n, &sm_ar),
            None => Api::all_with(client.clone(), &sm_ar),
        };
        let stream = watcher(meta_api, managed_by_us.clone())
            .modify(strip_meta)
            .reflect(writer)
            .touched_objects();
        (
            Some(DynamicMetaStore {
                store,
                ar: sm_ar.clone(),
            }),
            Some(stream),
        )
    } else {
        tracing::info!("ServiceMonitors are not served here: they are not watched");
        (None, None)
    };
    let ctx = Arc::new(Context {
        client: client.clone(),
        settings: settings.clone(),
        recorder,
        metrics: health.metrics.clone(),
        store: store.clone(),
        ar: ar.clone(),
        caches: Caches {
            secrets,
            jobs,
            deployments,
            services,
            pdbs,
            hpas,
            ingresses,
            network_policies,
            service_monitors,
        },
        memos: Mutex::new(HashMap::new()),
    });
    if !settings.leader_election {
        let (ready_store, h) = (store.clone(), health.clone());
        tokio::spawn(async move {
            if ready_store.wait_until_ready().await.is_ok() {
                h.ready.store(true, Ordering::Release);
            }
        });
    }
    let controller = match service_monitor_stream {
        Some(stream) => controller.owns_stream_with(stream, sm_ar),
        None => controller,
    };
    controller
        .owns_stream(deployment_stream)
        .owns_stream(service_stream)
        .owns_stream(pdb_stream)
        .owns_stream(hpa_stream)
        .owns_stream(job_stream)
        .owns_stream(ingress_stream)
        .owns_stream(network_policy_stream)
        // Secrets are mapped through the WebEDT cache to the WebEDTs that reference them.
        .watches_stream(secret_stream, move |secret: Secret| {
            mapper_refs.referencing(&mapper_ar, &secret)
        })
        .run(reconcile, error_policy, ctx)
        .for_each(|r| async move {
            if let Err(e) = r {
                tracing::debug!(error = %e, "controller event");
            }
        })
        .await;
}

/// Which WebEDTs reference which Secrets, kept from the WebEDT watch events: per WebEDT
/// (`namespace/name`) the Secrets its spec references, computed once per (uid, generation) (the
/// spec alone decides them, and every spec change moves the generation), and the reverse map a
/// Secret event is looked up in. A Secret event costs the WebEDTs that reference it; scanning the
/// whole WebEDT cache per Secret event made n generated Secrets cost n² with n WebEDTs.
#[derive(Default)]
struct SecretRefs(Mutex<RefIndex>);

#[derive(Default)]
struct RefIndex {
    by_webedt: HashMap<String, ReferencedSecrets>,
    /// (namespace, Secret name) → names of the WebEDTs in that namespace that reference it.
    by_secret: HashMap<(String, String), HashSet<String>>,
    /// Keys seen since the watch (re)started its list; None outside a relist.
    relisted: Option<HashSet<String>>,
}

/// The Secrets one version of one WebEDT references.
#[derive(Default)]
struct ReferencedSecrets {
    uid: String,
    generation: Option<i64>,
    names: Vec<String>,
}

impl RefIndex {
    fn unlink(&mut self, key: &str) {
        let Some(old) = self.by_webedt.remove(key) else {
            return;
        };
        let (ns, name) = key.split_once('/').unwrap_or(("", key));
        for secret in old.names {
            let k = (ns.to_string(), secret);
            if let Some(set) = self.by_secret.get_mut(&k) {
                set.remove(name);
                if set.is_empty() {
                    self.by_secret.remove(&k);
                }
            }
        }
    }

    fn upsert(&mut self, o: &DynamicObject) {
        let key = key_of(o);
        let uid = o.uid().unwrap_or_default();
        let generation = o.metadata.generation;
        if let Some(r) = &mut self.relisted {
            r.insert(key.clone());
        }
        if self
            .by_webedt
            .get(&key)
            .is_some_and(|e| e.uid == uid && e.generation == generation && !uid.is_empty())
        {
            return;
        }
        self.unlink(&key);
        let ns = o.namespace().unwrap_or_default();
        let names = parse_webedt(o)
            .ok()
            .and_then(|cr| validate::validate(&cr, &ns).ok())
            .map(|v| v.referenced_secrets())
            .unwrap_or_default();
        for secret in &names {
            self.by_secret
                .entry((ns.clone(), secret.clone()))
                .or_default()
                .insert(o.name_any());
        }
        self.by_webedt.insert(
            key,
            ReferencedSecrets {
                uid,
                generation,
                names,
            },
        );
    }
}

impl SecretRefs {
    /// Follows one event of the WebEDT watch (a relist drops the WebEDTs it no longer lists).
    fn observe(&self, ev: &watcher::Event<DynamicObject>) {
        let mut index = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match ev {
            watcher::Event::Apply(o) | watcher::Event::InitApply(o) => index.upsert(o),
            watcher::Event::Delete(o) => index.unlink(&key_of(o)),
            watcher::Event::Init => index.relisted = Some(HashSet::new()),
            watcher::Event::InitDone => {
                if let Some(seen) = index.relisted.take() {
                    let gone: Vec<String> = index
                        .by_webedt
                        .keys()
                        .filter(|k| !seen.contains(*k))
                        .cloned()
                        .collect();
                    for k in gone {
                        index.unlink(&k);
                    }
                }
            }
        }
    }

    /// The WebEDTs whose pods read `secret` ([`crate::validate::ValidatedWebEDT::referenced_secrets`]).
    fn referencing(&self, ar: &ApiResource, secret: &Secret) -> Vec<ObjectRef<DynamicObject>> {
        let ns = secret.namespace().unwrap_or_default();
        let index = self.0.lock().unwrap_or_else(|e| e.into_inner());
        index
            .by_secret
            .get(&(ns.clone(), secret.name_any()))
            .into_iter()
            .flatten()
            .map(|name| ObjectRef::new_with(name, ar.clone()).within(&ns))
            .collect()
    }
}
