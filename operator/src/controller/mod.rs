//! The controller (`webedt-operator run`).
//!
//! Each reconcile is one fixed pipeline:
//! 1. *validate* the `WebEDT` (part 1; pure) — it names the Secrets to read;
//! 2. *dereference*: every referenced Secret must exist and hold its key; their
//!    resourceVersions are hashed into the pod template (values are never copied);
//! 3. *build* the desired objects (part 1; pure);
//! 4. *apply* with server-side apply, field manager [`MANAGER`], forced: Secrets first (the
//!    generated session and worker Secrets are created once, never re-applied), then the
//!    migration Job (created once per image; the API Deployment waits for it to succeed), then
//!    the rest, the workers (spec.worker) included;
//! 5. *delete* owned objects no longer wanted (an HPA after autoscaling is turned off);
//! 6. *status*: counts from the Deployment and conditions, written only when they change.
//!
//! Where each step lives: [`leader`] (leader election), [`watches`] (caches, the Secret
//! mapper), [`dereference`], [`apply`] (memoised apply, migration gate, hand-over, deletion),
//! [`status`] (pure) and [`report`] (status writes, transition Events); this file holds the
//! pipeline, the per-object memo and the error policy. Each child is a
//! [`Role`](crate::build::Role) with its own name, kind and apply policy.
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

mod apply;
mod dereference;
pub mod events;
pub mod http;
mod leader;
mod report;
pub mod status;
mod watches;

pub use leader::run;
pub use watches::run_controller;

use crate::build::{self, ApplyPolicy, Desired, Inputs, Role, labels, secret_hash, service};
use crate::crd::{WebEDT, WebEDTStatus};
use crate::error::{Error, Result};
use crate::validate::{self, Finding, ValidatedWebEDT};
use apply::{Applied, Child, Gate};
use events::Recorder;
use http::Metrics;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, ApiResource, DynamicObject};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType};
use kube::runtime::reflector::Store;
use kube::{Client, Resource, ResourceExt};
use report::WrittenStatus;
use status::{Observed, Outcome};
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use watches::Caches;

/// Reconciles running at once. Unbounded, a burst of new objects opens as many API
/// connections and in-flight reconciles as there are objects; the API server answers them one
/// by one anyway. Pending reconciles wait in the scheduler, deduplicated per object.
const CONCURRENCY: u16 = 16;

/// Field manager of every write.
pub const MANAGER: &str = "webedt-operator";
/// Field manager that takes over `spec.replicas` of the Deployment when autoscaling is turned
/// on, so the value survives the operator's next apply without it (see
/// `Reconcile::hand_over_replicas`).
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
    caches: Caches,
    /// Per object (`namespace/name`), what the controller remembers between reconciles.
    memos: Mutex<HashMap<String, Memo>>,
}

/// What the controller remembers about one `WebEDT` between reconciles.
#[derive(Default)]
struct Memo {
    /// Consecutive failures, for the backoff.
    failures: u32,
    /// The generation whose no-longer-wanted objects were deleted.
    cleaned: Option<i64>,
    /// What the last apply of each child sent and got back.
    applied: HashMap<Child, Applied>,
    /// The last status written.
    written: Option<WrittenStatus>,
    /// The conditions of the last status written (the cache may not have them yet).
    conditions: Vec<k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition>,
}

impl Context {
    fn memo<T>(&self, key: &str, f: impl FnOnce(&mut Memo) -> T) -> T {
        let mut memos = self.memos.lock().unwrap_or_else(|e| e.into_inner());
        match memos.get_mut(key) {
            Some(m) => f(m),
            None => f(memos.entry(key.to_string()).or_default()),
        }
    }

    /// Drops the memos of objects that no longer exist.
    fn forget_deleted(&self) {
        let mut memos = self.memos.lock().unwrap_or_else(|e| e.into_inner());
        if memos.len() > self.store.len() {
            let live: HashSet<String> = self.store.state().iter().map(|o| key_of(o)).collect();
            memos.retain(|k, _| live.contains(k));
        }
    }
}

/// The `WebEDT` as its typed form.
fn parse_webedt(o: &DynamicObject) -> Result<WebEDT> {
    serde_json::to_value(o)
        .and_then(serde_json::from_value)
        .map_err(|e| Error::InvalidObject {
            message: e.to_string(),
        })
}

fn key_of(o: &DynamicObject) -> String {
    format!("{}/{}", o.namespace().unwrap_or_default(), o.name_any())
}

fn error_policy(object: Arc<DynamicObject>, err: &Error, ctx: Arc<Context>) -> Action {
    let failures = ctx.memo(&key_of(&object), |m| {
        m.failures = m.failures.saturating_add(1);
        m.failures
    });
    let factor = 2u32.saturating_pow(failures.saturating_sub(1).min(20));
    let delay = ctx
        .settings
        .backoff_base
        .saturating_mul(factor)
        .min(ctx.settings.backoff_max);
    tracing::warn!(object = %key_of(&object), error = %err, retry_in = ?delay, "reconcile failed");
    Action::requeue(delay)
}

async fn reconcile(object: Arc<DynamicObject>, ctx: Arc<Context>) -> Result<Action> {
    let started = Instant::now();
    ctx.metrics.reconciles.inc();
    ctx.metrics.managed.set(ctx.store.len() as i64);
    ctx.forget_deleted();
    let result = Reconcile::new(&object, &ctx).run().await;
    ctx.metrics
        .duration
        .observe(started.elapsed().as_secs_f64());
    match &result {
        Ok(_) => ctx.memo(&key_of(&object), |m| m.failures = 0),
        Err(e) => {
            ctx.metrics.errors.with_label_values(&[e.reason()]).inc();
            publish(
                &ctx,
                &object.object_ref(&ctx.ar),
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
    let event = Event {
        type_,
        reason: reason.into(),
        note: Some(note),
        action: action.into(),
        secondary: None,
    };
    if let Err(e) = ctx.recorder.publish(&event, oref).await {
        tracing::warn!(error = %e, reason, "publishing an Event failed");
    }
}

/// One reconcile of one object.
struct Reconcile<'a> {
    object: &'a DynamicObject,
    ctx: &'a Context,
    /// [`key_of`] the object: its memo.
    key: String,
    ns: String,
    name: String,
    oref: ObjectReference,
    old: WebEDTStatus,
}

impl<'a> Reconcile<'a> {
    fn new(object: &'a DynamicObject, ctx: &'a Context) -> Self {
        let old = object
            .data
            .get("status")
            .and_then(|s| serde_json::from_value(s.clone()).ok())
            .unwrap_or_default();
        Self {
            object,
            ctx,
            key: key_of(object),
            ns: object.namespace().unwrap_or_default(),
            name: object.name_any(),
            oref: object.object_ref(&ctx.ar),
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

    fn memo<T>(&self, f: impl FnOnce(&mut Memo) -> T) -> T {
        self.ctx.memo(&self.key, f)
    }

    async fn event(&self, type_: EventType, reason: &str, action: &str, note: String) {
        publish(self.ctx, &self.oref, type_, reason, action, note).await;
    }

    async fn run(self) -> Result<Action> {
        if self.object.metadata.deletion_timestamp.is_some() {
            // Owner references let the garbage collector remove the children.
            return Ok(Action::await_change());
        }
        let generation = self.object.metadata.generation;
        let cr = match parse_webedt(self.object) {
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
        let mut secrets = self.dereference(&v).await?;
        if !secrets.missing.is_empty() {
            let e = Error::SecretMissing {
                message: secrets.missing.join("; "),
            };
            let deployment = self.deployment(&Role::ApiDeployment.name(&v)).await?;
            self.blocked(generation, &e, deployment).await?;
            // The Secret watch brings us back when it appears.
            return Ok(Action::requeue(self.ctx.settings.resync));
        }
        if secrets.session_secret_absent {
            secrets.versions.push(self.create_session_secret(&v).await?);
        }
        if secrets.credentials_secret_absent {
            secrets
                .versions
                .extend(self.create_credentials_secret(&v).await?);
        }
        if secrets.worker_secret_absent {
            secrets
                .versions
                .extend(self.create_worker_secret(&v).await?);
        }

        // 3. build
        let worker_secrets: Vec<String> = v
            .worker_secret_keys()
            .into_iter()
            .map(|s| s.key.name)
            .collect();
        let worker_versions: Vec<_> = secrets
            .versions
            .iter()
            .filter(|s| worker_secrets.contains(&s.name))
            .cloned()
            .collect();
        let inputs = Inputs {
            secret_hash: secret_hash(&secrets.versions),
            worker_secret_hash: secret_hash(&worker_versions),
            new_session_secret: String::new(),
            new_worker_secret: String::new(),
            new_credentials_keys: String::new(),
        };
        let desired = build::desired(&v, &inputs);

        // 4. apply: the migration Job gates the Deployment. Create-only objects were created
        // above (the session Secret, whose version is hashed into the pods) or are the gate.
        let mut gate = Gate::Open;
        for obj in &desired.objects {
            if let Desired::MigrationJob(job) = obj {
                gate = self.migration(job).await?;
            }
        }
        let mut deployment = None;
        let mut worker = None;
        for obj in &desired.objects {
            match obj {
                // Waits for the gate; the answer feeds the status.
                Desired::ApiDeployment(_) => {
                    let name = obj.name();
                    deployment = match gate {
                        Gate::Open => {
                            if v.spec.autoscaling.enabled {
                                self.hand_over_replicas(name).await?;
                            }
                            match self.apply(obj).await? {
                                Some(applied) => Some(parse_deployment(applied)?),
                                None => self.deployment(name).await?,
                            }
                        }
                        Gate::Wait(_) | Gate::Failed(_) => self.deployment(name).await?,
                    };
                }
                // Not gated by the migration (workers hold no database connection).
                Desired::WorkerDeployment(_) => {
                    let name = obj.name();
                    if v.worker.as_ref().is_some_and(|w| w.autoscaling.enabled) {
                        self.hand_over_replicas(name).await?;
                    }
                    let applied = match self.apply(obj).await? {
                        Some(applied) => Some(parse_deployment(applied)?),
                        None => self.deployment(name).await?,
                    };
                    worker = Some(status::WorkerObserved {
                        deployment: applied,
                    });
                }
                Desired::SessionSecret(_)
                | Desired::CredentialsSecret(_)
                | Desired::WorkerSecret(_)
                | Desired::WorkerService(_)
                | Desired::WorkerNetworkPolicy(_)
                | Desired::WorkerHorizontalPodAutoscaler(_)
                | Desired::MigrationJob(_)
                | Desired::ApiService(_)
                | Desired::PodDisruptionBudget(_)
                | Desired::HorizontalPodAutoscaler(_)
                | Desired::Ingress(_)
                | Desired::NetworkPolicy(_)
                | Desired::ServiceMonitor(_) => match obj.policy() {
                    ApplyPolicy::Apply => {
                        self.apply(obj).await?;
                    }
                    ApplyPolicy::CreateOnly => {}
                },
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
            worker,
        };
        let new = status::compute(&self.old_fresh(), &observed, &now());
        self.write_status(&new).await?;
        if v.findings.contains(&Finding::IngressWithoutTls)
            && self.old.observed_generation != generation
        {
            let finding = Finding::IngressWithoutTls;
            self.event(
                EventType::Warning,
                finding.reason(),
                "Validate",
                finding.message(),
            )
            .await;
        }
        Ok(Action::requeue(self.ctx.settings.resync))
    }
}

/// The Deployment as the apply answered it.
fn parse_deployment(applied: DynamicObject) -> Result<Deployment> {
    applied
        .try_parse::<Deployment>()
        .map_err(|e| Error::SerializationFailed {
            what: "Deployment".into(),
            message: e.to_string(),
        })
}

fn now() -> Time {
    Time(Timestamp::now())
}

/// Where the API is reachable: the Ingress URL, else the Service's cluster URL.
fn endpoint(v: &ValidatedWebEDT) -> String {
    let ingress = &v.spec.ingress;
    match (&ingress.host, ingress.enabled) {
        (Some(host), true) => format!(
            "{}://{host}",
            if ingress.tls.is_some() {
                "https"
            } else {
                "http"
            }
        ),
        _ => service::cluster_url(v),
    }
}

/// Name of the migration Job the current spec needs, if any.
pub fn migration_job_name(v: &ValidatedWebEDT) -> Option<String> {
    v.migrations_as_job().then(|| Role::MigrationJob.name(v))
}
