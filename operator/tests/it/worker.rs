//! The workers (spec.worker) with the real controller against the test API server: enabling
//! builds them and reports WorkerReady, disabling deletes them, a worker image change rolls
//! only them, a manual edit is reverted.

use crate::harness::*;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Secret, Service};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::api::{Patch, PatchParams};
use serde_json::{Value, json};
use webedt_contract::names;
use webedt_operator::crd::WebEDT;

const WORKER_IMAGE: &str = "ghcr.io/webedt/webedt-worker:1.0.0";

/// Migrations on startup (no Job in the way) and two workers.
fn with_workers() -> Value {
    json!({
        "migrations": {"mode": "OnStartup"},
        "worker": {"enabled": true, "image": WORKER_IMAGE, "replicas": 2},
    })
}

/// WorkerReady=True for the current generation.
async fn wait_workers_ready(env: &Env) -> WebEDT {
    env.wait_cr(
        "demo",
        "WorkerReady=True for the current generation",
        |cr| is_current(cr, "WorkerReady", "True") && is_current(cr, "Ready", "True"),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enabling_the_worker_builds_its_children_and_reports_worker_ready() {
    let env = Env::start().await;
    env.db_secret().await;
    env.create("demo", with_workers()).await;
    let cr = wait_workers_ready(&env).await;

    let st = cr.status.clone().unwrap();
    assert_eq!(
        (st.worker_replicas, st.worker_ready_replicas),
        (Some(2), Some(2))
    );
    let wr = condition(&cr, "WorkerReady").unwrap();
    assert_eq!(wr.reason, "RolledOut");
    assert!(
        wr.message.starts_with("2 of 2 workers ready"),
        "{}",
        wr.message
    );
    // Shown in the report: the status with workers running.
    eprintln!(
        "WebEDT status with workers running:\n{}",
        serde_yaml::to_string(&st).unwrap()
    );

    let w = env
        .deployment("demo-worker")
        .await
        .expect("worker Deployment");
    assert_eq!(image_of(&w), WORKER_IMAGE);
    assert_eq!(w.spec.replicas, Some(2));
    let svc = env.api::<Service>().get("demo-worker").await.unwrap();
    assert_eq!(svc.spec.unwrap().ports.unwrap()[0].port, 8090);
    env.api::<NetworkPolicy>()
        .get("demo-worker")
        .await
        .expect("worker NetworkPolicy");
    let secret = env.api::<Secret>().get("demo-worker").await.unwrap();
    assert_eq!(
        secret.data.unwrap()["secret"].0.len(),
        64,
        "32 random bytes, hex"
    );
    let api = env.deployment("demo").await.unwrap();
    assert_eq!(
        env_value(&api, names::AI_WORKER_URL).as_deref(),
        Some("http://demo-worker.apps.svc:8090")
    );
    let reasons = env.event_reasons("demo");
    assert!(
        reasons.contains(&"WorkerSecretCreated".into()),
        "{reasons:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_ready_is_false_while_the_workers_roll_out_and_ready_keeps_meaning_the_api() {
    let env = Env::start().await;
    env.db_secret().await;
    env.create("demo", json!({"migrations": {"mode": "OnStartup"}}))
        .await;
    env.wait_ready("demo").await;
    env.api.set_rollout(false);
    let mut spec = with_workers();
    spec["worker"]["replicas"] = json!(3);
    env.patch_spec("demo", spec).await;
    let cr = env
        .wait_cr(
            "demo",
            "WorkerReady=False for the current generation",
            |cr| is_current(cr, "WorkerReady", "False"),
        )
        .await;
    let wr = condition(&cr, "WorkerReady").unwrap();
    assert!(
        wr.message.starts_with("0 of 3 workers ready"),
        "{}",
        wr.message
    );
    env.api.set_rollout(true);
    let cr = wait_workers_ready(&env).await;
    assert_eq!(cr.status.unwrap().worker_ready_replicas, Some(3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabling_the_worker_deletes_its_children_and_its_status() {
    let env = Env::start().await;
    env.db_secret().await;
    env.create("demo", with_workers()).await;
    wait_workers_ready(&env).await;

    env.patch_spec("demo", json!({"worker": {"enabled": false}}))
        .await;
    eventually(
        "the worker Deployment, Service and NetworkPolicy are deleted",
        || async {
            let gone = env.deployment("demo-worker").await.is_none()
                && env
                    .api::<Service>()
                    .get_opt("demo-worker")
                    .await
                    .unwrap()
                    .is_none()
                && env
                    .api::<NetworkPolicy>()
                    .get_opt("demo-worker")
                    .await
                    .unwrap()
                    .is_none();
            gone.then_some(())
        },
    )
    .await;
    let cr = env
        .wait_cr("demo", "Ready without a WorkerReady condition", |cr| {
            is_current(cr, "Ready", "True") && condition(cr, "WorkerReady").is_none()
        })
        .await;
    let st = cr.status.unwrap();
    assert_eq!((st.worker_replicas, st.worker_ready_replicas), (None, None));
    let api = env.deployment("demo").await.unwrap();
    assert_eq!(env_value(&api, names::AI_WORKER_URL), None);
    // The API Service is untouched.
    assert!(
        env.api::<Service>()
            .get_opt("demo")
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_image_change_rolls_only_the_workers() {
    let env = Env::start().await;
    env.db_secret().await;
    env.create("demo", with_workers()).await;
    wait_workers_ready(&env).await;
    let api_before = env.deployment("demo").await.unwrap();

    let new_image = "ghcr.io/webedt/webedt-worker:1.1.0";
    env.patch_spec("demo", json!({"worker": {"image": new_image}}))
        .await;
    wait_workers_ready(&env).await;
    let w = env.deployment("demo-worker").await.unwrap();
    assert_eq!(image_of(&w), new_image);
    let api_after = env.deployment("demo").await.unwrap();
    assert_eq!(
        api_before.spec.template, api_after.spec.template,
        "the API pod template is unchanged"
    );
    assert_eq!(
        api_before.metadata.generation, api_after.metadata.generation,
        "the API Deployment did not roll"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manual_edit_of_the_worker_deployment_is_reverted() {
    let env = Env::start().await;
    env.db_secret().await;
    env.create("demo", with_workers()).await;
    wait_workers_ready(&env).await;
    let edit = PatchParams {
        field_manager: Some("kubectl-edit".into()),
        ..Default::default()
    };
    env.api::<Deployment>()
        .patch(
            "demo-worker",
            &edit,
            &Patch::Strategic(json!({"spec": {"template": {"spec": {
                "automountServiceAccountToken": true,
                "containers": [{"name": "worker", "image": "evil:latest"}]}}}})),
        )
        .await
        .unwrap();
    eventually("the worker Deployment edit is reverted", || async {
        let d = env.deployment("demo-worker").await?;
        let token = d
            .spec
            .template
            .spec
            .as_ref()?
            .automount_service_account_token;
        (image_of(&d) == WORKER_IMAGE && token == Some(false)).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_secret_change_rolls_the_api_but_not_the_workers() {
    use webedt_operator::build::SECRET_HASH_ANNOTATION;
    let env = Env::start().await;
    env.db_secret().await;
    env.secret("keys", "a", "sk-1").await;
    let mut spec = with_workers();
    spec["providers"] = json!({"anthropic": {"apiKeySecretRef": {"name": "keys", "key": "a"}}});
    env.create("demo", spec).await;
    wait_workers_ready(&env).await;
    let hashes = || async {
        let api = env.deployment("demo").await.unwrap();
        let w = env.deployment("demo-worker").await.unwrap();
        (
            pod_annotation(&api, SECRET_HASH_ANNOTATION).unwrap(),
            pod_annotation(&w, SECRET_HASH_ANNOTATION).unwrap(),
        )
    };
    let (api0, w0) = hashes().await;
    let rotate = |name: &'static str, body: Value| {
        let secrets = env.api::<Secret>();
        async move {
            secrets
                .patch(name, &PatchParams::default(), &Patch::Merge(body))
                .await
                .unwrap();
        }
    };
    rotate("db", json!({"stringData": {"uri": "postgres://new"}})).await;
    let (api1, w1) = eventually("the API hash moves", || async {
        let h = hashes().await;
        (h.0 != api0).then_some(h)
    })
    .await;
    assert_eq!(w1, w0, "the workers read no database Secret");
    // The provider key is read by both: both roll.
    rotate("keys", json!({"stringData": {"a": "sk-2"}})).await;
    eventually("both hashes move", || async {
        let h = hashes().await;
        (h.0 != api1 && h.1 != w1).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_autoscaling_keeps_the_worker_count_and_off_deletes_the_worker_hpa() {
    use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
    let env = Env::start().await;
    env.db_secret().await;
    env.create("demo", with_workers()).await;
    wait_workers_ready(&env).await;
    let hpas = env.api::<HorizontalPodAutoscaler>();

    env.patch_spec(
        "demo",
        json!({"worker": {"autoscaling": {"enabled": true, "minReplicas": 1, "maxReplicas": 4}}}),
    )
    .await;
    let hpa = eventually("the worker HPA exists", || async {
        hpas.get_opt("demo-worker").await.unwrap()
    })
    .await;
    assert_eq!(hpa.spec.scale_target_ref.name, "demo-worker");
    assert!(hpas.get_opt("demo").await.unwrap().is_none(), "no API HPA");
    wait_workers_ready(&env).await;
    let dropped: Vec<_> = env
        .api
        .history("apps", "deployments", NS, "demo-worker")
        .into_iter()
        .filter(|v| v["spec"]["replicas"].as_i64() != Some(2))
        .collect();
    assert!(dropped.is_empty(), "the workers never left 2: {dropped:?}");

    env.patch_spec(
        "demo",
        json!({"worker": {"autoscaling": {"enabled": false}}}),
    )
    .await;
    eventually("the worker HPA is deleted", || async {
        hpas.get_opt("demo-worker")
            .await
            .unwrap()
            .is_none()
            .then_some(())
    })
    .await;
    wait_workers_ready(&env).await;
}
