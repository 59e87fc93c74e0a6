//! A Kubernetes API server for tests: plain HTTP on 127.0.0.1, in memory, faithful in the parts
//! the operator, kube-runtime's watcher and event `Recorder`, and kube-lease-manager use.
//!
//! - LIST / WATCH (ADDED, MODIFIED, DELETED; `resourceVersion`; label and field selectors;
//!   `410 Gone` for a compacted `resourceVersion`; streams close at `timeoutSeconds`).
//! - GET, POST (409 `AlreadyExists`), PUT (409 `Conflict` on a stale `resourceVersion`), DELETE
//!   (finalizers, then ownerReference garbage collection, background propagation).
//! - PATCH: server-side apply with per-manager ownership of leaf fields (a field its only
//!   manager stops sending is removed; a non-forced apply changing another manager's field →
//!   409), JSON merge patch, strategic merge patch (lists of objects merge by `name`).
//! - `/status` and `/scale` subresources; `metadata.generation` moves only on spec changes.
//! - Simulated controllers: Deployments roll out one replica per tick; Jobs succeed after a
//!   delay, or fail when their image is marked to fail. Deployments default `spec.replicas` to 1.
//! - Faults on demand (500s, 409s, slow answers, for a while) and a log of every request.
//! - What `kubectl` needs: discovery (`/version`, `/api`, `/apis`, resource lists) and
//!   `/openapi/v3` from built-in kinds plus the kinds of stored CRDs (which get `Established`);
//!   CRD schemas enforced (`fieldValidation=Strict` refuses unknown fields, `Warn` warns, and
//!   unknown fields are pruned); the Table form with a CRD's printer columns; core/v1 Events
//!   served from `events.k8s.io/v1` ones. JSON and YAML bodies only (protobuf gets 415).
//!
//! Arrays are atomic for field ownership (real servers merge some by key); everything the
//! operator's tests rely on is covered by `tests/` of this crate.

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::broadcast;

mod discovery;
mod events;
mod kinds;
mod openapi;
mod patch;
mod reads;
mod routing;
mod schema;
mod selectors;
mod simulate;
mod store;
mod table;

use kinds::*;
use patch::*;
use reads::*;
use routing::*;
use selectors::*;
use simulate::*;
use store::*;

/// Most events kept for watch replay; older resourceVersions get 410.
const HISTORY: usize = 20_000;

/// Path of a field, as map keys from the root.
type FieldPath = Vec<String>;
/// (manager, operation) → owned leaf fields.
type Owners = BTreeMap<(String, String), BTreeSet<FieldPath>>;

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct ResKey {
    group: String,
    plural: String,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct ObjKey {
    res: ResKey,
    namespace: String,
    name: String,
}

/// An object as stored: its JSON and which manager owns which of its fields.
struct StoredObject {
    value: Value,
    owners: Owners,
}

/// A watch event as stored in the history.
#[derive(Clone, Debug)]
pub struct WatchEvent {
    pub rv: u64,
    pub type_: &'static str,
    res: ResKey,
    pub namespace: String,
    pub object: Arc<Value>,
}

/// One request the server answered.
#[derive(Clone, Debug)]
pub struct Request {
    pub at: Instant,
    pub method: String,
    pub path: String,
    pub query: String,
    pub content_type: String,
    pub watch: bool,
    /// Sent by the test itself (header [`DRIVER_HEADER`]): exempt from faults.
    pub driver: bool,
}

/// Requests carrying this header come from the test driving the scenario: faults skip them and
/// [`Request::driver`] marks them, so tests can tell their own requests from the operator's.
pub const DRIVER_HEADER: &str = "x-webedt-test-driver";

/// An injected fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// 500 InternalError for every non-watch request.
    Error500,
    /// 409 Conflict for every write.
    Conflict409,
    /// Every non-watch request waits this long first.
    Slow(Duration),
}

/// The stored objects, the watch history and the simulated controllers' side state.
#[derive(Default)]
struct Db {
    rv: u64,
    uid_seq: u64,
    objects: BTreeMap<ObjKey, StoredObject>,
    history: VecDeque<WatchEvent>,
    /// Watches from a resourceVersion below this get 410.
    oldest_rv: u64,
    /// Simulation side state: template hash a Deployment last rolled out, per uid.
    rolled: HashMap<String, String>,
    /// Simulation side state: when a Job started, per uid.
    job_started: HashMap<String, Instant>,
    /// Simulation work list: the Deployments and Jobs whose status the simulated controllers may
    /// still move. Every write of one puts it here ([`store::commit`]); a tick drops those found
    /// final (a settled Deployment, a finished Job) until they are written again. Ticks cost what
    /// changed, not every Deployment and Job stored (with thousands of settled ones, a scan every
    /// 50 ms under the store lock was most of this server's time).
    unsettled: BTreeSet<ObjKey>,
    /// uids of the stored objects.
    uids: std::collections::HashSet<String>,
    /// An object was stored with an owner that does not exist: collect garbage on the next tick.
    gc_due: bool,
}

/// Everything the request handlers and the simulated controllers share.
struct ServerState {
    db: Mutex<Db>,
    tx: broadcast::Sender<WatchEvent>,
    requests: Mutex<Vec<Request>>,
    faults: Mutex<Vec<(Fault, Instant)>>,
    sim: Mutex<Simulation>,
    /// Resource plurals this "cluster" does not serve (a CRD that is not installed).
    absent: Mutex<BTreeSet<String>>,
    log: bool,
}

/// Settings of the simulated controllers.
struct Simulation {
    rollout: bool,
    job_duration: Duration,
    fail_images: BTreeSet<String>,
}

/// A running test API server. Dropping it stops the server.
pub struct TestApi {
    pub addr: SocketAddr,
    shared: Arc<ServerState>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for TestApi {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl TestApi {
    /// Starts on 127.0.0.1 with an ephemeral port.
    pub async fn start() -> Self {
        Self::start_on(0).await
    }

    /// Starts on 127.0.0.1:`port` (0: ephemeral). `TESTAPI_LOG=1` prints every request.
    pub async fn start_on(port: u16) -> Self {
        let (tx, _) = broadcast::channel(HISTORY);
        let shared = Arc::new(ServerState {
            db: Mutex::new(Db::default()),
            tx,
            requests: Mutex::new(Vec::new()),
            faults: Mutex::new(Vec::new()),
            sim: Mutex::new(Simulation {
                rollout: true,
                job_duration: Duration::from_millis(300),
                fail_images: BTreeSet::new(),
            }),
            absent: Mutex::new(BTreeSet::new()),
            log: std::env::var("TESTAPI_LOG").is_ok_and(|v| v == "1"),
        });
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("bind 127.0.0.1");
        let addr = listener.local_addr().expect("local addr");
        let app = Router::new().fallback(handle).with_state(shared.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        let sim_shared = shared.clone();
        let sim = tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(50)).await;
                simulate(&sim_shared);
            }
        });
        Self {
            addr,
            shared,
            tasks: vec![server, sim],
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Request> {
        lock(&self.shared.requests).clone()
    }

    /// Injects `fault` for `duration` from now (for every client but the test driver).
    pub fn fault(&self, fault: Fault, duration: Duration) {
        lock(&self.shared.faults).push((fault, Instant::now() + duration));
    }

    /// Freezes (false) or resumes (true) the simulated Deployment rollouts.
    pub fn set_rollout(&self, on: bool) {
        lock(&self.shared.sim).rollout = on;
    }

    /// Jobs whose first container runs `image` fail.
    pub fn fail_jobs_with_image(&self, image: &str) {
        lock(&self.shared.sim).fail_images.insert(image.to_string());
    }

    /// Serves `plural` no more: every request for it gets 404, as when its CRD is not
    /// installed (e.g. `servicemonitors` without the Prometheus Operator).
    pub fn without(&self, plural: &str) {
        lock(&self.shared.absent).insert(plural.to_string());
    }

    /// Forgets the watch history: any watch from an older resourceVersion gets 410.
    pub fn compact(&self) {
        let mut db = lock(&self.shared.db);
        db.history.clear();
        db.oldest_rv = db.rv + 1;
    }

    /// An object as stored (`group` "" for the core group), or None.
    pub fn get(&self, group: &str, plural: &str, namespace: &str, name: &str) -> Option<Value> {
        let db = lock(&self.shared.db);
        db.objects
            .get(&key(group, plural, namespace, name))
            .map(render)
    }

    /// All objects of a resource in a namespace.
    pub fn list(&self, group: &str, plural: &str, namespace: &str) -> Vec<Value> {
        let db = lock(&self.shared.db);
        db.objects
            .iter()
            .filter(|(k, _)| {
                k.res.group == group && k.res.plural == plural && k.namespace == namespace
            })
            .map(|(_, o)| render(o))
            .collect()
    }

    /// Every version an object went through (the watch history, ADDED/MODIFIED/DELETED).
    pub fn history(&self, group: &str, plural: &str, namespace: &str, name: &str) -> Vec<Value> {
        let db = lock(&self.shared.db);
        db.history
            .iter()
            .filter(|e| {
                e.res.group == group
                    && e.res.plural == plural
                    && e.namespace == namespace
                    && e.object["metadata"]["name"] == name
            })
            .map(|e| (*e.object).clone())
            .collect()
    }

    /// Current global resourceVersion.
    pub fn resource_version(&self) -> u64 {
        lock(&self.shared.db).rv
    }
}

fn key(group: &str, plural: &str, namespace: &str, name: &str) -> ObjKey {
    ObjKey {
        res: ResKey {
            group: group.into(),
            plural: plural.into(),
        },
        namespace: namespace.into(),
        name: name.into(),
    }
}
