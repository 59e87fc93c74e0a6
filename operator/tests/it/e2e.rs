//! End-to-end against a real cluster (kind, k3d, …). Ignored by a plain `cargo test` (so the
//! suite reports them as ignored, never as passed); run with `--ignored` and
//! `WEBEDT_E2E_KUBECONFIG` naming a kubeconfig, and they fail without one. They install the CRD
//! (server-side apply), run the controller in-process against that cluster, and work in a fresh
//! namespace they delete afterwards.
//!
//! ```sh
//! kind create cluster --name webedt            # or: k3d cluster create webedt
//! kind get kubeconfig --name webedt > /tmp/webedt-e2e.yaml
//! WEBEDT_E2E_KUBECONFIG=/tmp/webedt-e2e.yaml \
//!   cargo test -p webedt-operator --test it -- --ignored --test-threads=1 --nocapture e2e::
//! ```
//!
//! Pods need not start for these checks (the image is never pulled successfully unless
//! `WEBEDT_E2E_IMAGE` names a webedt-api image the cluster can pull and `WEBEDT_E2E_DATABASE_URL`
//! a database the pods can reach; only then is Ready awaited).

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{Namespace, Secret, Service};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config, CustomResourceExt};
use serde_json::json;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use webedt_operator::controller::http::{Health, Metrics};
use webedt_operator::controller::{HANDOVER_MANAGER, Settings, run};
use webedt_operator::crd::WebEDT;

const DEADLINE: Duration = Duration::from_secs(120);

async fn cluster() -> Option<Client> {
    let path = std::env::var("WEBEDT_E2E_KUBECONFIG").ok()?;
    let kc = Kubeconfig::read_from(&path).expect("WEBEDT_E2E_KUBECONFIG is a kubeconfig");
    let config = Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .expect("usable kubeconfig");
    Some(Client::try_from(config).expect("client"))
}

async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not within {DEADLINE:?}: {what}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

struct Cluster {
    client: Client,
    ns: String,
    operator: tokio::task::JoinHandle<()>,
}

impl Cluster {
    async fn start() -> Self {
        let client = cluster()
            .await
            .expect("WEBEDT_E2E_KUBECONFIG must name a kubeconfig for the real-cluster suite");
        let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
        crds.patch(
            "webedts.webedt.dev",
            &PatchParams::apply("webedt-e2e").force(),
            &Patch::Apply(WebEDT::crd()),
        )
        .await
        .expect("install the CRD");
        eventually("the CRD is established", || async {
            let crd = crds.get("webedts.webedt.dev").await.ok()?;
            crd.status?
                .conditions?
                .iter()
                .any(|c| c.type_ == "Established" && c.status == "True")
                .then_some(())
        })
        .await;
        let ns = format!("webedt-e2e-{:08x}", rand::random::<u32>());
        let nss: Api<Namespace> = Api::all(client.clone());
        nss.create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": ns}})).unwrap(),
        )
        .await
        .expect("create the namespace");
        let mut settings = Settings::new("e2e");
        settings.watch_namespace = Some(ns.clone());
        settings.lease_namespace = ns.clone();
        settings.lease_duration = 5;
        settings.lease_grace = 2;
        let (c, h) = (
            client.clone(),
            Arc::new(Health::new(Arc::new(Metrics::new()))),
        );
        let operator = tokio::spawn(async move {
            run(c, settings, h, std::future::pending())
                .await
                .expect("operator runs");
        });
        Self {
            client,
            ns,
            operator,
        }
    }

    fn api<K>(&self) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
    {
        Api::namespaced(self.client.clone(), &self.ns)
    }

    async fn secret(&self, name: &str, key: &str, value: &str) {
        let s: Secret =
            serde_json::from_value(json!({"metadata": {"name": name}, "stringData": {key: value}}))
                .unwrap();
        self.api::<Secret>()
            .create(&PostParams::default(), &s)
            .await
            .unwrap();
    }

    async fn webedt(&self, name: &str, extra: serde_json::Value) {
        let image = std::env::var("WEBEDT_E2E_IMAGE")
            .unwrap_or_else(|_| "ghcr.io/webedt/webedt-api:e2e".into());
        let mut spec = json!({"image": image, "database": {"secretRef": {"name": "db"}},
                              "migrations": {"mode": "OnStartup"}});
        for (k, v) in extra.as_object().unwrap() {
            spec[k] = v.clone();
        }
        let cr: WebEDT = serde_json::from_value(json!({
            "apiVersion": "webedt.dev/v1alpha1", "kind": "WebEDT",
            "metadata": {"name": name}, "spec": spec,
        }))
        .unwrap();
        self.api::<WebEDT>()
            .create(&PostParams::default(), &cr)
            .await
            .unwrap();
    }

    async fn condition(&self, name: &str, type_: &str) -> Option<(String, String)> {
        let cr = self.api::<WebEDT>().get(name).await.ok()?;
        let g = cr.metadata.generation;
        let c = cr
            .status?
            .conditions
            .into_iter()
            .find(|c| c.type_ == type_)?;
        (c.observed_generation == g).then_some((c.status, c.reason))
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.operator.abort();
        let (client, ns) = (self.client.clone(), self.ns.clone());
        // Best effort: remove the namespace (and everything in it).
        let _ = std::thread::spawn(move || {
            tokio::runtime::Runtime::new()
                .unwrap()
                .block_on(async move {
                    let nss: Api<Namespace> = Api::all(client);
                    let _ = nss.delete(&ns, &DeleteParams::background()).await;
                })
        })
        .join();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a real cluster: WEBEDT_E2E_KUBECONFIG and --ignored"]
async fn e2e_the_apiserver_rejects_what_the_cel_rules_forbid() {
    let c = Cluster::start().await;
    let bad: WebEDT = serde_json::from_value(json!({
        "apiVersion": "webedt.dev/v1alpha1", "kind": "WebEDT", "metadata": {"name": "bad"},
        "spec": {"image": "i", "database": {"secretRef": {"name": "db"}},
                 "pool": {"minConnections": 50, "maxConnections": 5}},
    }))
    .unwrap();
    let err = c
        .api::<WebEDT>()
        .create(&PostParams::default(), &bad)
        .await
        .unwrap_err();
    assert!(
        matches!(err, kube::Error::Api(ref e) if e.code == 422),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a real cluster: WEBEDT_E2E_KUBECONFIG and --ignored"]
async fn e2e_children_secret_missing_autoscaling_handover_and_garbage_collection() {
    let c = Cluster::start().await;
    c.webedt("demo", json!({"replicas": 3})).await;
    eventually("Degraded SecretMissing", || async {
        let (s, r) = c.condition("demo", "Degraded").await?;
        (s == "True" && r == "SecretMissing").then_some(())
    })
    .await;
    c.secret(
        "db",
        "uri",
        &std::env::var("WEBEDT_E2E_DATABASE_URL")
            .unwrap_or_else(|_| "postgres://e2e@db/e2e".into()),
    )
    .await;
    let d = eventually("the Deployment", || async {
        c.api::<Deployment>().get_opt("demo").await.ok()?
    })
    .await;
    assert_eq!(d.spec.replicas, Some(3));
    c.api::<Service>().get("demo").await.expect("Service");
    c.api::<PodDisruptionBudget>()
        .get("demo")
        .await
        .expect("PDB");
    c.api::<Secret>()
        .get("demo-session")
        .await
        .expect("session Secret");

    // Real server-side apply: turning autoscaling on must not drop the count to 1.
    c.api::<WebEDT>()
        .patch(
            "demo",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"autoscaling": {"enabled": true, "minReplicas": 2, "maxReplicas": 5}}})),
        )
        .await
        .unwrap();
    eventually("the HPA", || async {
        c.api::<HorizontalPodAutoscaler>()
            .get_opt("demo")
            .await
            .ok()?
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let d = c.api::<Deployment>().get("demo").await.unwrap();
    assert!(
        d.spec.replicas.unwrap_or(1) >= 2,
        "replicas {:?}",
        d.spec.replicas
    );
    assert!(
        d.metadata
            .managed_fields
            .iter()
            .flatten()
            .any(|m| m.manager.as_deref() == Some(HANDOVER_MANAGER)),
        "spec.replicas was handed over"
    );

    if std::env::var("WEBEDT_E2E_IMAGE").is_ok() {
        eventually("Ready", || async {
            (c.condition("demo", "Ready").await?.0 == "True").then_some(())
        })
        .await;
    }

    c.api::<WebEDT>()
        .delete("demo", &DeleteParams::default())
        .await
        .unwrap();
    eventually("the children are garbage-collected", || async {
        (c.api::<Deployment>().get_opt("demo").await.ok()?.is_none()
            && c.api::<Service>().get_opt("demo").await.ok()?.is_none())
        .then_some(())
    })
    .await;
}
