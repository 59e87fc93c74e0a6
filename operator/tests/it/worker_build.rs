//! Pure build tests of the worker objects (spec.worker): what each looks like, what the API
//! gets, and which changes roll which pods.

use crate::common::*;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::EnvVar;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::json;
use webedt_contract::names;
use webedt_contract::worker::{self as contract, WorkerConfig};
use webedt_operator::budget::ConnectionBudget;
use webedt_operator::build::{
    self, ApplyPolicy, Desired, Inputs, Role, SECRET_HASH_ANNOTATION, deployment,
    worker_deployment, worker_hpa, worker_network_policy, worker_secret, worker_service,
};
use webedt_operator::validate::{ValidatedWebEDT, validate};

const WORKER: &str = "worker: {enabled: true, image: ghcr.io/webedt/webedt-worker:2.0.0}";

fn worker(extra: &str) -> ValidatedWebEDT {
    validated(&format!("{WORKER}\n{extra}"))
}

fn worker_with(fields: &str) -> ValidatedWebEDT {
    validated(&format!(
        "worker: {{enabled: true, image: ghcr.io/webedt/webedt-worker:2.0.0, {fields}}}"
    ))
}

fn wdeploy(v: &ValidatedWebEDT) -> Deployment {
    worker_deployment::build(v, &inputs()).expect("worker Deployment")
}

#[test]
fn worker_on_builds_secret_deployment_service_and_network_policy_labelled_as_workers() {
    let v = worker("");
    let state = build::desired(&v, &inputs());
    let roles: Vec<Role> = state.objects.iter().map(Desired::role).collect();
    assert_eq!(
        roles[roles.len() - 4..],
        [
            Role::WorkerSecret,
            Role::WorkerDeployment,
            Role::WorkerService,
            Role::WorkerNetworkPolicy
        ]
    );
    assert!(state.absent.contains(&Role::WorkerHorizontalPodAutoscaler));
    for obj in state.objects.iter().filter(|o| {
        matches!(
            o.role(),
            Role::WorkerSecret
                | Role::WorkerDeployment
                | Role::WorkerService
                | Role::WorkerNetworkPolicy
        )
    }) {
        let j = obj.to_json().unwrap();
        let what = format!("{:?}", obj.role());
        assert_eq!(j["metadata"]["name"], "demo-worker", "{what}");
        assert_eq!(j["metadata"]["namespace"], "ns", "{what}");
        let labels = &j["metadata"]["labels"];
        assert_eq!(labels["app.kubernetes.io/component"], "worker", "{what}");
        assert_eq!(labels["app.kubernetes.io/version"], "2.0.0", "{what}");
        assert_eq!(j["metadata"]["ownerReferences"][0]["controller"], true);
    }
    // Only the Secret is create-only (never rotated by a reconcile).
    let policy = |r: Role| r.policy();
    assert_eq!(policy(Role::WorkerSecret), ApplyPolicy::CreateOnly);
    for r in [
        Role::WorkerDeployment,
        Role::WorkerService,
        Role::WorkerNetworkPolicy,
        Role::WorkerHorizontalPodAutoscaler,
    ] {
        assert_eq!(policy(r), ApplyPolicy::Apply, "{r:?}");
    }
}

#[test]
fn worker_off_builds_nothing_and_the_api_gets_no_worker_url() {
    let v = validated("worker: {enabled: false, image: w}");
    assert!(v.worker.is_none());
    assert!(worker_deployment::build(&v, &inputs()).is_none());
    assert!(worker_service::build(&v).is_none());
    assert!(worker_network_policy::build(&v).is_none());
    assert!(worker_secret::build(&v, "x").is_none());
    let api = plain(&env_for("worker: {enabled: false, image: w}"));
    assert!(!api.contains_key(names::AI_WORKER_URL));
}

#[test]
fn worker_deployment_is_hardened_with_a_size_limited_workspace() {
    let d = wdeploy(&worker_with("workspaceSizeLimit: 6Gi, maxRuns: 3"));
    let p = pod(&d);
    let c = &p.containers[0];
    assert_eq!(c.name, "worker");
    assert_eq!(
        c.image.as_deref(),
        Some("ghcr.io/webedt/webedt-worker:2.0.0")
    );
    let sc = c.security_context.as_ref().unwrap();
    assert_eq!(sc.read_only_root_filesystem, Some(true));
    assert_eq!(sc.allow_privilege_escalation, Some(false));
    assert_eq!(sc.run_as_non_root, Some(true));
    assert_eq!(
        sc.capabilities.as_ref().unwrap().drop,
        Some(vec!["ALL".into()])
    );
    let psc = p.security_context.as_ref().unwrap();
    assert_eq!(
        (psc.run_as_user, psc.run_as_non_root),
        (Some(65532), Some(true))
    );
    assert_eq!(p.automount_service_account_token, Some(false));
    assert_eq!(p.enable_service_links, Some(false));
    // The workspace: one emptyDir with the limit, at /workspace and (subPath) /tmp.
    let vols = p.volumes.as_ref().unwrap();
    assert_eq!(vols.len(), 1);
    let ed = vols[0].empty_dir.as_ref().unwrap();
    assert_eq!(ed.size_limit.as_ref().unwrap().0, "6Gi");
    let mounts: Vec<_> = c
        .volume_mounts
        .iter()
        .flatten()
        .map(|m| {
            (
                m.name.as_str(),
                m.mount_path.as_str(),
                m.sub_path.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        mounts,
        [
            ("workspace", build::WORKSPACE_DIR, None),
            ("workspace", build::TMP_DIR, Some("tmp"))
        ]
    );
    let e = plain(&env(&d));
    assert_eq!(e["HOME"], build::WORKSPACE_DIR);
    assert_eq!(e["TMPDIR"], build::TMP_DIR);
    assert!(e[contract::WORKER_WORKSPACE_ROOT].starts_with(build::WORKSPACE_DIR));
    // Each run gets its share of the workspace.
    assert_eq!(e[contract::WORKER_DISK_MAX_BYTES], (2u64 << 30).to_string());
    // Probes on the worker's own endpoints, by port name.
    let path = |p: &Option<k8s_openapi::api::core::v1::Probe>| {
        let g = p.as_ref().unwrap().http_get.as_ref().unwrap();
        assert_eq!(g.port, IntOrString::String("http".into()));
        g.path.clone().unwrap()
    };
    assert_eq!(path(&c.liveness_probe), "/live");
    assert_eq!(path(&c.readiness_probe), "/ready");
    assert_eq!(path(&c.startup_probe), "/live");
    assert_eq!(c.ports.as_ref().unwrap()[0].container_port, 8090);
    // The kubelet waits longer than the worker lets runs finish.
    let shutdown: i64 = e[contract::WORKER_SHUTDOWN_TIMEOUT_MS].parse().unwrap();
    assert!(p.termination_grace_period_seconds.unwrap() * 1000 > shutdown);
    assert_eq!(d.spec.replicas, Some(1));
}

#[test]
fn worker_env_parses_back_through_the_contract_and_holds_no_database_variable() {
    let v = worker_with(
        "maxRuns: 8, workspaceSizeLimit: 16Gi, allowCommands: true, allowNetwork: true",
    );
    let env = env(&wdeploy(&v));
    let mut values = plain(&env);
    // The secret arrives from the Secret in a pod; stand in for it.
    values.insert(contract::WORKER_SECRET.into(), "0123456789abcdef".into());
    let c = WorkerConfig::from_env(&|k: &str| values.get(k).cloned()).unwrap();
    assert_eq!(c.port, 8090);
    assert_eq!(c.max_runs, 8);
    assert_eq!(c.disk_max_bytes, 2 << 30);
    assert!(c.allow_commands && c.allow_network && !c.allow_unconfined);
    assert_eq!(c.workspace_root, build::RUNS_DIR);
    assert_eq!(
        secret_of(&env, contract::WORKER_SECRET),
        Some(("demo-worker".into(), "secret".into()))
    );
    for db in [
        names::DATABASE_URL,
        names::DB_PASSWORD,
        names::SESSION_SECRET,
        names::DB_POOL_MAX,
    ] {
        assert!(env.iter().all(|e| e.name != db), "{db} reaches the workers");
    }
}

#[test]
fn api_gets_the_worker_url_and_the_same_secret_the_workers_check() {
    let v = worker("");
    let api = env_of_api(&v);
    assert_eq!(
        plain(&api)[names::AI_WORKER_URL],
        "http://demo-worker.ns.svc:8090"
    );
    let key = Some(("demo-worker".to_string(), "secret".to_string()));
    assert_eq!(secret_of(&api, names::AI_WORKER_SECRET), key);
    assert_eq!(secret_of(&env(&wdeploy(&v)), contract::WORKER_SECRET), key);
    assert!(v.referenced_secrets().contains(&"demo-worker".to_string()));
    let s = worker_secret::build(&v, "generated").unwrap();
    assert_eq!(s.string_data.unwrap()["secret"], "generated");
}

fn env_of_api(v: &ValidatedWebEDT) -> Vec<EnvVar> {
    deployment::build(v, &inputs())
        .spec
        .template
        .spec
        .unwrap()
        .containers[0]
        .env
        .clone()
        .unwrap()
}

#[test]
fn provider_keys_reach_the_workers_from_the_api_secrets() {
    let v = worker(
        "providers: {anthropic: {apiKeySecretRef: {name: keys, key: a}, model: m1}, \
         openai: {apiKeySecretRef: {name: keys, key: o}, baseUrl: 'http://vllm:8000/v1'}}",
    );
    let (api, w) = (env_of_api(&v), env(&wdeploy(&v)));
    for var in [names::ANTHROPIC_API_KEY, names::OPENAI_API_KEY] {
        assert!(secret_of(&w, var).is_some(), "{var}");
        assert_eq!(secret_of(&w, var), secret_of(&api, var), "{var}");
    }
    let w = plain(&w);
    assert_eq!(w[names::ANTHROPIC_MODEL], "m1");
    assert_eq!(w[names::OPENAI_BASE_URL], "http://vllm:8000/v1");
    assert!(w.contains_key(names::PROVIDER_IDLE_TIMEOUT_MS));
    let keys: Vec<_> = v.worker_secret_keys().into_iter().map(|k| k.var).collect();
    assert_eq!(
        keys,
        [
            contract::WORKER_SECRET,
            names::ANTHROPIC_API_KEY,
            names::OPENAI_API_KEY
        ]
    );
}

#[test]
fn a_worker_image_change_rolls_only_the_workers_and_an_api_change_only_the_api() {
    let a = worker("");
    let b = validated("worker: {enabled: true, image: ghcr.io/webedt/webedt-worker:2.1.0}");
    let api = |v: &ValidatedWebEDT| deployment::build(v, &inputs()).spec.template;
    let wt = |v: &ValidatedWebEDT| wdeploy(v).spec.template;
    assert_eq!(
        api(&a),
        api(&b),
        "the API pod template ignores the worker image"
    );
    assert_ne!(wt(&a), wt(&b));
    let mut c = worker("replicas: 5\npool: {maxConnections: 3}");
    c.spec.image = "ghcr.io/webedt/webedt-api:9.9.9".into();
    assert_ne!(api(&a), api(&c));
    assert_eq!(wt(&a), wt(&c), "the worker pod template ignores the API");
    // A rotated API-only Secret (database, session) moves only the API's hash.
    let rotated = Inputs {
        secret_hash: "other".into(),
        ..inputs()
    };
    let w2 = worker_deployment::build(&a, &rotated)
        .unwrap()
        .spec
        .template;
    assert_eq!(wt(&a), w2);
    let ann = wt(&a).metadata.unwrap().annotations.unwrap();
    assert_eq!(ann[SECRET_HASH_ANNOTATION], inputs().worker_secret_hash);
}

#[test]
fn network_policy_admits_only_this_webedts_api_pods_on_the_worker_port() {
    let np = worker_network_policy::build(&worker("")).unwrap();
    let spec = np.spec.unwrap();
    let sel = |c: &str| {
        json!({
            "app.kubernetes.io/name": "webedt",
            "app.kubernetes.io/instance": "demo",
            "app.kubernetes.io/component": c,
        })
    };
    assert_eq!(
        serde_json::to_value(&spec.pod_selector.unwrap().match_labels).unwrap(),
        sel("worker")
    );
    assert_eq!(spec.policy_types, Some(vec!["Ingress".into()]));
    assert!(spec.egress.is_none(), "egress is left to the team");
    let rules = spec.ingress.unwrap();
    assert_eq!(rules.len(), 1);
    let from = rules[0].from.as_ref().unwrap();
    assert_eq!(from.len(), 1);
    assert_eq!(
        serde_json::to_value(&from[0].pod_selector.as_ref().unwrap().match_labels).unwrap(),
        sel("api")
    );
    assert!(from[0].namespace_selector.is_none());
    let port = &rules[0].ports.as_ref().unwrap()[0];
    assert_eq!(port.port, Some(IntOrString::Int(8090)));
}

#[test]
fn worker_service_is_cluster_internal_and_selects_the_workers() {
    let s = worker_service::build(&worker("")).unwrap().spec.unwrap();
    assert_eq!(s.type_.as_deref(), Some("ClusterIP"));
    assert_eq!(s.selector.unwrap()["app.kubernetes.io/component"], "worker");
    let p = &s.ports.unwrap()[0];
    assert_eq!(
        (p.port, p.target_port.clone()),
        (8090, Some(IntOrString::String("http".into())))
    );
}

#[test]
fn worker_autoscaling_builds_an_hpa_on_the_worker_deployment_and_leaves_it_the_count() {
    let v = worker_with(
        "autoscaling: {enabled: true, minReplicas: 1, maxReplicas: 6, targetMemoryUtilizationPercentage: 70}",
    );
    let hpa = worker_hpa::build(&v).unwrap();
    assert_eq!(hpa.metadata.name.as_deref(), Some("demo-worker"));
    let spec = hpa.spec;
    assert_eq!(spec.scale_target_ref.name, "demo-worker");
    assert_eq!((spec.min_replicas, spec.max_replicas), (Some(1), 6));
    assert_eq!(spec.metrics.unwrap().len(), 2);
    assert_eq!(wdeploy(&v).spec.replicas, None);
    // The API's own autoscaler is untouched.
    assert!(build::hpa::build(&v).is_none());
}

#[test]
fn worker_errors_name_the_field_at_fault() {
    let err = |extra: &str| {
        validate(&cr(&format!("{MINIMAL}\n{extra}")), "ns")
            .unwrap_err()
            .to_string()
    };
    assert!(err("worker: {enabled: true}").starts_with("spec.worker.image:"));
    assert!(
        err("worker: {enabled: true, image: w, env: [{name: WORKER_SECRET, value: x}]}")
            .starts_with("spec.worker.env: sets WORKER_SECRET")
    );
    assert!(
        err("worker: {enabled: true, image: w, workspaceSizeLimit: 2Mi, maxRuns: 4}")
            .starts_with("spec.worker.workspaceSizeLimit:")
    );
    assert!(
        err("worker: {enabled: true, image: w}\nproviders: {worker: {url: 'http://x'}}")
            .starts_with("spec.worker.enabled:")
    );
    assert!(
        err("worker: {enabled: true, image: w, autoscaling: {enabled: true, minReplicas: 3, maxReplicas: 2}}")
            .starts_with("spec.worker.autoscaling.minReplicas:")
    );
}

#[test]
fn workers_leave_the_connection_budget_unchanged() {
    let spec = "image: i\ndatabase: {secretRef: {name: db}, maxConnections: 50}\n\
                autoscaling: {enabled: true, maxReplicas: 4}";
    let without = validate(&cr(spec), "ns").unwrap();
    let with = validate(
        &cr(&format!(
            "{spec}\nworker: {{enabled: true, image: w, replicas: 30, \
             autoscaling: {{enabled: true, maxReplicas: 200}}}}"
        )),
        "ns",
    )
    .unwrap();
    assert!(with.worker.is_some());
    assert_eq!(ConnectionBudget::of(&without), ConnectionBudget::of(&with));
    assert_eq!(without.findings, with.findings);
}

#[test]
fn render_of_the_worker_example_shows_the_workers_with_a_placeholder_secret() {
    let text = std::fs::read_to_string(workspace_file("examples/worker.yaml")).unwrap();
    let out = webedt_operator::render::render(&text, "examples/worker.yaml").unwrap();
    let docs: Vec<serde_json::Value> = serde_yaml::Deserializer::from_str(&out.yaml)
        .map(|d| serde::Deserialize::deserialize(d).unwrap())
        .filter(|v: &serde_json::Value| !v.is_null())
        .collect();
    let workers: Vec<(&str, &str)> = docs
        .iter()
        .filter(|d| d["metadata"]["name"] == "webedt-worker")
        .map(|d| {
            (
                d["kind"].as_str().unwrap(),
                d["apiVersion"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        workers,
        [
            ("Secret", "v1"),
            ("Deployment", "apps/v1"),
            ("Service", "v1"),
            ("NetworkPolicy", "networking.k8s.io/v1")
        ]
    );
    let secret = docs
        .iter()
        .find(|d| d["kind"] == "Secret" && d["metadata"]["name"] == "webedt-worker")
        .unwrap();
    assert_eq!(secret["stringData"]["secret"], build::PLACEHOLDER);
    assert!(out.findings.is_empty(), "{:?}", out.findings);
}
