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

struct Obj {
    value: Value,
    owners: Owners,
}

/// A watch event as stored in the history.
#[derive(Clone, Debug)]
pub struct Ev {
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

#[derive(Default)]
struct Db {
    rv: u64,
    uid_seq: u64,
    objects: BTreeMap<ObjKey, Obj>,
    history: VecDeque<Ev>,
    /// Watches from a resourceVersion below this get 410.
    oldest_rv: u64,
    /// Simulation side state: template hash a Deployment last rolled out, per uid.
    rolled: HashMap<String, String>,
    /// Simulation side state: when a Job started, per uid.
    job_started: HashMap<String, Instant>,
    /// Simulation side state: the resourceVersion at which a Deployment's status was found
    /// final, per uid (skipped until the object changes).
    settled: HashMap<String, String>,
    /// uids of the stored objects.
    uids: std::collections::HashSet<String>,
    /// An object was stored with an owner that does not exist: collect garbage on the next tick.
    gc_due: bool,
}

struct Shared {
    db: Mutex<Db>,
    tx: broadcast::Sender<Ev>,
    requests: Mutex<Vec<Request>>,
    faults: Mutex<Vec<(Fault, Instant)>>,
    sim: Mutex<Sim>,
    log: bool,
}

struct Sim {
    rollout: bool,
    job_duration: Duration,
    fail_images: BTreeSet<String>,
}

/// A running test API server. Dropping it stops the server.
pub struct TestApi {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
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
        let shared = Arc::new(Shared {
            db: Mutex::new(Db::default()),
            tx,
            requests: Mutex::new(Vec::new()),
            faults: Mutex::new(Vec::new()),
            sim: Mutex::new(Sim {
                rollout: true,
                job_duration: Duration::from_millis(300),
                fail_images: BTreeSet::new(),
            }),
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

// ---------------------------------------------------------------------------------------------
// Request routing
// ---------------------------------------------------------------------------------------------

struct Target {
    group: String,
    version: String,
    namespace: Option<String>,
    plural: String,
    name: Option<String>,
    sub: Option<String>,
}

fn parse_path(path: &str) -> Option<Target> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, version, rest) = match *segs.first()? {
        "api" => ("", *segs.get(1)?, &segs[2..]),
        "apis" => (*segs.get(1)?, *segs.get(2)?, &segs[3..]),
        _ => return None,
    };
    let (namespace, rest) = if rest.first() == Some(&"namespaces") && rest.len() >= 3 {
        (Some(rest[1].to_string()), &rest[2..])
    } else {
        (None, rest)
    };
    Some(Target {
        group: group.into(),
        version: version.into(),
        namespace,
        plural: rest.first()?.to_string(),
        name: rest.get(1).map(|s| s.to_string()),
        sub: rest.get(2).map(|s| s.to_string()),
    })
}

fn query_map(q: &str) -> HashMap<String, String> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let h = std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(h, 16) {
                    Ok(v) => {
                        out.push(v);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Kinds the server knows: plural → (kind, has a status subresource).
fn kind_of(plural: &str) -> (&'static str, bool) {
    match plural {
        "webedts" => ("WebEDT", true),
        "deployments" => ("Deployment", true),
        "services" => ("Service", true),
        "secrets" => ("Secret", false),
        "configmaps" => ("ConfigMap", false),
        "jobs" => ("Job", true),
        "poddisruptionbudgets" => ("PodDisruptionBudget", true),
        "horizontalpodautoscalers" => ("HorizontalPodAutoscaler", true),
        "ingresses" => ("Ingress", true),
        "networkpolicies" => ("NetworkPolicy", false),
        "leases" => ("Lease", false),
        "events" => ("Event", false),
        "servicemonitors" => ("ServiceMonitor", false),
        "namespaces" => ("Namespace", true),
        _ => ("Unknown", false),
    }
}

fn status_err(code: u16, reason: &str, message: impl Into<String>) -> Response {
    let body = json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {},
        "status": "Failure", "message": message.into(), "reason": reason, "code": code,
    });
    (
        StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        [("content-type", "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn ok_json(code: u16, v: &Value) -> Response {
    (
        StatusCode::from_u16(code).unwrap_or(StatusCode::OK),
        [("content-type", "application/json")],
        v.to_string(),
    )
        .into_response()
}

async fn handle(
    State(s): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    let query = uri.query().unwrap_or("").to_string();
    let q = query_map(&query);
    let watch = q.get("watch").is_some_and(|v| v == "true" || v == "1");
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    if s.log {
        eprintln!(
            "testapi: {method} {path}?{query} [{content_type}] {}",
            String::from_utf8_lossy(&body)
        );
    }
    let driver = headers.contains_key(DRIVER_HEADER);
    lock(&s.requests).push(Request {
        at: Instant::now(),
        method: method.to_string(),
        path: path.clone(),
        query: query.clone(),
        content_type: content_type.clone(),
        watch,
        driver,
    });

    let is_write = method != Method::GET;
    if !watch && !driver {
        let now = Instant::now();
        let active: Vec<Fault> = {
            let mut f = lock(&s.faults);
            f.retain(|(_, until)| *until > now);
            f.iter().map(|(f, _)| *f).collect()
        };
        for f in active {
            match f {
                Fault::Slow(d) => tokio::time::sleep(d).await,
                Fault::Error500 => return status_err(500, "InternalError", "injected fault"),
                Fault::Conflict409 if is_write => {
                    return status_err(409, "Conflict", "injected conflict");
                }
                Fault::Conflict409 => {}
            }
        }
    }

    let Some(t) = parse_path(&path) else {
        return status_err(404, "NotFound", format!("no route {path}"));
    };
    if watch {
        return watch_response(&s, &t, &q);
    }
    let manager = q
        .get("fieldManager")
        .cloned()
        .or_else(|| {
            headers
                .get("user-agent")
                .and_then(|v| v.to_str().ok())
                .map(|u| u.split('/').next().unwrap_or(u).to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    let force = q.get("force").is_some_and(|v| v == "true");

    let mut db = lock(&s.db);
    let res = match (&method, &t.name, t.sub.as_deref()) {
        (&Method::GET, None, _) => list(&db, &t, &q),
        (&Method::GET, Some(name), None | Some("status")) => match db.objects.get(&t.key(name)) {
            Some(o) => ok_json(200, &render(o)),
            None => not_found(&t, name),
        },
        (&Method::GET, Some(name), Some("scale")) => match db.objects.get(&t.key(name)) {
            Some(o) => ok_json(200, &scale_of(&t, &o.value)),
            None => not_found(&t, name),
        },
        (&Method::POST, None, _) => match parse_body(&body) {
            Ok(v) => create(&s, &mut db, &t, v, &manager),
            Err(r) => *r,
        },
        (&Method::PUT, Some(name), sub) => match parse_body(&body) {
            Ok(v) => replace(&s, &mut db, &t, name, sub, v, &manager),
            Err(r) => *r,
        },
        (&Method::PATCH, Some(name), sub) => match parse_body(&body) {
            Ok(v) => patch(
                &s,
                &mut db,
                &t,
                name,
                sub,
                &content_type,
                v,
                &manager,
                force,
            ),
            Err(r) => *r,
        },
        (&Method::DELETE, Some(name), None) => delete(&s, &mut db, &t.key(name)),
        _ => status_err(405, "MethodNotAllowed", format!("{method} {path}")),
    };
    drop(db);
    res
}

fn not_found(t: &Target, name: &str) -> Response {
    status_err(
        404,
        "NotFound",
        format!("{}.{} \"{name}\" not found", t.plural, t.group),
    )
}

fn parse_body(body: &Bytes) -> Result<Value, Box<Response>> {
    serde_json::from_slice(body)
        .or_else(|_| serde_yaml::from_slice(body))
        .map_err(|e| Box::new(status_err(400, "BadRequest", format!("body: {e}"))))
}

impl Target {
    fn res(&self) -> ResKey {
        ResKey {
            group: self.group.clone(),
            plural: self.plural.clone(),
        }
    }
    fn key(&self, name: &str) -> ObjKey {
        ObjKey {
            res: self.res(),
            namespace: self.namespace.clone().unwrap_or_default(),
            name: name.to_string(),
        }
    }
    fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Selectors
// ---------------------------------------------------------------------------------------------

enum Req {
    Eq(String, String),
    Ne(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
}

fn parse_selector(s: &str) -> Vec<Req> {
    // Split on commas outside parentheses.
    let mut parts = Vec::new();
    let (mut depth, mut cur) = (0, String::new());
    for c in s.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    parts.push(cur);
    let set = |v: &str| -> Vec<String> {
        v.trim()
            .trim_start_matches('(')
            .trim_end_matches(')')
            .split(',')
            .map(|x| x.trim().to_string())
            .collect()
    };
    parts
        .iter()
        .map(|p| p.trim())
        .filter(|p| !p.is_empty())
        .map(|p| {
            if let Some((k, v)) = p.split_once(" notin ") {
                Req::NotIn(k.trim().into(), set(v))
            } else if let Some((k, v)) = p.split_once(" in ") {
                Req::In(k.trim().into(), set(v))
            } else if let Some((k, v)) = p.split_once("!=") {
                Req::Ne(k.trim().into(), v.trim().into())
            } else if let Some((k, v)) = p.split_once("==").or_else(|| p.split_once('=')) {
                Req::Eq(k.trim().into(), v.trim().into())
            } else if let Some(k) = p.strip_prefix('!') {
                Req::NotExists(k.trim().into())
            } else {
                Req::Exists(p.into())
            }
        })
        .collect()
}

fn matches(reqs: &[Req], get: impl Fn(&str) -> Option<String>) -> bool {
    reqs.iter().all(|r| match r {
        Req::Eq(k, v) => get(k).as_deref() == Some(v),
        Req::Ne(k, v) => get(k).as_deref() != Some(v),
        Req::In(k, vs) => get(k).is_some_and(|x| vs.contains(&x)),
        Req::NotIn(k, vs) => get(k).is_none_or(|x| !vs.contains(&x)),
        Req::Exists(k) => get(k).is_some(),
        Req::NotExists(k) => get(k).is_none(),
    })
}

struct Filter {
    res: ResKey,
    namespace: Option<String>,
    labels: Vec<Req>,
    fields: Vec<Req>,
}

impl Filter {
    fn new(t: &Target, q: &HashMap<String, String>) -> Self {
        Self {
            res: t.res(),
            namespace: t.namespace.clone(),
            labels: parse_selector(q.get("labelSelector").map(String::as_str).unwrap_or("")),
            fields: parse_selector(q.get("fieldSelector").map(String::as_str).unwrap_or("")),
        }
    }
    fn accepts(&self, res: &ResKey, namespace: &str, v: &Value) -> bool {
        *res == self.res
            && self.namespace.as_deref().is_none_or(|n| n == namespace)
            && matches(&self.labels, |k| {
                v["metadata"]["labels"][k].as_str().map(String::from)
            })
            && matches(&self.fields, |k| {
                let mut cur = v;
                for p in k.split('.') {
                    cur = &cur[p];
                }
                cur.as_str().map(String::from)
            })
    }
}

// ---------------------------------------------------------------------------------------------
// Reads
// ---------------------------------------------------------------------------------------------

fn render(o: &Obj) -> Value {
    let mut v = o.value.clone();
    if !o.owners.is_empty() {
        let api_version = v["apiVersion"].clone();
        let mf: Vec<Value> = o
            .owners
            .iter()
            .filter(|(_, paths)| !paths.is_empty())
            .map(|((manager, op), paths)| {
                let mut tree = Map::new();
                for p in paths {
                    let mut cur = &mut tree;
                    for seg in p {
                        cur = cur
                            .entry(format!("f:{seg}"))
                            .or_insert_with(|| json!({}))
                            .as_object_mut()
                            .expect("object");
                    }
                }
                json!({"manager": manager, "operation": op, "apiVersion": api_version,
                       "fieldsType": "FieldsV1", "fieldsV1": tree})
            })
            .collect();
        v["metadata"]["managedFields"] = Value::Array(mf);
    }
    v
}

/// The stored objects of one resource (all namespaces), in key order.
fn of_res<'a>(db: &'a Db, res: &ResKey) -> impl Iterator<Item = (&'a ObjKey, &'a Obj)> {
    let from = ObjKey {
        res: res.clone(),
        namespace: String::new(),
        name: String::new(),
    };
    db.objects
        .range(from..)
        .take_while(move |(k, _)| k.res == *res)
}

fn list(db: &Db, t: &Target, q: &HashMap<String, String>) -> Response {
    let f = Filter::new(t, q);
    let items: Vec<Value> = of_res(db, &f.res)
        .filter(|(k, o)| f.accepts(&k.res, &k.namespace, &o.value))
        .map(|(_, o)| render(o))
        .collect();
    let (kind, _) = kind_of(&t.plural);
    let mut out = json!({"apiVersion": t.api_version(), "kind": format!("{kind}List"),
                         "metadata": {"resourceVersion": db.rv.to_string()}});
    out["items"] = Value::Array(items);
    ok_json(200, &out)
}

fn watch_response(s: &Arc<Shared>, t: &Target, q: &HashMap<String, String>) -> Response {
    let f = Filter::new(t, q);
    let from: u64 = q
        .get("resourceVersion")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let timeout = q
        .get("timeoutSeconds")
        .and_then(|v| v.parse().ok())
        .unwrap_or(290u64);
    let (replay, rx, gone) = {
        let db = lock(&s.db);
        if from != 0 && from + 1 < db.oldest_rv {
            (VecDeque::new(), s.tx.subscribe(), true)
        } else {
            let replay: VecDeque<Ev> = if from == 0 {
                // "Any": start with the current state, like the apiserver.
                of_res(&db, &f.res)
                    .filter(|(k, o)| f.accepts(&k.res, &k.namespace, &o.value))
                    .map(|(k, o)| Ev {
                        rv: db.rv,
                        type_: "ADDED",
                        res: k.res.clone(),
                        namespace: k.namespace.clone(),
                        object: Arc::new(render(o)),
                    })
                    .collect()
            } else {
                db.history
                    .iter()
                    .filter(|e| e.rv > from && f.accepts(&e.res, &e.namespace, &e.object))
                    .cloned()
                    .collect()
            };
            (replay, s.tx.subscribe(), false)
        }
    };
    if gone {
        let line = json!({"type": "ERROR", "object": {"kind": "Status", "apiVersion": "v1",
            "metadata": {}, "status": "Failure", "reason": "Expired", "code": 410,
            "message": format!("too old resource version: {from}")}})
        .to_string()
            + "\n";
        return (StatusCode::OK, [("content-type", "application/json")], line).into_response();
    }
    let last = replay.back().map(|e| e.rv).unwrap_or(from);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(timeout);
    let live = tokio_stream::wrappers::BroadcastStream::new(rx)
        .take_while(|r| futures::future::ready(r.is_ok()))
        .filter_map(move |r| {
            futures::future::ready(match r {
                Ok(e) if e.rv > last && f.accepts(&e.res, &e.namespace, &e.object) => Some(e),
                _ => None,
            })
        });
    let events = futures::stream::iter(replay)
        .chain(live)
        .take_until(tokio::time::sleep_until(deadline))
        .map(|e| {
            Ok::<_, std::convert::Infallible>(Bytes::from(format!(
                "{{\"type\":\"{}\",\"object\":{}}}\n",
                e.type_, e.object
            )))
        });
    (
        StatusCode::OK,
        [("content-type", "application/json")],
        Body::from_stream(events),
    )
        .into_response()
}

fn scale_of(t: &Target, v: &Value) -> Value {
    let selector = if t.plural == "deployments" {
        v["spec"]["selector"]["matchLabels"]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .unwrap_or_default()
    } else {
        v["status"]["selector"].as_str().unwrap_or("").to_string()
    };
    json!({
        "apiVersion": "autoscaling/v1", "kind": "Scale",
        "metadata": {"name": v["metadata"]["name"], "namespace": v["metadata"]["namespace"],
                     "resourceVersion": v["metadata"]["resourceVersion"], "uid": v["metadata"]["uid"]},
        "spec": {"replicas": v["spec"]["replicas"].as_i64().unwrap_or(1)},
        "status": {"replicas": v["status"]["replicas"].as_i64().unwrap_or(0), "selector": selector},
    })
}

// ---------------------------------------------------------------------------------------------
// Writes
// ---------------------------------------------------------------------------------------------

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Leaves of an applied/created object that carry ownership: spec-like content plus metadata
/// labels, annotations, ownerReferences and finalizers.
fn owned_leaves(v: &Value) -> BTreeSet<FieldPath> {
    let mut out = BTreeSet::new();
    let Some(m) = v.as_object() else {
        return out;
    };
    for (k, child) in m {
        match k.as_str() {
            "apiVersion" | "kind" | "status" => {}
            "metadata" => {
                for mk in ["labels", "annotations", "ownerReferences", "finalizers"] {
                    if let Some(c) = child.get(mk) {
                        leaves(c, &mut vec!["metadata".into(), mk.into()], &mut out);
                    }
                }
            }
            _ => leaves(child, &mut vec![k.clone()], &mut out),
        }
    }
    out
}

fn leaves(v: &Value, path: &mut FieldPath, out: &mut BTreeSet<FieldPath>) {
    match v.as_object() {
        Some(m) if !m.is_empty() => {
            for (k, c) in m {
                path.push(k.clone());
                leaves(c, path, out);
                path.pop();
            }
        }
        _ => {
            out.insert(path.clone());
        }
    }
}

fn at<'a>(v: &'a Value, p: &[String]) -> Option<&'a Value> {
    let mut cur = v;
    for seg in p {
        cur = cur.as_object()?.get(seg)?;
    }
    Some(cur)
}

fn remove_at(v: &mut Value, p: &[String]) {
    let Some((last, parents)) = p.split_last() else {
        return;
    };
    let mut cur = v;
    for seg in parents {
        match cur.as_object_mut().and_then(|m| m.get_mut(seg)) {
            Some(c) => cur = c,
            None => return,
        }
    }
    if let Some(m) = cur.as_object_mut() {
        m.remove(last);
    }
}

/// Deep merge for apply: maps merge, everything else replaces.
fn apply_merge(target: &mut Value, patch: &Value) {
    match (target.as_object_mut(), patch.as_object()) {
        (Some(t), Some(p)) => {
            for (k, v) in p {
                match t.get_mut(k) {
                    Some(tv) if tv.is_object() && v.is_object() => apply_merge(tv, v),
                    _ => {
                        t.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        _ => *target = patch.clone(),
    }
}

/// RFC 7386 merge patch; with `strategic`, lists of objects that all have a `name` merge by it.
fn merge_patch(target: &mut Value, patch: &Value, strategic: bool) {
    let Some(p) = patch.as_object() else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = json!({});
    }
    let t = target.as_object_mut().expect("object");
    for (k, v) in p {
        if k.starts_with("$patch")
            || k.starts_with("$setElementOrder")
            || k.starts_with("$retainKeys")
        {
            continue;
        }
        if v.is_null() {
            t.remove(k);
            continue;
        }
        let named = |a: &Value| {
            a.as_array()
                .is_some_and(|a| !a.is_empty() && a.iter().all(|e| e.get("name").is_some()))
        };
        match t.get_mut(k) {
            Some(tv) if strategic && named(tv) && named(v) => {
                let arr = tv.as_array_mut().expect("array");
                for pe in v.as_array().expect("array") {
                    match arr.iter_mut().find(|e| e.get("name") == pe.get("name")) {
                        Some(e) => merge_patch(e, pe, true),
                        None => arr.push(pe.clone()),
                    }
                }
            }
            Some(tv) if v.is_object() => merge_patch(tv, v, strategic),
            _ => {
                let mut nv = json!({});
                if v.is_object() {
                    merge_patch(&mut nv, v, strategic);
                } else {
                    nv = v.clone();
                }
                t.insert(k.clone(), nv);
            }
        }
    }
}

/// Whether two objects are equal in their top-level keys other than `skip`.
fn eq_except(a: &Value, b: &Value, skip: &[&str]) -> bool {
    match (a.as_object(), b.as_object()) {
        (Some(a), Some(b)) => {
            let kept = |m: &'_ Map<String, Value>| {
                m.iter()
                    .filter(|(k, _)| !skip.contains(&k.as_str()))
                    .count()
            };
            kept(a) == kept(b)
                && a.iter()
                    .filter(|(k, _)| !skip.contains(&k.as_str()))
                    .all(|(k, v)| b.get(k) == Some(v))
        }
        _ => a == b,
    }
}

/// The spec-like part (everything but metadata, status, apiVersion, kind) is equal.
fn same_spec(a: &Value, b: &Value) -> bool {
    eq_except(a, b, &["metadata", "status", "apiVersion", "kind"])
}

/// Equal but for resourceVersion and managedFields.
fn same_but_volatile(a: &Value, b: &Value) -> bool {
    eq_except(a, b, &["metadata"])
        && eq_except(
            &a["metadata"],
            &b["metadata"],
            &["resourceVersion", "managedFields"],
        )
}

fn defaults(plural: &str, v: &mut Value) {
    if plural == "secrets"
        && let Some(sd) = v.as_object_mut().and_then(|m| m.remove("stringData"))
        && let Some(sd) = sd.as_object()
    {
        use base64::Engine;
        for (k, val) in sd {
            let enc = base64::engine::general_purpose::STANDARD.encode(val.as_str().unwrap_or(""));
            v["data"][k] = json!(enc);
        }
    }
    if plural == "deployments" && v["spec"].is_object() && v["spec"].get("replicas").is_none() {
        v["spec"]["replicas"] = json!(1);
    }
}

/// Update-operation ownership: `manager` takes the leaves whose value changed.
fn take_changed(owners: &mut Owners, manager: &str, old: &Value, new: &Value) {
    let old_l = owned_leaves(old);
    let new_l = owned_leaves(new);
    let changed: Vec<FieldPath> = new_l
        .iter()
        .filter(|p| at(old, p) != at(new, p))
        .cloned()
        .collect();
    for set in owners.values_mut() {
        set.retain(|p| new_l.contains(p));
        for p in &changed {
            set.remove(p);
        }
    }
    let _ = old_l;
    if !changed.is_empty() {
        owners
            .entry((manager.to_string(), "Update".into()))
            .or_default()
            .extend(changed);
    }
    owners.retain(|_, s| !s.is_empty());
}

/// Stores `new` under `k` (a write): bumps resourceVersion and generation, emits the event.
/// Returns the rendered object. A write that changes nothing is not stored.
fn commit(s: &Shared, db: &mut Db, k: &ObjKey, mut new: Value, owners: Owners) -> Value {
    let (kind, _) = kind_of(&k.res.plural);
    if let Some(old) = db.objects.get(&k.clone()) {
        if old.owners == owners && same_but_volatile(&old.value, &new) {
            return render(old);
        }
        if !same_spec(&old.value, &new) {
            let g = old.value["metadata"]["generation"].as_i64().unwrap_or(1);
            new["metadata"]["generation"] = json!(g + 1);
        }
    }
    if new.get("kind").is_none() && kind != "Unknown" {
        new["kind"] = json!(kind);
    }
    db.rv += 1;
    new["metadata"]["resourceVersion"] = json!(db.rv.to_string());
    if let Some(uid) = new["metadata"]["uid"].as_str() {
        db.uids.insert(uid.to_string());
    }
    if let Some(refs) = new["metadata"]["ownerReferences"].as_array()
        && refs
            .iter()
            .any(|r| !db.uids.contains(r["uid"].as_str().unwrap_or("")))
    {
        db.gc_due = true;
    }
    let finalizing = new["metadata"]["deletionTimestamp"].is_string()
        && new["metadata"]["finalizers"]
            .as_array()
            .is_none_or(|f| f.is_empty());
    let existed = db.objects.contains_key(k);
    let obj = Obj { value: new, owners };
    let rendered = render(&obj);
    db.objects.insert(k.clone(), obj);
    record(
        s,
        db,
        if existed { "MODIFIED" } else { "ADDED" },
        k,
        &rendered,
    );
    if finalizing {
        remove(s, db, k);
    }
    rendered
}

fn record(s: &Shared, db: &mut Db, type_: &'static str, k: &ObjKey, v: &Value) {
    let ev = Ev {
        rv: db.rv,
        type_,
        res: k.res.clone(),
        namespace: k.namespace.clone(),
        object: Arc::new(v.clone()),
    };
    db.history.push_back(ev.clone());
    while db.history.len() > HISTORY {
        if let Some(e) = db.history.pop_front() {
            db.oldest_rv = e.rv + 1;
        }
    }
    let _ = s.tx.send(ev);
}

/// Removes an object now, then garbage-collects dependents whose owners are all gone.
fn remove(s: &Shared, db: &mut Db, k: &ObjKey) {
    let Some(o) = db.objects.remove(k) else {
        return;
    };
    if let Some(uid) = o.value["metadata"]["uid"].as_str() {
        db.uids.remove(uid);
    }
    db.rv += 1;
    let mut v = render(&o);
    v["metadata"]["resourceVersion"] = json!(db.rv.to_string());
    record(s, db, "DELETED", k, &v);
    collect_garbage(s, db);
}

/// Background garbage collection: deletes objects whose owners are all gone (also ones
/// created with an owner that no longer exists, as the real collector does).
fn collect_garbage(s: &Shared, db: &mut Db) {
    db.gc_due = false;
    loop {
        let uids = &db.uids;
        let orphans: Vec<ObjKey> = db
            .objects
            .iter()
            .filter(|(_, o)| {
                o.value["metadata"]["deletionTimestamp"].is_null()
                    && o.value["metadata"]["ownerReferences"]
                        .as_array()
                        .is_some_and(|refs| {
                            !refs.is_empty()
                                && refs
                                    .iter()
                                    .all(|r| !uids.contains(r["uid"].as_str().unwrap_or("")))
                        })
            })
            .map(|(k, _)| k.clone())
            .collect();
        if orphans.is_empty() {
            break;
        }
        for k in orphans {
            delete_in(s, db, &k);
        }
    }
}

fn delete_in(s: &Shared, db: &mut Db, k: &ObjKey) -> Option<Value> {
    let o = db.objects.get(k)?;
    let has_finalizers = o.value["metadata"]["finalizers"]
        .as_array()
        .is_some_and(|f| !f.is_empty());
    if has_finalizers {
        let mut v = o.value.clone();
        let owners = o.owners.clone();
        if v["metadata"]["deletionTimestamp"].is_null() {
            v["metadata"]["deletionTimestamp"] = json!(now());
            return Some(commit(s, db, k, v, owners));
        }
        return Some(render(o));
    }
    let v = render(o);
    remove(s, db, k);
    Some(v)
}

fn delete(s: &Shared, db: &mut Db, k: &ObjKey) -> Response {
    match delete_in(s, db, k) {
        Some(v) => ok_json(200, &v),
        None => status_err(
            404,
            "NotFound",
            format!("{} \"{}\" not found", k.res.plural, k.name),
        ),
    }
}

fn create(s: &Shared, db: &mut Db, t: &Target, mut v: Value, manager: &str) -> Response {
    let name = match v["metadata"]["name"].as_str() {
        Some(n) => n.to_string(),
        None => match v["metadata"]["generateName"].as_str() {
            Some(g) => {
                db.uid_seq += 1;
                format!("{g}{:05x}", db.uid_seq)
            }
            None => return status_err(422, "Invalid", "metadata.name: Required value"),
        },
    };
    let k = t.key(&name);
    if db.objects.contains_key(&k) {
        return status_err(
            409,
            "AlreadyExists",
            format!("{}.{} \"{name}\" already exists", t.plural, t.group),
        );
    }
    prepare_new(db, t, &mut v, &name);
    let mut owners = Owners::new();
    let l = owned_leaves(&v);
    if !l.is_empty() {
        owners.insert((manager.to_string(), "Update".into()), l);
    }
    ok_json(201, &commit(s, db, &k, v, owners))
}

fn prepare_new(db: &mut Db, t: &Target, v: &mut Value, name: &str) {
    db.uid_seq += 1;
    if !v.is_object() {
        *v = json!({});
    }
    if !v["metadata"].is_object() {
        v["metadata"] = json!({});
    }
    v["metadata"]["name"] = json!(name);
    if let Some(ns) = &t.namespace {
        v["metadata"]["namespace"] = json!(ns);
    }
    v["metadata"]["uid"] = json!(format!("00000000-0000-4000-8000-{:012x}", db.uid_seq));
    v["metadata"]["creationTimestamp"] = json!(now());
    v["metadata"]["generation"] = json!(1);
    if let Some(m) = v["metadata"].as_object_mut() {
        m.remove("resourceVersion");
        m.remove("managedFields");
        m.remove("deletionTimestamp");
    }
    v["apiVersion"] = json!(t.api_version());
    let (kind, has_status) = kind_of(&t.plural);
    if kind != "Unknown" {
        v["kind"] = json!(kind);
    }
    if has_status && let Some(m) = v.as_object_mut() {
        m.remove("status");
    }
    defaults(&t.plural, v);
}

/// Keeps the server-owned metadata of `old` in `new`.
fn keep_system_meta(old: &Value, new: &mut Value) {
    for f in [
        "name",
        "namespace",
        "uid",
        "creationTimestamp",
        "generation",
        "deletionTimestamp",
    ] {
        if let Some(v) = old["metadata"].get(f) {
            new["metadata"][f] = v.clone();
        }
    }
    new["apiVersion"] = old["apiVersion"].clone();
    new["kind"] = old["kind"].clone();
}

fn stale(old: &Value, body: &Value) -> bool {
    body["metadata"]["resourceVersion"]
        .as_str()
        .is_some_and(|rv| !rv.is_empty() && Some(rv) != old["metadata"]["resourceVersion"].as_str())
}

fn conflict_stale(name: &str) -> Response {
    status_err(
        409,
        "Conflict",
        format!(
            "Operation cannot be fulfilled on \"{name}\": the object has been modified; please apply your changes to the latest version and try again"
        ),
    )
}

fn replace(
    s: &Shared,
    db: &mut Db,
    t: &Target,
    name: &str,
    sub: Option<&str>,
    body: Value,
    manager: &str,
) -> Response {
    let k = t.key(name);
    let Some(old) = db.objects.get(&k) else {
        return not_found(t, name);
    };
    if stale(&old.value, &body) {
        return conflict_stale(name);
    }
    let (_, has_status) = kind_of(&t.plural);
    let new = match sub {
        Some("status") => {
            let mut n = old.value.clone();
            n["status"] = body["status"].clone();
            n
        }
        Some("scale") => {
            let mut n = old.value.clone();
            n["spec"]["replicas"] = body["spec"]["replicas"].clone();
            n
        }
        _ => {
            let mut n = body;
            if has_status {
                n["status"] = old.value["status"].clone();
                if n["status"].is_null()
                    && let Some(m) = n.as_object_mut()
                {
                    m.remove("status");
                }
            }
            n
        }
    };
    finish_update(s, db, t, &k, new, manager, sub)
}

#[allow(clippy::too_many_arguments)]
fn patch(
    s: &Shared,
    db: &mut Db,
    t: &Target,
    name: &str,
    sub: Option<&str>,
    content_type: &str,
    body: Value,
    manager: &str,
    force: bool,
) -> Response {
    let ct = content_type.split(';').next().unwrap_or("").trim();
    let k = t.key(name);
    if ct == "application/apply-patch+yaml" {
        if sub.is_some() {
            return status_err(
                415,
                "UnsupportedMediaType",
                "apply on subresources is not implemented by the test API server",
            );
        }
        return apply(s, db, t, name, body, manager, force);
    }
    let strategic = match ct {
        "application/merge-patch+json" => false,
        "application/strategic-merge-patch+json" => true,
        _ => return status_err(415, "UnsupportedMediaType", format!("patch type {ct}")),
    };
    let Some(old) = db.objects.get(&k) else {
        return not_found(t, name);
    };
    if stale(&old.value, &body) {
        return conflict_stale(name);
    }
    let (_, has_status) = kind_of(&t.plural);
    let new = match sub {
        Some("scale") => {
            let mut scale = scale_of(t, &old.value);
            merge_patch(&mut scale, &body, false);
            let mut n = old.value.clone();
            n["spec"]["replicas"] = scale["spec"]["replicas"].clone();
            n
        }
        Some("status") => {
            let mut n = old.value.clone();
            merge_patch(&mut n, &body, strategic);
            let mut keep = old.value.clone();
            keep["status"] = n["status"].clone();
            if keep["status"].is_null()
                && let Some(m) = keep.as_object_mut()
            {
                m.remove("status");
            }
            keep
        }
        _ => {
            let mut n = old.value.clone();
            merge_patch(&mut n, &body, strategic);
            if has_status {
                match old.value.get("status") {
                    Some(st) => n["status"] = st.clone(),
                    None => {
                        if let Some(m) = n.as_object_mut() {
                            m.remove("status");
                        }
                    }
                }
            }
            n
        }
    };
    finish_update(s, db, t, &k, new, manager, sub)
}

/// The end of every update (PUT or non-apply PATCH) of an existing object: system metadata
/// kept, defaults filled, the changed fields moved to `manager`, committed, and answered with the
/// object (or its scale view).
fn finish_update(
    s: &Shared,
    db: &mut Db,
    t: &Target,
    k: &ObjKey,
    mut new: Value,
    manager: &str,
    sub: Option<&str>,
) -> Response {
    let owners = {
        let old = db.objects.get(k).expect("the caller found the object");
        keep_system_meta(&old.value, &mut new);
        defaults(&t.plural, &mut new);
        let mut owners = old.owners.clone();
        take_changed(&mut owners, manager, &old.value, &new);
        owners
    };
    let out = commit(s, db, k, new, owners);
    if sub == Some("scale") {
        return ok_json(200, &scale_of(t, &out));
    }
    ok_json(200, &out)
}

/// Server-side apply of `body` by `manager`.
fn apply(
    s: &Shared,
    db: &mut Db,
    t: &Target,
    name: &str,
    body: Value,
    manager: &str,
    force: bool,
) -> Response {
    if body.get("apiVersion").is_none() || body.get("kind").is_none() {
        return status_err(
            400,
            "BadRequest",
            "apply patches must carry apiVersion and kind",
        );
    }
    let k = t.key(name);
    let me = (manager.to_string(), "Apply".to_string());
    let applied = owned_leaves(&body);
    let (mut new, mut owners, created) = match db.objects.get(&k) {
        Some(old) => {
            if stale(&old.value, &body) {
                return conflict_stale(name);
            }
            // Conflicts: fields another manager owns whose value this apply would change.
            let mut conflicts = Vec::new();
            for ((m, _), paths) in &old.owners {
                if m == manager {
                    continue;
                }
                for p in paths.intersection(&applied) {
                    if at(&old.value, p) != at(&body, p) {
                        conflicts.push(format!("conflict with \"{m}\": .{}", p.join(".")));
                    }
                }
            }
            let mut owners = old.owners.clone();
            if !conflicts.is_empty() {
                if !force {
                    return status_err(
                        409,
                        "Conflict",
                        format!(
                            "Apply failed with {} conflict(s): {}",
                            conflicts.len(),
                            conflicts.join("; ")
                        ),
                    );
                }
                for (mk, set) in owners.iter_mut() {
                    if mk.0 != manager {
                        set.retain(|p| !applied.contains(p) || at(&old.value, p) == at(&body, p));
                    }
                }
            }
            let mut new = old.value.clone();
            // Fields this manager applied before and no longer sends, owned by nobody else,
            // are removed.
            if let Some(prev) = old.owners.get(&me) {
                for p in prev.difference(&applied) {
                    let others = owners.iter().any(|(mk, set)| *mk != me && set.contains(p));
                    if !others {
                        remove_at(&mut new, p);
                    }
                }
            }
            let mut body = body.clone();
            let (_, has_status) = kind_of(&t.plural);
            if has_status && let Some(m) = body.as_object_mut() {
                m.remove("status");
            }
            if let Some(m) = body["metadata"].as_object_mut() {
                for f in [
                    "name",
                    "namespace",
                    "uid",
                    "resourceVersion",
                    "generation",
                    "creationTimestamp",
                    "managedFields",
                ] {
                    m.remove(f);
                }
            }
            apply_merge(&mut new, &body);
            keep_system_meta(&old.value, &mut new);
            (new, owners, false)
        }
        None => {
            let mut v = body.clone();
            prepare_new(db, t, &mut v, name);
            (v, Owners::new(), true)
        }
    };
    defaults(&t.plural, &mut new);
    owners.insert(me, applied);
    owners.retain(|_, s| !s.is_empty());
    let out = commit(s, db, &k, new, owners);
    ok_json(if created { 201 } else { 200 }, &out)
}

// ---------------------------------------------------------------------------------------------
// Simulated controllers
// ---------------------------------------------------------------------------------------------

fn simulate(s: &Shared) {
    let (rollout, job_duration, fail_images) = {
        let sim = lock(&s.sim);
        (sim.rollout, sim.job_duration, sim.fail_images.clone())
    };
    let mut db = lock(&s.db);
    if db.gc_due {
        collect_garbage(s, &mut db);
    }
    let res = |group: &str, plural: &str| ResKey {
        group: group.into(),
        plural: plural.into(),
    };
    let keys: Vec<ObjKey> = of_res(&db, &res("apps", "deployments"))
        .chain(of_res(&db, &res("batch", "jobs")))
        .filter(|(_, o)| o.value["metadata"]["deletionTimestamp"].is_null())
        .filter(|(_, o)| {
            // A Deployment found settled at this resourceVersion is still settled.
            let m = &o.value["metadata"];
            m["uid"]
                .as_str()
                .and_then(|uid| db.settled.get(uid))
                .is_none_or(|rv| m["resourceVersion"].as_str() != Some(rv))
        })
        .map(|(k, _)| k.clone())
        .collect();
    let db: &mut Db = &mut db;
    for k in keys {
        let Some(o) = db.objects.get(&k) else {
            continue;
        };
        let v = &o.value;
        let uid = v["metadata"]["uid"].as_str().unwrap_or("").to_string();
        let new_status = if k.res.plural == "deployments" {
            if !rollout {
                continue;
            }
            let desired = v["spec"]["replicas"].as_i64().unwrap_or(1);
            let hash = v["spec"]["template"].to_string();
            let st = &v["status"];
            let mut updated = st["updatedReplicas"].as_i64().unwrap_or(0);
            let mut ready = st["readyReplicas"].as_i64().unwrap_or(0);
            let new_template = db.rolled.get(&uid) != Some(&hash);
            if new_template {
                updated = 0;
            } else {
                updated = step(updated, desired);
            }
            ready = step(ready, desired);
            let available = ready;
            let status = json!({
                "observedGeneration": v["metadata"]["generation"],
                "replicas": desired, "updatedReplicas": updated,
                "readyReplicas": ready, "availableReplicas": available,
                "conditions": [{"type": "Available",
                                "status": if available >= desired { "True" } else { "False" }}],
            });
            if new_template {
                db.rolled.insert(uid.clone(), hash);
            } else if v["status"] == status {
                let rv = v["metadata"]["resourceVersion"].as_str().unwrap_or("");
                db.settled.insert(uid, rv.to_string());
                continue;
            }
            status
        } else {
            let st = &v["status"];
            if st["succeeded"].as_i64().unwrap_or(0) > 0 || st["failed"].as_i64().unwrap_or(0) > 0 {
                continue;
            }
            let started = *db
                .job_started
                .entry(uid.clone())
                .or_insert_with(Instant::now);
            if started.elapsed() < job_duration {
                if st["active"].as_i64() == Some(1) {
                    continue;
                }
                json!({"active": 1, "startTime": now()})
            } else {
                let image = v["spec"]["template"]["spec"]["containers"][0]["image"]
                    .as_str()
                    .unwrap_or("");
                let mut done = st.clone();
                if !done.is_object() {
                    done = json!({});
                }
                if let Some(m) = done.as_object_mut() {
                    m.remove("active");
                }
                if fail_images.contains(image) {
                    done["failed"] = json!(v["spec"]["backoffLimit"].as_i64().unwrap_or(6) + 1);
                    done["conditions"] = json!([{"type": "Failed", "status": "True",
                        "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit"}]);
                } else {
                    done["succeeded"] = json!(1);
                    done["completionTime"] = json!(now());
                    done["conditions"] = json!([{"type": "Complete", "status": "True"}]);
                }
                done
            }
        };
        if v["status"] != new_status {
            let mut n = v.clone();
            n["status"] = new_status;
            let owners = o.owners.clone();
            commit(s, db, &k, n, owners);
        }
    }
}

fn step(cur: i64, target: i64) -> i64 {
    match cur.cmp(&target) {
        std::cmp::Ordering::Less => cur + 1,
        std::cmp::Ordering::Greater => target,
        std::cmp::Ordering::Equal => cur,
    }
}
