//! The controller (`webedt-operator run`).
//!
//! Each reconcile is one fixed pipeline:
//! 1. *validate* the `WebEDT` (part 1; pure) — it names the Secrets to read;
//! 2. *dereference*: every referenced Secret must exist and hold its key; their
//!    resourceVersions are hashed into the pod template (values are never copied);
//! 3. *build* the desired objects (part 1; pure);
//! 4. *apply* with server-side apply, field manager [`MANAGER`], forced: Secrets first (the
//!    generated session Secret is created once, never re-applied), then the migration Job
//!    (created once per image; the Deployment waits for it to succeed), then the rest;
//! 5. *delete* owned objects no longer wanted (an HPA after autoscaling is turned off);
//! 6. *status*: counts from the Deployment and conditions, written only when they change.
//!
//! The controller watches `WebEDT`s, the objects it owns (a manual edit triggers a reconcile
//! that reverts it) and Secrets (mapped back to the `WebEDT`s that reference them). The watches
//! keep slim caches (metadata, Secret keys without values, Job and Deployment status) that the
//! reconciler reads before asking the API server, and an apply that would send the same body
//! to a child the cache shows unchanged since the last apply is skipped, so a reconcile with
//! nothing to do makes no requests. At most `CONCURRENCY` reconciles run at once. Errors
//! requeue with per-object exponential backoff and are published as Events whose reason is the
//! error variant's name. A `WebEDT` that cannot be deserialised is reported on its status and
//! as an Event; the others keep being reconciled.

pub mod events;
pub mod http;
pub mod status;

use crate::build::{
    self, Desired, Inputs, ObjectKind, SecretVersion, labels, migration_job, secret_hash, service,
};
use crate::crd::{ConditionType, WebEDT, WebEDTStatus};
use crate::error::{Error, Result};
use crate::validate::{self, Finding, ValidatedWebEDT};
use events::Recorder;
use futures::FutureExt;
use futures::StreamExt;
use http::{Health, Metrics};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ObjectReference, Secret, Service};
use k8s_openapi::api::networking::v1::{Ingress, NetworkPolicy};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use k8s_openapi::jiff::Timestamp;
use kube::api::PartialObjectMeta;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams,
};
use kube::runtime::controller::{Action, Config as ControllerConfig, Controller};
use kube::runtime::events::{Event, EventType};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use status::{Observed, Outcome};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Debug;
use std::future::Future;
use std::hash::{Hash, Hasher};
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Reconciles running at once. Unbounded, a burst of new objects opens as many API
/// connections and in-flight reconciles as there are objects; the API server answers them one
/// by one anyway. Pending reconciles wait in the scheduler, deduplicated per object.
const CONCURRENCY: u16 = 16;

/// Field manager of every write.
pub const MANAGER: &str = "webedt-operator";
/// Field manager that takes over `spec.replicas` of the Deployment when autoscaling is turned
/// on, so the value survives the operator's next apply without it (see [`hand_over_replicas`]).
pub const HANDOVER_MANAGER: &str = "webedt-operator-hpa-handover";

/// How the controller runs.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Only this namespace (None: all namespaces).
    pub watch_namespace: Option<String>,
    pub leader_election: bool,
    pub lease_name: String,
    pub lease_namespace: String,
    /// Seconds a leader's lease is valid after its last renewal.
    pub lease_duration: u64,
    /// Seconds before expiry at which the leader renews.
    pub lease_grace: u64,
    /// This replica's identity (lease holder, Event reporting instance).
    pub identity: String,
    /// Address of `/healthz`, `/readyz`, `/metrics` (None: no HTTP server).
    pub http_addr: Option<SocketAddr>,
    /// Periodic re-reconcile of every object.
    pub resync: Duration,
    /// First retry delay after an error; doubles per consecutive error up to `backoff_max`.
    pub backoff_base: Duration,
    pub backoff_max: Duration,
}

impl Settings {
    pub fn new(identity: impl Into<String>) -> Self {
        Self {
            watch_namespace: None,
            leader_election: true,
            lease_name: "webedt-operator".into(),
            lease_namespace: "default".into(),
            lease_duration: 15,
            lease_grace: 5,
            identity: identity.into(),
            http_addr: None,
            resync: Duration::from_secs(300),
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(300),
        }
    }
}

/// Shared by every reconcile.
pub struct Context {
    client: Client,
    settings: Settings,
    recorder: Recorder,
    metrics: Arc<Metrics>,
    store: Store<DynamicObject>,
    ar: ApiResource,
    /// Consecutive failures per object, for the backoff.
    failures: Mutex<HashMap<String, u32>>,
    /// Per object, the generation whose no-longer-wanted objects were deleted.
    cleaned: Mutex<HashMap<String, i64>>,
    caches: Caches,
    /// Per object, what the last apply of each child sent and got back.
    applied: Mutex<HashMap<String, HashMap<String, Applied>>>,
    /// Per object, the last status written: (resourceVersion of the object it was computed
    /// from, hash of the status).
    written: Mutex<HashMap<String, (String, u64)>>,
}

/// Watch caches the reconciler reads instead of the API server; a miss falls back to a GET.
/// Each is also what triggers reconciles for its kind. They keep no managedFields, no Secret
/// values (only their keys), no Job spec and no Deployment pod template.
struct Caches {
    secrets: Store<Secret>,
    jobs: Store<Job>,
    deployments: Store<Deployment>,
    services: Store<PartialObjectMeta<Service>>,
    pdbs: Store<PartialObjectMeta<PodDisruptionBudget>>,
    hpas: Store<PartialObjectMeta<HorizontalPodAutoscaler>>,
    ingresses: Store<PartialObjectMeta<Ingress>>,
    network_policies: Store<PartialObjectMeta<NetworkPolicy>>,
}

/// A child as cached: (resourceVersion, generation, hash of labels, annotations and owners).
type CachedMeta = (String, Option<i64>, u64);

impl Caches {
    fn meta<K: Resource<DynamicType = ()> + Clone + 'static>(
        store: &Store<K>,
        ns: &str,
        name: &str,
    ) -> Option<CachedMeta> {
        store
            .get(&ObjectRef::new(name).within(ns))
            .map(|o| cached_meta(o.meta()))
    }

    /// The cached metadata of a child of `kind`, if it is cached.
    fn child(&self, kind: &str, ns: &str, name: &str) -> Option<CachedMeta> {
        match kind {
            "Deployment" => Self::meta(&self.deployments, ns, name),
            "Service" => Self::meta(&self.services, ns, name),
            "PodDisruptionBudget" => Self::meta(&self.pdbs, ns, name),
            "HorizontalPodAutoscaler" => Self::meta(&self.hpas, ns, name),
            "Ingress" => Self::meta(&self.ingresses, ns, name),
            "NetworkPolicy" => Self::meta(&self.network_policies, ns, name),
            _ => None,
        }
    }

    /// For a kind with a cache that has listed: the owner references of the named object
    /// (None: it does not exist). Outer None: no cache to ask.
    fn owners(
        &self,
        kind: &ObjectKind,
        ns: &str,
        name: &str,
    ) -> Option<Option<Vec<OwnerReference>>> {
        fn get<K: Resource<DynamicType = ()> + Clone + 'static>(
            store: &Store<K>,
            ns: &str,
            name: &str,
        ) -> Option<Option<Vec<OwnerReference>>> {
            // One already being deleted counts as gone, so it is not deleted (and reported)
            // again on every reconcile until the watch sees it leave.
            listed(store).then(|| {
                store
                    .get(&ObjectRef::new(name).within(ns))
                    .filter(|o| o.meta().deletion_timestamp.is_none())
                    .map(|o| o.owner_references().to_vec())
            })
        }
        match kind {
            ObjectKind::HorizontalPodAutoscaler => get(&self.hpas, ns, name),
            ObjectKind::PodDisruptionBudget => get(&self.pdbs, ns, name),
            ObjectKind::Ingress => get(&self.ingresses, ns, name),
            ObjectKind::NetworkPolicy => get(&self.network_policies, ns, name),
            _ => None,
        }
    }
}

/// Whether a cache has its first list.
fn listed<K: Resource<DynamicType = ()> + Clone + 'static>(store: &Store<K>) -> bool {
    store
        .wait_until_ready()
        .now_or_never()
        .is_some_and(|r| r.is_ok())
}

fn cached_meta(m: &ObjectMeta) -> CachedMeta {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    m.labels.hash(&mut h);
    m.annotations.hash(&mut h);
    serde_json::to_string(&m.owner_references)
        .unwrap_or_default()
        .hash(&mut h);
    (
        m.resource_version.clone().unwrap_or_default(),
        m.generation,
        h.finish(),
    )
}

/// The last apply of a child: hash of the body sent, the child's metadata in the answer.
#[derive(Clone, PartialEq)]
struct Applied {
    body: u64,
    meta: CachedMeta,
}

impl Applied {
    /// Whether the cached child is still what this apply left: the same resourceVersion, or
    /// (for kinds that count spec changes in `generation`) the same generation and metadata,
    /// so only its status moved.
    fn unchanged(&self, cached: &CachedMeta) -> bool {
        self.meta.0 == cached.0
            || (self.meta.1.is_some_and(|g| g > 0)
                && self.meta.1 == cached.1
                && self.meta.2 == cached.2)
    }
}

/// A watch of `api` that keeps `store` current (after `strip`) and yields touched objects.
fn cached<K>(
    api: Api<K>,
    wc: watcher::Config,
    strip: impl FnMut(&mut K) + Send + 'static,
) -> (
    Store<K>,
    impl futures::Stream<Item = std::result::Result<K, watcher::Error>> + Send + 'static,
)
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    let (store, writer) = reflector::store();
    let stream = watcher(api, wc)
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

fn webedt_resource() -> ApiResource {
    ApiResource::erase::<WebEDT>(&())
}

fn service_monitor_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("monitoring.coreos.com", "v1", "ServiceMonitor"),
        "servicemonitors",
    )
}

/// Runs the operator until `shutdown` completes: leader election (when enabled), then the
/// controller while this replica leads. `health` is what the HTTP endpoint shows.
pub async fn run(
    client: Client,
    settings: Settings,
    health: Arc<Health>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<()> {
    let mut shutdown = std::pin::pin!(shutdown);
    if !settings.leader_election {
        health.metrics.leader.set(1);
        tokio::select! {
            _ = &mut shutdown => {}
            _ = run_controller(client, settings, health.clone()) => {}
        }
        return Ok(());
    }

    let manager =
        kube_lease_manager::LeaseManagerBuilder::new(client.clone(), &settings.lease_name)
            .with_namespace(&settings.lease_namespace)
            .with_identity(&settings.identity)
            .with_duration(settings.lease_duration)
            .with_grace(settings.lease_grace)
            .build()
            .await
            .map_err(|e| Error::LeaderElection(e.to_string()))?;
    let (mut leading, lease_task) = manager.watch().await;
    // Reached the API: a standby replica is ready (it is healthy, just not leading).
    health.ready.store(true, Ordering::Release);
    let result = loop {
        tokio::select! {
            _ = &mut shutdown => break Ok(()),
            r = leading.wait_for(|l| *l) => if r.is_err() {
                break Err(Error::LeaderElection("the lease manager stopped".into()));
            },
        }
        tracing::info!(identity = %settings.identity, "became the leader");
        health.metrics.leader.set(1);
        let lost = tokio::select! {
            _ = &mut shutdown => None,
            r = leading.wait_for(|l| !*l) => Some(r.is_err()),
            _ = run_controller(client.clone(), settings.clone(), health.clone()) => Some(false),
        };
        health.metrics.leader.set(0);
        match lost {
            None => break Ok(()),
            Some(true) => break Err(Error::LeaderElection("the lease manager stopped".into())),
            Some(false) => {
                tracing::warn!(identity = %settings.identity, "lost the lease; standing by")
            }
        }
    };
    // Closing the channel makes the lease manager release the lease and stop.
    drop(leading);
    let _ = lease_task.await;
    result
}

/// The controller itself; runs until dropped.
pub async fn run_controller(client: Client, settings: Settings, health: Arc<Health>) {
    let ar = webedt_resource();
    let ns = settings.watch_namespace.clone();
    fn api<K>(client: &Client, ns: &Option<String>) -> Api<K>
    where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
    {
        match ns {
            Some(ns) => Api::namespaced(client.clone(), ns),
            None => Api::all(client.clone()),
        }
    }
    let webedts: Api<DynamicObject> = match &ns {
        Some(n) => Api::namespaced_with(client.clone(), n, &ar),
        None => Api::all_with(client.clone(), &ar),
    };
    let ours =
        watcher::Config::default().labels(&format!("{}={}", labels::MANAGED_BY, labels::MANAGER));
    // The WebEDT cache, without managedFields (never read).
    let writer = reflector::store::Writer::<DynamicObject>::new(ar.clone());
    let reader = writer.as_reader();
    let trigger = watcher(webedts, watcher::Config::default())
        .modify(|o: &mut DynamicObject| o.metadata.managed_fields = None)
        .reflect(writer)
        .applied_objects();
    let controller = Controller::for_stream_with(trigger, reader, ar.clone())
        .with_config(ControllerConfig::default().concurrency(CONCURRENCY));
    let store = controller.store();
    let mapper_store = store.clone();
    let mapper_ar = ar.clone();
    let mapper_refs = SecretRefs::default();
    let recorder = Recorder::new(client.clone(), MANAGER, &settings.identity);
    fn meta_api<K>(client: &Client, ns: &Option<String>) -> Api<PartialObjectMeta<K>>
    where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
    {
        match ns {
            Some(ns) => Api::namespaced(client.clone(), ns),
            None => Api::all(client.clone()),
        }
    }
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
            for v in s.data.iter_mut().flat_map(|d| d.values_mut()) {
                v.0 = Vec::new();
            }
        },
    );
    let (jobs, job_stream) = cached(api::<Job>(&client, &ns), ours.clone(), |j: &mut Job| {
        j.metadata.managed_fields = None;
        j.spec = None;
    });
    let (deployments, deployment_stream) = cached(
        api::<Deployment>(&client, &ns),
        ours.clone(),
        |d: &mut Deployment| {
            d.metadata.managed_fields = None;
            d.spec.template = Default::default();
        },
    );
    let (services, service_stream) =
        cached(meta_api::<Service>(&client, &ns), ours.clone(), strip_meta);
    let (pdbs, pdb_stream) = cached(
        meta_api::<PodDisruptionBudget>(&client, &ns),
        ours.clone(),
        strip_meta,
    );
    let (hpas, hpa_stream) = cached(
        meta_api::<HorizontalPodAutoscaler>(&client, &ns),
        ours.clone(),
        strip_meta,
    );
    let (ingresses, ingress_stream) =
        cached(meta_api::<Ingress>(&client, &ns), ours.clone(), strip_meta);
    let (network_policies, network_policy_stream) = cached(
        meta_api::<NetworkPolicy>(&client, &ns),
        ours.clone(),
        strip_meta,
    );
    let ctx = Arc::new(Context {
        client: client.clone(),
        settings: settings.clone(),
        recorder,
        metrics: health.metrics.clone(),
        store: store.clone(),
        ar: ar.clone(),
        failures: Mutex::new(HashMap::new()),
        cleaned: Mutex::new(HashMap::new()),
        caches: Caches {
            secrets,
            jobs,
            deployments,
            services,
            pdbs,
            hpas,
            ingresses,
            network_policies,
        },
        applied: Mutex::new(HashMap::new()),
        written: Mutex::new(HashMap::new()),
    });
    if !settings.leader_election {
        let (ready_store, h) = (store.clone(), health.clone());
        tokio::spawn(async move {
            if ready_store.wait_until_ready().await.is_ok() {
                h.ready.store(true, Ordering::Release);
            }
        });
    }
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
            users_of(&mapper_store, &mapper_ar, &mapper_refs, &secret)
        })
        .run(reconcile, error_policy, ctx)
        .for_each(|r| async move {
            if let Err(e) = r {
                tracing::debug!(error = %e, "controller event");
            }
        })
        .await;
}

/// Per WebEDT (`namespace/name`), the Secrets its spec references, computed once per
/// (uid, generation): the spec alone decides them, and every spec change moves the generation.
/// Without it each Secret event would deserialise and validate every WebEDT in the cache.
#[derive(Default)]
struct SecretRefs(Mutex<HashMap<String, RefsOf>>);

/// (uid, generation, referenced Secret names) of one WebEDT.
type RefsOf = (String, Option<i64>, Vec<String>);

/// The WebEDTs that reference `secret`.
fn users_of(
    store: &Store<DynamicObject>,
    ar: &ApiResource,
    refs: &SecretRefs,
    secret: &Secret,
) -> Vec<ObjectRef<DynamicObject>> {
    let ns = secret.namespace().unwrap_or_default();
    let name = secret.name_any();
    let state = store.state();
    let mut cache = refs.0.lock().unwrap_or_else(|e| e.into_inner());
    let users = state
        .iter()
        .filter(|o| o.namespace().as_deref() == Some(ns.as_str()))
        .filter(|o| {
            let uid = o.uid().unwrap_or_default();
            let generation = o.metadata.generation;
            let entry = cache
                .entry(key_of(o))
                .or_insert_with(|| (String::new(), None, vec![]));
            if entry.0 != uid || entry.1 != generation || uid.is_empty() {
                let names = typed(o)
                    .ok()
                    .and_then(|cr| validate::validate(&cr, &ns).ok())
                    .map(|v| v.referenced_secrets())
                    .unwrap_or_default();
                *entry = (uid, generation, names);
            }
            entry.2.contains(&name)
        })
        .map(|o| ObjectRef::new_with(&o.name_any(), ar.clone()).within(&ns))
        .collect();
    if cache.len() > state.len() {
        let live: std::collections::HashSet<String> = state.iter().map(|o| key_of(o)).collect();
        cache.retain(|k, _| live.contains(k));
    }
    users
}

fn typed(o: &DynamicObject) -> Result<WebEDT> {
    serde_json::to_value(o)
        .and_then(serde_json::from_value)
        .map_err(|e| Error::InvalidObject {
            message: e.to_string(),
        })
}

fn key_of(o: &DynamicObject) -> String {
    format!("{}/{}", o.namespace().unwrap_or_default(), o.name_any())
}

fn error_policy(o: Arc<DynamicObject>, err: &Error, ctx: Arc<Context>) -> Action {
    let n = {
        let mut f = ctx.failures.lock().unwrap_or_else(|e| e.into_inner());
        let n = f.entry(key_of(&o)).or_insert(0);
        *n = n.saturating_add(1);
        *n
    };
    let factor = 2u32.saturating_pow(n.saturating_sub(1).min(20));
    let delay = ctx
        .settings
        .backoff_base
        .saturating_mul(factor)
        .min(ctx.settings.backoff_max);
    tracing::warn!(object = %key_of(&o), error = %err, retry_in = ?delay, "reconcile failed");
    Action::requeue(delay)
}

async fn reconcile(o: Arc<DynamicObject>, ctx: Arc<Context>) -> Result<Action> {
    let started = Instant::now();
    ctx.metrics.reconciles.inc();
    ctx.metrics.managed.set(ctx.store.len() as i64);
    forget_deleted(&ctx);
    let result = Reconcile::new(&o, &ctx).run().await;
    ctx.metrics
        .duration
        .observe(started.elapsed().as_secs_f64());
    match &result {
        Ok(_) => {
            ctx.failures
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&key_of(&o));
        }
        Err(e) => {
            ctx.metrics.errors.with_label_values(&[e.reason()]).inc();
            publish(
                &ctx,
                &o.object_ref(&ctx.ar),
                EventType::Warning,
                e.reason(),
                "Reconcile",
                e.to_string(),
            )
            .await;
        }
    }
    result
}

/// Drops per-object bookkeeping of objects that no longer exist.
fn forget_deleted(ctx: &Context) {
    let mut failures = ctx.failures.lock().unwrap_or_else(|e| e.into_inner());
    let mut cleaned = ctx.cleaned.lock().unwrap_or_else(|e| e.into_inner());
    let mut applied = ctx.applied.lock().unwrap_or_else(|e| e.into_inner());
    let mut written = ctx.written.lock().unwrap_or_else(|e| e.into_inner());
    let n = ctx.store.len();
    if failures.len() > n || cleaned.len() > n || applied.len() > n || written.len() > n {
        let keys: std::collections::HashSet<String> =
            ctx.store.state().iter().map(|o| key_of(o)).collect();
        failures.retain(|k, _| keys.contains(k));
        cleaned.retain(|k, _| keys.contains(k));
        applied.retain(|k, _| keys.contains(k));
        written.retain(|k, _| keys.contains(k));
    }
}

async fn publish(
    ctx: &Context,
    oref: &ObjectReference,
    type_: EventType,
    reason: &str,
    action: &str,
    note: String,
) {
    let mut note = note;
    note.truncate(1000);
    let ev = Event {
        type_,
        reason: reason.into(),
        note: Some(note),
        action: action.into(),
        secondary: None,
    };
    if let Err(e) = ctx.recorder.publish(&ev, oref).await {
        tracing::warn!(error = %e, reason, "publishing an Event failed");
    }
}

/// One reconcile of one object.
struct Reconcile<'a> {
    o: &'a DynamicObject,
    ctx: &'a Context,
    ns: String,
    name: String,
    oref: ObjectReference,
    old: WebEDTStatus,
}

/// Whether the Deployment may be applied with the current spec.
enum Gate {
    Open,
    Wait(String),
    Failed(String),
}

impl<'a> Reconcile<'a> {
    fn new(o: &'a DynamicObject, ctx: &'a Context) -> Self {
        let old = o
            .data
            .get("status")
            .and_then(|s| serde_json::from_value(s.clone()).ok())
            .unwrap_or_default();
        Self {
            o,
            ctx,
            ns: o.namespace().unwrap_or_default(),
            name: o.name_any(),
            oref: o.object_ref(&ctx.ar),
            old,
        }
    }

    fn client(&self) -> Client {
        self.ctx.client.clone()
    }

    fn api<K>(&self) -> Api<K>
    where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
    {
        Api::namespaced(self.client(), &self.ns)
    }

    async fn event(&self, type_: EventType, reason: &str, action: &str, note: String) {
        publish(self.ctx, &self.oref, type_, reason, action, note).await;
    }

    async fn run(self) -> Result<Action> {
        if self.o.metadata.deletion_timestamp.is_some() {
            // Owner references let the garbage collector remove the children.
            return Ok(Action::await_change());
        }
        let generation = self.o.metadata.generation;
        let cr = match typed(self.o) {
            Ok(cr) => cr,
            Err(e) => {
                self.blocked(generation, &e, None).await?;
                return Ok(Action::await_change());
            }
        };
        if cr.spec.paused {
            let new = status::paused(&self.old, generation, &now());
            self.write_status(&new).await?;
            return Ok(Action::await_change());
        }

        // 1. validate
        let v = match validate::validate(&cr, &self.ns) {
            Ok(v) => v,
            Err(e) => {
                self.blocked(generation, &e, None).await?;
                return Ok(Action::await_change());
            }
        };

        // 2. dereference
        let (mut versions, missing, session_absent) = self.dereference(&v).await?;
        if !missing.is_empty() {
            let e = Error::SecretMissing {
                message: missing.join("; "),
            };
            let d = self.deployment(&v.name).await?;
            self.blocked(generation, &e, d).await?;
            // The Secret watch brings us back when it appears.
            return Ok(Action::requeue(self.ctx.settings.resync));
        }
        if session_absent {
            versions.push(self.create_session_secret(&v).await?);
        }

        // 3. build
        let inputs = Inputs {
            secret_hash: secret_hash(&versions),
            new_session_secret: String::new(),
        };
        let desired = build::desired(&v, &inputs);

        // 4. apply: the migration Job gates the Deployment.
        let mut gate = Gate::Open;
        for obj in &desired.objects {
            if let Desired::MigrationJob(job) = obj {
                gate = self.migration(job).await?;
            }
        }
        let mut deployment = None;
        for obj in &desired.objects {
            match obj {
                Desired::SessionSecret(_) | Desired::MigrationJob(_) => {}
                Desired::Deployment(d) => {
                    if let Gate::Open = gate {
                        if v.spec.autoscaling.enabled {
                            self.hand_over_replicas(&v.name).await?;
                        }
                        deployment = match self.apply(d.as_ref()).await? {
                            Some(d) => Some(d),
                            None => self.deployment(&v.name).await?,
                        };
                    } else {
                        deployment = self.deployment(&v.name).await?;
                    }
                }
                Desired::Service(s) => {
                    self.apply(s).await?;
                }
                Desired::PodDisruptionBudget(p) => {
                    self.apply(p).await?;
                }
                Desired::HorizontalPodAutoscaler(h) => {
                    self.apply(h).await?;
                }
                Desired::Ingress(i) => {
                    self.apply(i).await?;
                }
                Desired::NetworkPolicy(n) => {
                    self.apply(n).await?;
                }
                Desired::ServiceMonitor(m) => {
                    let api: Api<DynamicObject> =
                        Api::namespaced_with(self.client(), &self.ns, &service_monitor_resource());
                    api.patch(
                        &v.name,
                        &PatchParams::apply(MANAGER).force(),
                        &Patch::Apply(m),
                    )
                    .await
                    .map_err(|source| Error::ApplyFailed {
                        what: format!("ServiceMonitor {}/{}", self.ns, v.name),
                        source,
                    })?;
                }
            }
        }

        // 5. delete what is no longer wanted (once per generation).
        self.delete_absent(&v, &desired.absent, generation).await?;

        // 6. status
        let outcome = match &gate {
            Gate::Open => Outcome::Applied,
            Gate::Wait(job) => Outcome::MigrationRunning { job: job.clone() },
            Gate::Failed(job) => {
                let e = Error::MigrationFailed { job: job.clone() };
                Outcome::Blocked {
                    reason: e.reason().into(),
                    message: e.to_string(),
                }
            }
        };
        let observed = Observed {
            generation,
            deployment,
            outcome,
            findings: v.findings.clone(),
            selector: Some(labels::selector_string(&v.name)),
            endpoint: Some(endpoint(&v)),
        };
        let new = status::compute(&self.old, &observed, &now());
        self.write_status(&new).await?;
        if v.findings.contains(&Finding::IngressWithoutTls)
            && self.old.observed_generation != generation
        {
            let f = Finding::IngressWithoutTls;
            self.event(EventType::Warning, f.reason(), "Validate", f.message())
                .await;
        }
        Ok(Action::requeue(self.ctx.settings.resync))
    }

    /// Reads the referenced Secrets: (versions, problems, generated session Secret absent).
    async fn dereference(
        &self,
        v: &ValidatedWebEDT,
    ) -> Result<(Vec<SecretVersion>, Vec<String>, bool)> {
        let mut wanted: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let p = &v.spec.providers;
        let mut add = |name: &str, key: &str| {
            wanted
                .entry(name.to_string())
                .or_default()
                .push(key.to_string())
        };
        add(&v.database.name, &v.database.key);
        add(&v.session_secret.name, &v.session_secret.key);
        for r in [
            p.anthropic
                .as_ref()
                .and_then(|a| a.api_key_secret_ref.as_ref()),
            p.openai
                .as_ref()
                .and_then(|a| a.api_key_secret_ref.as_ref()),
            p.worker.as_ref().and_then(|w| w.secret_ref.as_ref()),
        ]
        .into_iter()
        .flatten()
        {
            add(&r.name, &r.key);
        }
        let api = self.api::<Secret>();
        let (mut versions, mut missing, mut session_absent) = (Vec::new(), Vec::new(), false);
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
                    session_absent = true
                }
                None => missing.push(format!("Secret {name} does not exist")),
                Some(s) => {
                    for k in keys {
                        let has = s.data.as_ref().is_some_and(|d| d.contains_key(&k))
                            || s.string_data.as_ref().is_some_and(|d| d.contains_key(&k));
                        if !has {
                            missing.push(format!("Secret {name} has no key {k}"));
                        }
                    }
                    versions.push(SecretVersion {
                        name: name.clone(),
                        version: s.resource_version().unwrap_or_default(),
                    });
                }
            }
        }
        Ok((versions, missing, session_absent))
    }

    async fn create_session_secret(&self, v: &ValidatedWebEDT) -> Result<SecretVersion> {
        use rand::Rng;
        let bytes: [u8; 32] = rand::rng().random();
        let value: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let secret = build::session_secret::build(v, &value);
        let api = self.api::<Secret>();
        let what = format!("Secret {}/{}", self.ns, v.session_secret.name);
        let pp = PostParams {
            field_manager: Some(MANAGER.into()),
            ..Default::default()
        };
        let created = match api.create(&pp, &secret).await {
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

    /// Creates the image's migration Job when absent and tells whether the Deployment may move.
    async fn migration(&self, job: &Job) -> Result<Gate> {
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
                let pp = PostParams {
                    field_manager: Some(MANAGER.into()),
                    ..Default::default()
                };
                match api.create(&pp, job).await {
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
        let st = current.status.clone().unwrap_or_default();
        let cond = |t: &str| {
            st.conditions
                .iter()
                .flatten()
                .any(|c| c.type_ == t && c.status == "True")
        };
        if cond("Complete") || st.succeeded.unwrap_or(0) > 0 {
            Ok(Gate::Open)
        } else if cond("Failed") {
            Ok(Gate::Failed(name))
        } else {
            Ok(Gate::Wait(name))
        }
    }

    /// With real server-side apply, a field its only manager stops sending is removed: the
    /// Deployment would drop to 1 replica when autoscaling is turned on. So while the operator
    /// still owns `spec.replicas`, a second manager first applies the current value; the
    /// operator's apply without the field then leaves it to that manager and the HPA.
    async fn hand_over_replicas(&self, name: &str) -> Result<()> {
        let api = self.api::<Deployment>();
        let what = format!("Deployment {}/{name}", self.ns);
        let Some(d) = api
            .get_opt(name)
            .await
            .map_err(|source| Error::ReadFailed {
                what: what.clone(),
                source,
            })?
        else {
            return Ok(());
        };
        let owns = d.metadata.managed_fields.iter().flatten().any(|m| {
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
        let replicas = d.spec.replicas.unwrap_or(1);
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
    async fn deployment(&self, name: &str) -> Result<Option<Deployment>> {
        let key = ObjectRef::new(name).within(&self.ns);
        if let Some(d) = self.ctx.caches.deployments.get(&key) {
            return Ok(Some((*d).clone()));
        }
        if listed(&self.ctx.caches.deployments) {
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
    /// the child as the cache still shows it: the apply would change nothing.
    async fn apply<K>(&self, obj: &K) -> Result<Option<K>>
    where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
            + Clone
            + Serialize
            + DeserializeOwned
            + Debug,
    {
        let name = obj.name_any();
        let kind = K::kind(&());
        let child = format!("{kind}/{name}");
        let what = format!("{kind} {}/{name}", self.ns);
        let body = serde_json::to_vec(obj).map_err(|e| Error::SerializationFailed {
            what: what.clone(),
            message: e.to_string(),
        })?;
        let mut h = std::collections::hash_map::DefaultHasher::new();
        body.hash(&mut h);
        let body = h.finish();
        let key = key_of(self.o);
        if let Some(cached) = self.ctx.caches.child(&kind, &self.ns, &name) {
            let applied = self.ctx.applied.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(last) = applied.get(&key).and_then(|m| m.get(&child))
                && last.body == body
                && last.unchanged(&cached)
            {
                return Ok(None);
            }
        }
        let out = self
            .api::<K>()
            .patch(
                &name,
                &PatchParams::apply(MANAGER).force(),
                &Patch::Apply(obj),
            )
            .await
            .map_err(|source| Error::ApplyFailed { what, source })?;
        self.ctx
            .applied
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(key)
            .or_default()
            .insert(
                child,
                Applied {
                    body,
                    meta: cached_meta(out.meta()),
                },
            );
        Ok(Some(out))
    }

    async fn delete_absent(
        &self,
        v: &ValidatedWebEDT,
        absent: &[ObjectKind],
        generation: Option<i64>,
    ) -> Result<()> {
        let key = key_of(self.o);
        let g = generation.unwrap_or(0);
        let cleaned = self
            .ctx
            .cleaned
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
            == Some(&g);
        let uid = self.o.uid().unwrap_or_default();
        let ours = |refs: &[OwnerReference]| {
            refs.iter()
                .any(|r| r.uid == uid && r.controller == Some(true))
        };
        for kind in absent {
            // Kinds with a cache: asked on every reconcile, no request unless there is
            // something to delete. The others: read once per generation.
            let cached = self.ctx.caches.owners(kind, &self.ns, &v.name);
            if cached.is_none() && cleaned {
                continue;
            }
            if let Some(refs) = &cached
                && !refs.as_deref().is_some_and(ours)
            {
                continue;
            }
            let ar = match kind {
                ObjectKind::HorizontalPodAutoscaler => {
                    ApiResource::erase::<HorizontalPodAutoscaler>(&())
                }
                ObjectKind::PodDisruptionBudget => ApiResource::erase::<PodDisruptionBudget>(&()),
                ObjectKind::Ingress => ApiResource::erase::<Ingress>(&()),
                ObjectKind::NetworkPolicy => ApiResource::erase::<NetworkPolicy>(&()),
                ObjectKind::ServiceMonitor => service_monitor_resource(),
                // Old migration Jobs stay as a record; a generated session Secret is never
                // deleted by the operator (it would log everyone out).
                _ => continue,
            };
            let api: Api<DynamicObject> = Api::namespaced_with(self.client(), &self.ns, &ar);
            let what = format!("{} {}/{}", ar.kind, self.ns, v.name);
            if cached.is_none() {
                let existing = match api.get_opt(&v.name).await {
                    Ok(o) => o,
                    // No such resource in this cluster (e.g. no ServiceMonitor CRD): nothing
                    // to do.
                    Err(kube::Error::Api(e)) if e.code == 404 => None,
                    Err(source) => return Err(Error::ReadFailed { what, source }),
                };
                if !existing.is_some_and(|o| ours(o.owner_references())) {
                    continue;
                }
            }
            match api.delete(&v.name, &DeleteParams::background()).await {
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
        self.ctx
            .cleaned
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, g);
        Ok(())
    }

    /// Status (and Event) for a spec that cannot be served.
    async fn blocked(
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
        };
        let new = status::compute(&self.old, &observed, &now());
        self.write_status(&new).await
    }

    /// Writes the status when it changed; publishes Events for condition transitions.
    async fn write_status(&self, new: &WebEDTStatus) -> Result<()> {
        if *new == self.old {
            return Ok(());
        }
        // The same status was already written from this version of the object: the cache has
        // not caught up with that write yet (its watch event brings us back).
        let mut h = std::collections::hash_map::DefaultHasher::new();
        serde_json::to_vec(new).unwrap_or_default().hash(&mut h);
        let written = (self.o.resource_version().unwrap_or_default(), h.finish());
        let key = key_of(self.o);
        if self
            .ctx
            .written
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
            == Some(&written)
        {
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
        let pp = PatchParams {
            field_manager: Some(MANAGER.into()),
            ..Default::default()
        };
        api.patch_status(
            &self.name,
            &pp,
            &Patch::Merge(serde_json::json!({ "status": body })),
        )
        .await
        .map_err(|source| Error::StatusUpdateFailed {
            what: format!("WebEDT {}/{}", self.ns, self.name),
            source,
        })?;
        self.ctx
            .written
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, written);
        self.transition_events(new).await;
        Ok(())
    }

    async fn transition_events(&self, new: &WebEDTStatus) {
        let old_c = |t| status::get(&self.old, t);
        if let Some(d) = status::get(new, ConditionType::Degraded)
            && d.status == "True"
            && old_c(ConditionType::Degraded)
                .is_none_or(|o| o.status != "True" || o.reason != d.reason)
        {
            self.event(
                EventType::Warning,
                &d.reason,
                "Reconcile",
                d.message.clone(),
            )
            .await;
        }
        if let Some(r) = status::get(new, ConditionType::Ready)
            && r.status == "True"
            && old_c(ConditionType::Ready).is_none_or(|o| o.status != "True")
        {
            self.event(EventType::Normal, "Ready", "Reconcile", r.message.clone())
                .await;
        }
        if let Some(p) = status::get(new, ConditionType::Progressing)
            && p.reason == "Paused"
            && old_c(ConditionType::Progressing).is_none_or(|o| o.reason != "Paused")
        {
            self.event(EventType::Normal, "Paused", "Reconcile", p.message.clone())
                .await;
        }
    }
}

fn now() -> Time {
    Time(Timestamp::now())
}

/// Where the API is reachable: the Ingress URL, else the Service's cluster URL.
fn endpoint(v: &ValidatedWebEDT) -> String {
    let i = &v.spec.ingress;
    match (&i.host, i.enabled) {
        (Some(host), true) => format!(
            "{}://{host}",
            if i.tls.is_some() { "https" } else { "http" }
        ),
        _ => service::cluster_url(v),
    }
}

/// Name of the migration Job the current spec needs, if any.
pub fn migration_job_name(v: &ValidatedWebEDT) -> Option<String> {
    v.migrations_as_job()
        .then(|| migration_job::job_name(&v.name, &v.spec.image))
}
