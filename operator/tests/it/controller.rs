//! The real controller against the test API server (`webedt-testapi`): convergence, drift,
//! Secrets, autoscaling, migrations, pause, deletion, faults.

use crate::harness::*;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Secret, Service};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::ResourceExt;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use serde_json::json;
use std::time::{Duration, Instant};
use webedt_operator::build::SECRET_HASH_ANNOTATION;
use webedt_operator::build::migration_job::job_name;
use webedt_operator::controller::{HANDOVER_MANAGER, MANAGER};
use webedt_testapi::Fault;

/// Migrations on startup: tests that are not about the Job skip it.
fn on_startup() -> serde_json::Value {
    json!({"migrations": {"mode": "OnStartup"}})
}

fn managers(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> Vec<String> {
    meta.managed_fields
        .iter()
        .flatten()
        .filter_map(|m| m.manager.clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_builds_the_children_and_is_ready_only_after_the_rollout() {
    let env = Env::start().await;
    env.api.set_rollout(false);
    env.db_secret().await;
    let cr = env.create("demo", on_startup()).await;
    let uid = cr.uid().unwrap();

    let d = eventually("the Deployment exists", || async {
        env.deployment("demo").await
    })
    .await;
    assert_eq!(image_of(&d), IMAGE);
    assert_eq!(d.spec.replicas, Some(2));
    let pool = webedt_contract::PoolSettings::default();
    assert_eq!(
        env_value(&d, "DB_POOL_MAX"),
        Some(pool.max_connections.to_string())
    );
    assert!(pod_annotation(&d, SECRET_HASH_ANNOTATION).is_some_and(|h| h.len() == 16));
    let owner = &d.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!(
        (owner.uid.as_str(), owner.controller),
        (uid.as_str(), Some(true))
    );
    assert!(
        managers(&d.metadata).contains(&MANAGER.to_string()),
        "applied by {MANAGER}"
    );

    let svc = env.api::<Service>().get("demo").await.expect("Service");
    let port = &svc.spec.unwrap().ports.unwrap()[0];
    assert_eq!(port.port, 80);
    assert_eq!(
        port.target_port,
        Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::String("http".into()))
    );
    let pdb = env
        .api::<PodDisruptionBudget>()
        .get("demo")
        .await
        .expect("PDB");
    assert_eq!(pdb.owner_references()[0].uid, uid);
    let session = env
        .api::<Secret>()
        .get("demo-session")
        .await
        .expect("session Secret");
    let value = session.data.as_ref().unwrap()[webedt_operator::crd::SESSION_SECRET_KEY]
        .0
        .clone();
    assert_eq!(value.len(), 64, "32 random bytes, hex");
    let credentials = env
        .api::<Secret>()
        .get("demo-credentials")
        .await
        .expect("credentials Secret");
    let keys = String::from_utf8(
        credentials.data.as_ref().unwrap()[webedt_operator::crd::CREDENTIALS_KEY]
            .0
            .clone(),
    )
    .unwrap();
    let (id, key) = keys.split_once(':').expect("id:base64key");
    assert_eq!(id, "k1");
    {
        use base64::Engine;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(key)
            .expect("base64");
        assert_eq!(bytes.len(), 32, "one random 32-byte key");
    }

    // The rollout is frozen: Ready must not be claimed.
    let cr = env
        .wait_cr("demo", "Progressing while the rollout is frozen", |cr| {
            is_current(cr, "Progressing", "True")
        })
        .await;
    assert_eq!(condition(&cr, "Ready").unwrap().status, "False");

    env.api.set_rollout(true);
    let cr = env.wait_ready("demo").await;
    let st = cr.status.unwrap();
    assert_eq!(
        (st.replicas, st.available_replicas, st.updated_replicas),
        (Some(2), Some(2), Some(2))
    );
    assert_eq!(
        st.selector.as_deref(),
        Some(
            "app.kubernetes.io/component=api,app.kubernetes.io/instance=demo,app.kubernetes.io/name=webedt"
        )
    );
    assert_eq!(st.endpoint.as_deref(), Some("http://demo.apps.svc:80"));
    assert_eq!(
        condition(&cr_after(&env).await, "Degraded").unwrap().status,
        "False"
    );
    let reasons = env.event_reasons("demo");
    assert!(
        reasons.contains(&"SessionSecretCreated".into())
            && reasons.contains(&"CredentialsSecretCreated".into()),
        "{reasons:?}"
    );
    assert!(reasons.contains(&"Ready".into()), "{reasons:?}");

    // The session Secret is create-only: later reconciles never rotate it.
    env.patch_spec("demo", json!({"replicas": 3})).await;
    env.wait_ready("demo").await;
    let again = env.api::<Secret>().get("demo-session").await.unwrap();
    assert_eq!(
        again.data.unwrap()[webedt_operator::crd::SESSION_SECRET_KEY].0,
        value
    );
    let again = env.api::<Secret>().get("demo-credentials").await.unwrap();
    assert_eq!(
        again.data.unwrap()[webedt_operator::crd::CREDENTIALS_KEY].0,
        keys.as_bytes()
    );
}

async fn cr_after(env: &Env) -> webedt_operator::crd::WebEDT {
    env.cr("demo").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pool_change_updates_the_env_and_observed_generation() {
    let env = Env::start().await;
    env.db_secret().await;
    env.create("demo", on_startup()).await;
    let before = env.wait_ready("demo").await;
    let cr = env
        .patch_spec(
            "demo",
            json!({"pool": {"maxConnections": 17, "minConnections": 3}}),
        )
        .await;
    assert!(cr.metadata.generation > before.metadata.generation);
    let cr = env.wait_ready("demo").await;
    assert_eq!(
        cr.status.as_ref().unwrap().observed_generation,
        cr.metadata.generation
    );
    let d = env.deployment("demo").await.unwrap();
    assert_eq!(env_value(&d, "DB_POOL_MAX").as_deref(), Some("17"));
    assert_eq!(env_value(&d, "DB_POOL_MIN").as_deref(), Some("3"));
    // Each condition names the generation it describes.
    for c in ["Ready", "Progressing", "Degraded"] {
        assert_eq!(
            condition(&cr, c).unwrap().observed_generation,
            cr.metadata.generation
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scale_subresource_sets_the_replicas() {
    let env = Env::start().await;
    env.db_secret().await;
    env.create("demo", on_startup()).await;
    env.wait_ready("demo").await;
    env.webedts()
        .patch_scale(
            "demo",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 4}})),
        )
        .await
        .expect("patch /scale");
    let cr = env.wait_ready("demo").await;
    assert_eq!(cr.spec.replicas, 4);
    assert_eq!(cr.status.unwrap().replicas, Some(4));
    assert_eq!(env.deployment("demo").await.unwrap().spec.replicas, Some(4));
    let scale = env.webedts().get_scale("demo").await.unwrap();
    assert_eq!(scale.spec.unwrap().replicas, Some(4));
    assert_eq!(scale.status.unwrap().replicas, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manual_edit_of_a_managed_field_is_reverted() {
    let env = Env::start().await;
    env.db_secret().await;
    env.create("demo", on_startup()).await;
    env.wait_ready("demo").await;
    let edit = PatchParams {
        field_manager: Some("kubectl-edit".into()),
        ..Default::default()
    };
    env.api::<k8s_openapi::api::apps::v1::Deployment>()
        .patch(
            "demo",
            &edit,
            &Patch::Strategic(json!({"spec": {"template": {"spec": {"containers": [
                {"name": "api", "image": "evil:latest"}]}}}})),
        )
        .await
        .unwrap();
    env.api::<Service>()
        .patch(
            "demo",
            &edit,
            &Patch::Merge(json!({"spec": {"type": "NodePort"}})),
        )
        .await
        .unwrap();
    eventually("the Deployment image is reverted", || async {
        let d = env.deployment("demo").await?;
        (image_of(&d) == IMAGE).then_some(())
    })
    .await;
    eventually("the Service type is reverted", || async {
        let s = env.api::<Service>().get("demo").await.ok()?;
        (s.spec?.type_.as_deref() == Some("ClusterIP")).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_change_changes_the_pod_template_hash() {
    let env = Env::start().await;
    env.db_secret().await;
    env.create("demo", on_startup()).await;
    env.wait_ready("demo").await;
    let before = pod_annotation(
        &env.deployment("demo").await.unwrap(),
        SECRET_HASH_ANNOTATION,
    )
    .unwrap();
    env.api::<Secret>()
        .patch(
            "db",
            &PatchParams::default(),
            &Patch::Merge(json!({"stringData": {"uri": "postgres://new"}})),
        )
        .await
        .unwrap();
    let after = eventually("the pod-template hash changes", || async {
        let h = pod_annotation(&env.deployment("demo").await?, SECRET_HASH_ANNOTATION)?;
        (h != before).then_some(h)
    })
    .await;
    assert_eq!(after.len(), 16);
    // The secret value itself is never copied into the Deployment.
    let d = serde_json::to_string(&env.deployment("demo").await.unwrap()).unwrap();
    assert!(!d.contains("postgres://"));
    env.wait_ready("demo").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn autoscaling_on_keeps_the_replicas_and_off_deletes_the_hpa() {
    let env = Env::start().await;
    env.db_secret().await;
    let mut spec = on_startup();
    spec["replicas"] = json!(3);
    env.create("demo", spec).await;
    env.wait_ready("demo").await;
    let hpas = env.api::<HorizontalPodAutoscaler>();

    env.patch_spec(
        "demo",
        json!({"autoscaling": {"enabled": true, "minReplicas": 2, "maxReplicas": 5}}),
    )
    .await;
    let hpa = eventually("the HPA exists", || async {
        hpas.get_opt("demo").await.unwrap()
    })
    .await;
    assert_eq!(hpa.spec.max_replicas, 5);
    env.wait_ready("demo").await;
    let d = env.deployment("demo").await.unwrap();
    assert_eq!(
        d.spec.replicas,
        Some(3),
        "turning autoscaling on keeps the running count"
    );
    assert!(managers(&d.metadata).contains(&HANDOVER_MANAGER.to_string()));
    let dropped: Vec<_> = env
        .api
        .history("apps", "deployments", NS, "demo")
        .into_iter()
        .filter(|v| v["spec"]["replicas"].as_i64() != Some(3))
        .collect();
    assert!(
        dropped.is_empty(),
        "the Deployment never left 3 replicas: {dropped:?}"
    );

    // The HPA scales (via /scale, as the autoscaler does); the operator does not fight it.
    let hpa_pp = PatchParams {
        field_manager: Some("horizontal-pod-autoscaler".into()),
        ..Default::default()
    };
    env.api::<k8s_openapi::api::apps::v1::Deployment>()
        .patch_scale(
            "demo",
            &hpa_pp,
            &Patch::Merge(json!({"spec": {"replicas": 5}})),
        )
        .await
        .unwrap();
    let cr = env
        .wait_cr("demo", "Ready with the HPA's 5 replicas", |cr| {
            is_current(cr, "Ready", "True") && cr.status.as_ref().unwrap().replicas == Some(5)
        })
        .await;
    assert_eq!(cr.status.unwrap().available_replicas, Some(5));
    assert_eq!(env.deployment("demo").await.unwrap().spec.replicas, Some(5));

    env.patch_spec("demo", json!({"autoscaling": {"enabled": false}}))
        .await;
    eventually("the HPA is deleted", || async {
        hpas.get_opt("demo").await.unwrap().is_none().then_some(())
    })
    .await;
    env.wait_ready("demo").await;
    assert_eq!(env.deployment("demo").await.unwrap().spec.replicas, Some(3));
    assert!(env.event_reasons("demo").contains(&"Deleted".into()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_secret_degrades_with_an_event_and_recovers() {
    let env = Env::start().await;
    env.create("demo", on_startup()).await;
    let cr = env
        .wait_cr("demo", "Degraded=True SecretMissing", |cr| {
            is_current(cr, "Degraded", "True")
                && condition(cr, "Degraded").unwrap().reason == "SecretMissing"
        })
        .await;
    assert!(
        condition(&cr, "Degraded")
            .unwrap()
            .message
            .contains("Secret db does not exist")
    );
    assert_eq!(condition(&cr, "Ready").unwrap().status, "False");
    eventually("a SecretMissing Event", || async {
        env.event_reasons("demo")
            .contains(&"SecretMissing".into())
            .then_some(())
    })
    .await;
    let e = env
        .events_for("demo")
        .into_iter()
        .find(|e| e["reason"] == "SecretMissing")
        .unwrap();
    assert_eq!(e["type"], "Warning");
    assert!(
        env.deployment("demo").await.is_none(),
        "no pods that cannot start"
    );

    // A Secret without the key is still missing.
    env.secret("db", "wrong", "x").await;
    let cr = env
        .wait_cr("demo", "SecretMissing for the key", |cr| {
            condition(cr, "Degraded").is_some_and(|c| c.message.contains("has no key uri"))
        })
        .await;
    assert_eq!(condition(&cr, "Ready").unwrap().status, "False");
    env.api::<Secret>()
        .patch(
            "db",
            &PatchParams::default(),
            &Patch::Merge(json!({"stringData": {"uri": "postgres://x"}})),
        )
        .await
        .unwrap();
    let cr = env.wait_ready("demo").await;
    assert_eq!(condition(&cr, "Degraded").unwrap().status, "False");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paused_makes_no_writes_except_the_paused_condition() {
    let env = Env::start().await;
    env.db_secret().await;
    env.create("demo", on_startup()).await;
    env.wait_ready("demo").await;
    let d_before = env.deployment("demo").await.unwrap();

    env.patch_spec("demo", json!({"paused": true})).await;
    env.wait_cr("demo", "Progressing=False Paused", |cr| {
        condition(cr, "Progressing").is_some_and(|c| {
            c.reason == "Paused" && c.observed_generation == cr.metadata.generation
        })
    })
    .await;
    let since = Instant::now();
    let cr = env
        .patch_spec(
            "demo",
            json!({"image": "ghcr.io/webedt/webedt-api:2.0.0", "replicas": 5}),
        )
        .await;
    let g = cr.metadata.generation;
    env.wait_cr(
        "demo",
        "the paused condition for the new generation",
        |cr| {
            condition(cr, "Progressing")
                .is_some_and(|c| c.reason == "Paused" && c.observed_generation == g)
        },
    )
    .await;
    // Give a wrongly-writing controller time to write (it already handled this generation).
    tokio::time::sleep(Duration::from_millis(500)).await;
    let d_after = env.deployment("demo").await.unwrap();
    assert_eq!(d_after.resource_version(), d_before.resource_version());
    let writes: Vec<_> = env
        .api
        .requests()
        .into_iter()
        .filter(|r| r.at > since && r.method != "GET" && !r.driver)
        .filter(|r| !r.path.starts_with("/apis/events.k8s.io/"))
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(
        writes,
        vec![format!(
            "PATCH /apis/webedt.dev/v1alpha1/namespaces/{NS}/webedts/demo/status"
        )],
        "only the paused condition is written"
    );
    env.patch_spec("demo", json!({"paused": false})).await;
    env.wait_ready("demo").await;
    let d = env.deployment("demo").await.unwrap();
    assert_eq!(
        (image_of(&d).as_str(), d.spec.replicas),
        ("ghcr.io/webedt/webedt-api:2.0.0", Some(5))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn image_change_runs_the_migration_first_and_a_failure_keeps_the_old_image() {
    let env = Env::start().await;
    env.db_secret().await;
    env.create("demo", json!({})).await;
    env.wait_ready("demo").await;
    let job1 = job_name("demo", IMAGE);
    let job_hist = env.api.history("batch", "jobs", NS, &job1);
    let dep_hist = env.api.history("apps", "deployments", NS, "demo");
    let job_done_rv = job_hist
        .iter()
        .find(|j| j["status"]["succeeded"] == 1)
        .map(rv)
        .expect("the first Job succeeded");
    assert!(
        rv(&dep_hist[0]) > job_done_rv,
        "the Deployment is created after the migration succeeded"
    );

    let failing = "ghcr.io/webedt/webedt-api:2.0.0-broken";
    env.api.fail_jobs_with_image(failing);
    env.patch_spec("demo", json!({"image": failing})).await;
    let cr = env
        .wait_cr("demo", "Degraded=True MigrationFailed", |cr| {
            is_current(cr, "Degraded", "True")
                && condition(cr, "Degraded").unwrap().reason == "MigrationFailed"
        })
        .await;
    assert_eq!(condition(&cr, "Ready").unwrap().status, "False");
    assert!(
        condition(&cr, "Ready")
            .unwrap()
            .message
            .contains("2 replicas of the previous version keep serving")
    );
    assert!(
        env.api::<Job>()
            .get_opt(&job_name("demo", failing))
            .await
            .unwrap()
            .is_some()
    );
    let d = env.deployment("demo").await.unwrap();
    assert_eq!(image_of(&d), IMAGE, "old pods keep serving");
    assert!(
        env.api
            .history("apps", "deployments", NS, "demo")
            .iter()
            .all(|v| !v.to_string().contains(failing)),
        "the Deployment never moved to the failing image"
    );
    eventually("a MigrationFailed Event", || async {
        env.event_reasons("demo")
            .contains(&"MigrationFailed".into())
            .then_some(())
    })
    .await;

    let good = "ghcr.io/webedt/webedt-api:2.0.1";
    env.patch_spec("demo", json!({"image": good})).await;
    env.wait_ready("demo").await;
    assert_eq!(image_of(&env.deployment("demo").await.unwrap()), good);
    let job_done = env
        .api
        .history("batch", "jobs", NS, &job_name("demo", good))
        .iter()
        .find(|j| j["status"]["succeeded"] == 1)
        .map(rv)
        .expect("the Job for the new image succeeded");
    let moved = env
        .api
        .history("apps", "deployments", NS, "demo")
        .iter()
        .find(|v| v.to_string().contains(good))
        .map(rv)
        .unwrap();
    assert!(
        moved > job_done,
        "the Deployment moved only after the migration succeeded"
    );
}

fn rv(v: &serde_json::Value) -> u64 {
    v["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_the_webedt_collects_its_children() {
    let env = Env::start().await;
    env.db_secret().await;
    env.create("demo", json!({})).await;
    env.wait_ready("demo").await;
    env.webedts()
        .delete("demo", &DeleteParams::default())
        .await
        .unwrap();
    eventually("every child is gone", || async {
        let left: Vec<String> = [
            ("apps", "deployments", "demo".to_string()),
            ("", "services", "demo".into()),
            ("policy", "poddisruptionbudgets", "demo".into()),
            ("", "secrets", "demo-session".into()),
            ("", "secrets", "demo-credentials".into()),
            ("batch", "jobs", job_name("demo", IMAGE)),
        ]
        .into_iter()
        .filter(|(g, p, n)| env.api.get(g, p, NS, n).is_some())
        .map(|(_, p, n)| format!("{p}/{n}"))
        .collect();
        left.is_empty().then_some(())
    })
    .await;
    assert!(
        env.api.get("", "secrets", NS, "db").is_some(),
        "the user's Secret stays"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_faults_for_a_while_converge_without_a_hot_loop() {
    let env = Env::start().await;
    env.db_secret().await;
    env.create("demo", on_startup()).await;
    env.wait_ready("demo").await;

    for (fault, value, blocks) in [
        (Fault::Error500, 21, true),
        (Fault::Conflict409, 22, true),
        (Fault::Slow(Duration::from_millis(400)), 23, false),
    ] {
        let window = Duration::from_secs(3);
        let start = Instant::now();
        env.api.fault(fault, window);
        env.patch_spec("demo", json!({"pool": {"maxConnections": value}}))
            .await;
        tokio::time::sleep(window.saturating_sub(start.elapsed())).await;
        let operator_requests = env
            .api
            .requests()
            .iter()
            .filter(|r| !r.watch && !r.driver && r.at >= start && r.at < start + window)
            .count();
        println!("{fault:?}: {operator_requests} operator requests in {window:?}");
        assert!(operator_requests > 0, "{fault:?}: the operator kept trying");
        assert!(
            operator_requests < 120,
            "{fault:?}: {operator_requests} requests in {window:?} is a hot loop"
        );
        if blocks {
            let d = env.deployment("demo").await.unwrap();
            assert_ne!(
                env_value(&d, "DB_POOL_MAX"),
                Some(value.to_string()),
                "{fault:?}: nothing could be applied during the fault"
            );
        }
        let cr = env.wait_ready("demo").await;
        assert_eq!(
            cr.status.unwrap().observed_generation,
            cr.metadata.generation
        );
        let d = env.deployment("demo").await.unwrap();
        assert_eq!(
            env_value(&d, "DB_POOL_MAX"),
            Some(value.to_string()),
            "{fault:?}"
        );
    }
    let errors = env.health.metrics.render();
    assert!(
        errors.contains("webedt_operator_reconcile_errors_total{reason=\"ApplyFailed\"}")
            || errors.contains("webedt_operator_reconcile_errors_total{reason=\"ReadFailed\"}"),
        "errors are counted by reason:\n{errors}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_object_is_reported_and_the_others_still_reconcile() {
    let env = Env::start().await;
    env.db_secret().await;
    // What an older CRD could have admitted: replicas is not a number.
    let raw: kube::api::DynamicObject = serde_json::from_value(json!({
        "apiVersion": "webedt.dev/v1alpha1", "kind": "WebEDT",
        "metadata": {"name": "broken", "namespace": NS},
        "spec": {"image": IMAGE, "database": {"secretRef": {"name": "db"}}, "replicas": "many"},
    }))
    .unwrap();
    let ar = kube::api::ApiResource::erase::<webedt_operator::crd::WebEDT>(&());
    kube::Api::<kube::api::DynamicObject>::namespaced_with(env.client.clone(), NS, &ar)
        .create(&PostParams::default(), &raw)
        .await
        .unwrap();
    env.create("good", on_startup()).await;
    env.wait_ready("good").await;
    eventually("the broken object is Degraded InvalidObject", || async {
        let v = env.api.get("webedt.dev", "webedts", NS, "broken")?;
        let c = v["status"]["conditions"]
            .as_array()?
            .iter()
            .find(|c| c["type"] == "Degraded")?
            .clone();
        (c["status"] == "True" && c["reason"] == "InvalidObject").then_some(())
    })
    .await;
    assert!(
        env.event_reasons("broken")
            .contains(&"InvalidObject".into())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn steady_state_changes_nothing_and_costs_few_requests_per_reconcile() {
    let mut settings = test_settings();
    settings.resync = Duration::from_millis(250);
    let env = Env::start_with(settings).await;
    env.db_secret().await;
    env.create("demo", json!({})).await;
    env.wait_ready("demo").await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    let reconciles = || env.health.metrics.reconciles.get();
    let (r0, rv0, start) = (reconciles(), env.api.resource_version(), Instant::now());
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (r1, rv1) = (reconciles(), env.api.resource_version());
    let requests: Vec<_> = env
        .api
        .requests()
        .into_iter()
        .filter(|r| !r.watch && r.at >= start)
        .collect();
    let n = r1 - r0;
    assert!(n >= 5, "periodic reconciles ran ({n})");
    let per = requests.len() as f64 / n as f64;
    let mut kinds: Vec<String> = requests
        .iter()
        .map(|r| {
            format!(
                "{} {}",
                r.method,
                r.path
                    .rsplit_once("/namespaces/")
                    .map_or(r.path.as_str(), |x| x.1)
            )
        })
        .collect();
    kinds.sort();
    kinds.dedup();
    println!(
        "steady state: {n} reconciles, {} requests, {per:.2} per reconcile: {kinds:#?}",
        requests.len()
    );
    assert_eq!(rv1, rv0, "no-op reconciles change nothing on the server");
    assert!(per <= 8.0, "{per} requests per no-op reconcile");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_namespace_restricts_the_controller_to_one_namespace() {
    let mut settings = test_settings();
    settings.watch_namespace = Some(NS.into());
    let env = Env::start_with(settings).await;
    env.db_secret().await;
    let elsewhere: kube::Api<webedt_operator::crd::WebEDT> =
        kube::Api::namespaced(env.client.clone(), "elsewhere");
    let mut other: webedt_operator::crd::WebEDT = serde_json::from_value(json!({
        "apiVersion": "webedt.dev/v1alpha1", "kind": "WebEDT",
        "metadata": {"name": "other", "namespace": "elsewhere"},
        "spec": {"image": IMAGE, "database": {"secretRef": {"name": "db"}}},
    }))
    .unwrap();
    other = elsewhere
        .create(&PostParams::default(), &other)
        .await
        .unwrap();
    env.create("demo", on_startup()).await;
    env.wait_ready("demo").await;
    // "demo" was reconciled; by then "other" (created first) would have been too.
    let other = elsewhere.get(&other.name_any()).await.unwrap();
    assert!(other.status.is_none(), "{:?}", other.status);
    assert!(env.api.list("apps", "deployments", "elsewhere").is_empty());
    assert!(
        env.api
            .requests()
            .iter()
            .all(|r| r.driver || !r.path.contains("/namespaces/elsewhere/")),
        "the operator never touched the other namespace"
    );
}

fn service_monitors(env: &Env) -> kube::Api<kube::api::DynamicObject> {
    kube::Api::namespaced_with(
        env.client.clone(),
        NS,
        &webedt_operator::build::Kind::ServiceMonitor.api_resource(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manual_edit_of_the_service_monitor_is_reverted() {
    let env = Env::start().await;
    env.db_secret().await;
    let mut extra = on_startup();
    extra["serviceMonitor"] = json!({"enabled": true, "interval": "30s"});
    env.create("demo", extra).await;
    env.wait_ready("demo").await;
    let edit = PatchParams {
        field_manager: Some("kubectl-edit".into()),
        ..Default::default()
    };
    service_monitors(&env)
        .patch(
            "demo",
            &edit,
            &Patch::Merge(json!({"spec": {"endpoints": [{"port": "http", "interval": "5m"}]}})),
        )
        .await
        .unwrap();
    eventually("the ServiceMonitor interval is reverted", || async {
        let sm = service_monitors(&env).get("demo").await.ok()?;
        (sm.data["spec"]["endpoints"][0]["interval"] == "30s").then_some(())
    })
    .await;
    assert!(
        env.api
            .requests()
            .iter()
            .any(|r| r.path.contains("servicemonitors") && r.watch),
        "ServiceMonitors are watched where they are served"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_service_monitor_crd_the_operator_does_not_watch_them() {
    let api = webedt_testapi::TestApi::start().await;
    api.without("servicemonitors");
    let env = Env::start_on(api, test_settings()).await;
    env.db_secret().await;
    env.create("demo", on_startup()).await;
    env.wait_ready("demo").await;
    let sm_watches = env
        .api
        .requests()
        .iter()
        .filter(|r| r.path.contains("servicemonitors") && r.watch)
        .count();
    assert_eq!(sm_watches, 0, "no watch of an absent kind");
}
