//! Harness for the controller tests: a test API server, a kube client on it, the real
//! controller, and polling helpers with generous deadlines.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::{Client, Config};
use serde_json::{Value, json};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use webedt_operator::controller::http::{Health, Metrics};
use webedt_operator::controller::{Settings, run};
use webedt_operator::crd::WebEDT;
use webedt_testapi::TestApi;

pub const NS: &str = "apps";
pub const IMAGE: &str = "ghcr.io/webedt/webedt-api:1.0.0";
/// Behaviour deadline: far above what any step needs, so only a broken feature hits it.
pub const DEADLINE: Duration = Duration::from_secs(20);

pub struct Env {
    pub api: TestApi,
    pub client: Client,
    pub health: Arc<Health>,
    operator: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for Env {
    fn drop(&mut self) {
        if let Some(t) = self.operator.take() {
            t.abort();
        }
    }
}

/// The test's own client: its requests are marked (and exempt from injected faults).
pub fn client_for(api: &TestApi) -> Client {
    let mut config = Config::new(api.url().parse().expect("url"));
    config.headers.push((
        webedt_testapi::DRIVER_HEADER.parse().unwrap(),
        "1".parse().unwrap(),
    ));
    Client::try_from(config).expect("client")
}

pub fn test_settings() -> Settings {
    let mut s = Settings::new("test-operator");
    s.leader_election = false;
    s.backoff_base = Duration::from_millis(100);
    s.backoff_max = Duration::from_secs(2);
    s
}

impl Env {
    /// A server, a client, and the controller running with `settings`.
    pub async fn start_with(settings: Settings) -> Self {
        Self::start_on(TestApi::start().await, settings).await
    }

    /// The operator against `api`, prepared by the test (e.g. a kind it does not serve).
    pub async fn start_on(api: TestApi, settings: Settings) -> Self {
        let client = client_for(&api);
        let health = Arc::new(Health::new(Arc::new(Metrics::new())));
        // The operator's own client: unmarked, so faults hit it.
        let c = Client::try_from(Config::new(api.url().parse().expect("url"))).expect("client");
        let h = health.clone();
        let operator = tokio::spawn(async move {
            run(c, settings, h, std::future::pending())
                .await
                .expect("operator runs");
        });
        Self {
            api,
            client,
            health,
            operator: Some(operator),
        }
    }

    /// A server and a client, no operator (tests that run the binary).
    pub async fn bare() -> Self {
        let api = TestApi::start().await;
        let client = client_for(&api);
        Self {
            api,
            client,
            health: Arc::new(Health::new(Arc::new(Metrics::new()))),
            operator: None,
        }
    }

    pub async fn start() -> Self {
        Self::start_with(test_settings()).await
    }

    pub fn webedts(&self) -> Api<WebEDT> {
        Api::namespaced(self.client.clone(), NS)
    }

    pub fn api<K>(&self) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
    {
        Api::namespaced(self.client.clone(), NS)
    }

    /// The database Secret `db` with key `uri`.
    pub async fn db_secret(&self) {
        self.secret("db", "uri", "postgres://u:p@db/app").await;
    }

    pub async fn secret(&self, name: &str, key: &str, value: &str) {
        let s: Secret = serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": name, "namespace": NS},
            "stringData": {key: value},
        }))
        .unwrap();
        self.api::<Secret>()
            .create(&PostParams::default(), &s)
            .await
            .expect("create Secret");
    }

    /// Creates a WebEDT named `name` with the minimal spec plus `extra` spec fields.
    pub async fn create(&self, name: &str, extra: Value) -> WebEDT {
        let mut spec = json!({"image": IMAGE, "database": {"secretRef": {"name": "db"}}});
        for (k, v) in extra.as_object().unwrap() {
            spec[k] = v.clone();
        }
        let cr: WebEDT = serde_json::from_value(json!({
            "apiVersion": "webedt.dev/v1alpha1", "kind": "WebEDT",
            "metadata": {"name": name, "namespace": NS},
            "spec": spec,
        }))
        .unwrap();
        self.webedts()
            .create(&PostParams::default(), &cr)
            .await
            .expect("create WebEDT")
    }

    /// `kubectl patch --type merge` of the spec.
    pub async fn patch_spec(&self, name: &str, spec: Value) -> WebEDT {
        self.webedts()
            .patch(
                name,
                &PatchParams::default(),
                &Patch::Merge(json!({ "spec": spec })),
            )
            .await
            .expect("patch WebEDT")
    }

    pub async fn cr(&self, name: &str) -> WebEDT {
        self.webedts().get(name).await.expect("get WebEDT")
    }

    pub async fn deployment(&self, name: &str) -> Option<Deployment> {
        self.api::<Deployment>().get_opt(name).await.expect("get")
    }

    /// Waits until the WebEDT is Ready for its current generation.
    pub async fn wait_ready(&self, name: &str) -> WebEDT {
        self.wait_cr(name, "Ready=True for the current generation", |cr| {
            is_current(cr, "Ready", "True")
        })
        .await
    }

    /// Waits until `check` holds for the WebEDT.
    pub async fn wait_cr(&self, name: &str, what: &str, check: impl Fn(&WebEDT) -> bool) -> WebEDT {
        let api = self.webedts();
        let mut last = None;
        let deadline = tokio::time::Instant::now() + DEADLINE;
        while tokio::time::Instant::now() < deadline {
            if let Ok(cr) = api.get(name).await {
                if check(&cr) {
                    return cr;
                }
                last = Some(cr);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "WebEDT {name}: not {what} within {DEADLINE:?}; last status: {:#?}",
            last.map(|c| c.status)
        );
    }

    /// Events (events.k8s.io/v1) about `name`.
    pub fn events_for(&self, name: &str) -> Vec<Value> {
        self.api
            .list("events.k8s.io", "events", NS)
            .into_iter()
            .filter(|e| e["regarding"]["name"] == name)
            .collect()
    }

    pub fn event_reasons(&self, name: &str) -> Vec<String> {
        self.events_for(name)
            .iter()
            .map(|e| e["reason"].as_str().unwrap_or("").to_string())
            .collect()
    }
}

pub fn condition<'a>(cr: &'a WebEDT, type_: &str) -> Option<&'a Condition> {
    cr.status
        .as_ref()?
        .conditions
        .iter()
        .find(|c| c.type_ == type_)
}

/// The condition has `status` and describes the current generation.
pub fn is_current(cr: &WebEDT, type_: &str, status: &str) -> bool {
    let g = cr.metadata.generation;
    condition(cr, type_).is_some_and(|c| c.status == status && c.observed_generation == g)
        && cr.status.as_ref().and_then(|s| s.observed_generation) == g
}

/// Polls `check` until it returns Some, or panics with `what`.
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("not within {DEADLINE:?}: {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub fn env_of(d: &Deployment) -> Vec<(String, Option<String>)> {
    d.spec.template.spec.as_ref().unwrap().containers[0]
        .env
        .iter()
        .flatten()
        .map(|e| (e.name.clone(), e.value.clone()))
        .collect()
}

pub fn env_value(d: &Deployment, name: &str) -> Option<String> {
    env_of(d)
        .into_iter()
        .find(|(n, _)| n == name)
        .and_then(|(_, v)| v)
}

pub fn image_of(d: &Deployment) -> String {
    d.spec.template.spec.as_ref().unwrap().containers[0]
        .image
        .clone()
        .unwrap()
}

pub fn pod_annotation(d: &Deployment, key: &str) -> Option<String> {
    d.spec
        .template
        .metadata
        .as_ref()?
        .annotations
        .as_ref()?
        .get(key)
        .cloned()
}
