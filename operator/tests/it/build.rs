//! Pure build tests: what each object looks like for each option.

use crate::common::*;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use webedt_contract::{
    LimitSettings, OrphanSettings, PoolSettings, ProviderLimits, ScaleSettings, ShutdownSettings,
    names,
};
use webedt_operator::build::{
    self, Desired, Inputs, Role, SECRET_HASH_ANNOTATION, SecretVersion, deployment, migration_job,
    secret_hash,
};
use webedt_operator::validate::{Finding, OPERATOR_ENV, ValidatedWebEDT};

fn roles(v: &ValidatedWebEDT) -> Vec<Role> {
    build::desired(v, &inputs())
        .objects
        .iter()
        .map(Desired::role)
        .collect()
}

#[test]
fn defaults_build_secret_job_deployment_service_and_pdb() {
    let v = validated("");
    let state = build::desired(&v, &inputs());
    let k: Vec<_> = state.objects.iter().map(Desired::role).collect();
    assert_eq!(
        k,
        [
            Role::SessionSecret,
            Role::CredentialsSecret,
            Role::MigrationJob,
            Role::ApiDeployment,
            Role::ApiService,
            Role::PodDisruptionBudget,
        ]
    );
    assert_eq!(
        state.absent,
        [
            Role::HorizontalPodAutoscaler,
            Role::Ingress,
            Role::NetworkPolicy,
            Role::ServiceMonitor,
            Role::WorkerSecret,
            Role::WorkerDeployment,
            Role::WorkerService,
            Role::WorkerNetworkPolicy,
            Role::WorkerHorizontalPodAutoscaler,
        ]
    );
    assert!(v.findings.is_empty(), "{:?}", v.findings);
}

#[test]
fn every_object_has_type_meta_labels_namespace_and_a_controller_owner() {
    let v = validated(
        "autoscaling: {enabled: true}\ningress: {enabled: true, host: h.example.com, tls: {secretName: t}}\n\
         networkPolicy: {enabled: true}\nserviceMonitor: {enabled: true}",
    );
    let objects = build::desired(&v, &inputs()).objects;
    assert_eq!(objects.len(), 10, "every kind is built");
    for obj in &objects {
        let j = obj.to_json().unwrap();
        let what = format!("{:?}", obj.role());
        assert!(
            j["apiVersion"].as_str().is_some_and(|s| !s.is_empty()),
            "{what}"
        );
        assert!(j["kind"].as_str().is_some_and(|s| !s.is_empty()), "{what}");
        assert_eq!(j["metadata"]["namespace"], "ns", "{what}");
        let labels = &j["metadata"]["labels"];
        assert_eq!(labels["app.kubernetes.io/name"], "webedt", "{what}");
        assert_eq!(labels["app.kubernetes.io/instance"], "demo", "{what}");
        assert_eq!(
            labels["app.kubernetes.io/managed-by"], "webedt-operator",
            "{what}"
        );
        assert_eq!(labels["app.kubernetes.io/version"], "1.2.3", "{what}");
        assert!(labels["app.kubernetes.io/component"].is_string(), "{what}");
        assert_eq!(
            j["metadata"]["ownerReferences"],
            json!([{
                "apiVersion": "webedt.dev/v1alpha1",
                "kind": "WebEDT",
                "name": "demo",
                "uid": build::PLACEHOLDER_UID,
                "controller": true,
                "blockOwnerDeletion": true,
            }]),
            "{what}"
        );
    }
    let sm = objects
        .iter()
        .find(|o| o.role() == Role::ServiceMonitor)
        .unwrap();
    let sm = sm.to_json().unwrap();
    assert_eq!(sm["apiVersion"], "monitoring.coreos.com/v1");
    assert_eq!(sm["kind"], "ServiceMonitor");
}

#[test]
fn owner_reference_uses_the_real_uid_when_there_is_one() {
    let mut c = cr(MINIMAL);
    c.metadata.uid = Some("1234-uid".into());
    let v = webedt_operator::validate::validate(&c, "default").unwrap();
    assert_eq!(build::owner_reference(&v).uid, "1234-uid");
    assert_eq!(v.namespace, "default");
}

#[test]
fn only_the_generated_secrets_and_the_job_are_create_only() {
    let v = validated("");
    for obj in build::desired(&v, &inputs()).objects {
        let create_only = matches!(
            obj.role(),
            Role::SessionSecret | Role::CredentialsSecret | Role::MigrationJob
        );
        assert_eq!(
            obj.policy() == build::ApplyPolicy::CreateOnly,
            create_only,
            "{:?}",
            obj.role()
        );
    }
}

#[test]
fn deployment_env_is_complete_at_defaults() {
    let env = env(&deploy(""));
    assert_eq!(
        secret_of(&env, names::DATABASE_URL),
        Some(("db".into(), "uri".into()))
    );
    assert_eq!(
        secret_of(&env, names::SESSION_SECRET),
        Some(("demo-session".into(), "secret".into()))
    );
    let container_id = env.iter().find(|e| e.name == names::CONTAINER_ID).unwrap();
    assert_eq!(
        container_id
            .value_from
            .as_ref()
            .unwrap()
            .field_ref
            .as_ref()
            .unwrap()
            .field_path,
        "metadata.name"
    );
    let values = plain(&env);
    let expected: BTreeMap<String, String> = [
        PoolSettings::default().to_env(),
        OrphanSettings::default().to_env(),
        ShutdownSettings::default().to_env(),
        ScaleSettings::default().to_env(),
        LimitSettings::default().to_env(),
        ProviderLimits::default().to_env(),
    ]
    .concat()
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    for (k, v) in &expected {
        assert_eq!(values.get(k), Some(v), "{k}");
    }
    assert_eq!(values[names::MIGRATE_ON_START], "false");
    assert_eq!(values[names::PORT], "3001");
    assert_eq!(
        build::HTTP_PORT,
        i32::from(webedt_contract::HttpSettings::default().port),
        "the container port is the API's default port"
    );
    // No direct URL and no proxy hops unless configured.
    assert!(
        !env.iter()
            .any(|e| e.name == names::DATABASE_DIRECT_URL || e.name == names::TRUSTED_PROXY_HOPS)
    );
    // No provider variables unless configured; no duplicates ever.
    assert!(
        !env.iter()
            .any(|e| e.name.contains("ANTHROPIC") || e.name.contains("OPENAI"))
    );
    let mut seen: Vec<_> = env.iter().map(|e| e.name.clone()).collect();
    let n = seen.len();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), n, "duplicate env names");
}

#[test]
fn pool_and_orphan_values_reach_the_env_and_parse_back_through_the_contract() {
    let d = deploy(
        "pool: {maxConnections: 7, minConnections: 3, idleTimeoutMillis: 1000, \
         connectionTimeoutMillis: 900, statementTimeoutMs: 800}\n\
         orphans: {timeoutMinutes: 0.5, cleanupIntervalMinutes: 0.25}",
    );
    let env = plain(&env(&d));
    let pool = PoolSettings::from_env(&env).unwrap();
    assert_eq!(
        pool,
        PoolSettings {
            max_connections: 7,
            min_connections: 3,
            idle_timeout_ms: 1000,
            connect_timeout_ms: 900,
            statement_timeout_ms: 800,
        }
    );
    let orphans = OrphanSettings::from_env(&env).unwrap();
    assert_eq!(orphans.timeout_minutes, 0.5);
    assert_eq!(orphans.cleanup_interval_minutes, 0.25);
}

#[test]
fn migrations_on_startup_drop_the_job_and_let_pods_migrate() {
    let v = validated("migrations: {mode: OnStartup}");
    assert!(!roles(&v).contains(&Role::MigrationJob));
    assert!(
        build::desired(&v, &inputs())
            .absent
            .contains(&Role::MigrationJob)
    );
    let env = plain(&env(&deployment::build(&v, &inputs())));
    assert_eq!(env[names::MIGRATE_ON_START], "true");
}

#[test]
fn migration_job_runs_migrate_with_the_api_env_and_is_named_after_the_image() {
    let v = validated("");
    let job = migration_job::build(&v);
    let name = job.metadata.name.clone().unwrap();
    assert!(name.starts_with("demo-migrate-"), "{name}");
    assert_eq!(name.len(), "demo-migrate-".len() + 8);
    assert!(name.len() <= 63);
    let other = migration_job::job_name("demo", "ghcr.io/webedt/webedt-api:1.2.4");
    assert_ne!(name, other, "a new image gets a new Job");
    assert_eq!(
        name,
        migration_job::job_name("demo", "ghcr.io/webedt/webedt-api:1.2.3")
    );
    let longest = migration_job::job_name(&"a".repeat(40), "x");
    assert!(longest.len() <= 63, "{longest}");

    let spec = job.spec.unwrap();
    let pod = spec.template.spec.unwrap();
    assert_eq!(pod.restart_policy.as_deref(), Some("Never"));
    let c = &pod.containers[0];
    assert_eq!(c.command.as_deref().unwrap(), ["webedt-api", "migrate"]);
    assert_eq!(c.image.as_deref(), Some("ghcr.io/webedt/webedt-api:1.2.3"));
    assert_eq!(c.env.as_ref(), Some(&webedt_operator::build::api_env(&v)));
    assert_eq!(
        c.security_context
            .as_ref()
            .unwrap()
            .read_only_root_filesystem,
        Some(true)
    );
    assert_eq!(
        spec.template.metadata.unwrap().labels.unwrap()["app.kubernetes.io/component"],
        "migration"
    );
}

#[test]
fn deployment_probes_ports_and_rollout() {
    let d = deploy("");
    let spec = &d.spec;
    assert_eq!(spec.replicas, Some(2));
    let ru = spec
        .strategy
        .as_ref()
        .unwrap()
        .rolling_update
        .as_ref()
        .unwrap();
    assert_eq!(ru.max_unavailable, Some(IntOrString::Int(0)));
    assert_eq!(ru.max_surge, Some(IntOrString::Int(1)));
    let c = &pod(&d).containers[0];
    let port = &c.ports.as_ref().unwrap()[0];
    assert_eq!(
        (port.name.as_deref(), port.container_port),
        (Some("http"), 3001)
    );
    let path = |p: &Option<k8s_openapi::api::core::v1::Probe>| {
        p.as_ref()
            .unwrap()
            .http_get
            .as_ref()
            .unwrap()
            .path
            .clone()
            .unwrap()
    };
    assert_eq!(path(&c.startup_probe), "/health");
    assert_eq!(path(&c.liveness_probe), "/live");
    assert_eq!(path(&c.readiness_probe), "/ready");
    for p in [&c.startup_probe, &c.liveness_probe, &c.readiness_probe] {
        assert_eq!(
            p.as_ref().unwrap().http_get.as_ref().unwrap().port,
            IntOrString::String("http".into())
        );
    }
    // Selector: stable labels only (no version), and it matches the template.
    let selector = spec.selector.match_labels.clone().unwrap();
    assert!(!selector.contains_key("app.kubernetes.io/version"));
    let template_labels = spec
        .template
        .metadata
        .as_ref()
        .unwrap()
        .labels
        .clone()
        .unwrap();
    for (k, v) in &selector {
        assert_eq!(template_labels.get(k), Some(v));
    }
}

#[test]
fn deployment_is_hardened() {
    let d = deploy("");
    let p = pod(&d);
    let psc = p.security_context.as_ref().unwrap();
    assert_eq!(psc.run_as_non_root, Some(true));
    assert_eq!(psc.run_as_user, Some(65532));
    assert_eq!(
        psc.seccomp_profile.as_ref().unwrap().type_,
        "RuntimeDefault"
    );
    let c = &p.containers[0];
    let sc = c.security_context.as_ref().unwrap();
    assert_eq!(sc.allow_privilege_escalation, Some(false));
    assert_eq!(sc.read_only_root_filesystem, Some(true));
    assert_eq!(
        sc.capabilities.as_ref().unwrap().drop.as_deref().unwrap(),
        ["ALL"]
    );
    let mount = &c.volume_mounts.as_ref().unwrap()[0];
    assert_eq!(mount.mount_path, "/tmp");
    let volume = p
        .volumes
        .as_ref()
        .unwrap()
        .iter()
        .find(|v| v.name == mount.name)
        .unwrap();
    assert!(volume.empty_dir.is_some());
    assert_eq!(p.automount_service_account_token, Some(false));
}

#[test]
fn grace_period_exceeds_the_api_shutdown() {
    let d = deploy("");
    let grace = pod(&d).termination_grace_period_seconds.unwrap();
    let total_ms = ShutdownSettings::default().total_ms() as i64;
    assert!(grace * 1000 > total_ms, "{grace}s vs {total_ms}ms");
    let odd = ShutdownSettings {
        timeout_ms: 30_001,
        lb_drain_delay_ms: 0,
    };
    assert!(deployment::termination_grace_period_seconds(&odd) * 1000 > 30_001);
    // The env the API reads agrees with the grace period's basis.
    let env = plain(&env(&d));
    assert_eq!(
        ShutdownSettings::from_env(&env).unwrap(),
        ShutdownSettings::default()
    );
}

#[test]
fn secret_hash_annotation_rolls_pods_when_a_secret_changes() {
    let v = validated("podAnnotations: {a: b, webedt.dev/secret-hash: user}");
    let a = SecretVersion {
        name: "db".into(),
        version: "1".into(),
    };
    let b = SecretVersion {
        name: "demo-session".into(),
        version: "7".into(),
    };
    let h1 = secret_hash(&[a.clone(), b.clone()]);
    assert_eq!(
        h1,
        secret_hash(&[b.clone(), a.clone()]),
        "order does not matter"
    );
    let changed = SecretVersion {
        version: "2".into(),
        ..a.clone()
    };
    let h2 = secret_hash(&[changed, b.clone()]);
    assert_ne!(h1, h2);
    assert_ne!(
        secret_hash(&[SecretVersion {
            name: "ab".into(),
            version: "c".into()
        }]),
        secret_hash(&[SecretVersion {
            name: "a".into(),
            version: "bc".into()
        }])
    );

    let template = |hash: &str| {
        let d = deployment::build(
            &v,
            &Inputs {
                secret_hash: hash.into(),
                ..inputs()
            },
        );
        d.spec.template
    };
    let (t1, t2) = (template(&h1), template(&h2));
    assert_ne!(t1, t2, "a changed hash changes the pod template");
    let ann = t1.metadata.unwrap().annotations.unwrap();
    assert_eq!(ann[SECRET_HASH_ANNOTATION], h1, "the operator's hash wins");
    assert_eq!(ann["a"], "b", "user pod annotations are kept");
}

/// `secret_keys()` is the one list of Secret keys the pods read: each reaches the API pods and
/// the migration Job as its variable, and no other variable comes from a Secret.
#[test]
fn every_secret_key_reaches_the_pods_and_nothing_else_does() {
    let v = validated(
        "providers: {anthropic: {apiKeySecretRef: {name: keys, key: a}}, \
         openai: {apiKeySecretRef: {name: keys, key: o}}, worker: {url: 'http://w', secretRef: {name: wk, key: s}}}",
    );
    let keys = v.secret_keys();
    assert_eq!(keys.len(), 6, "{keys:?}");
    for env in [
        env(&deployment::build(&v, &inputs())),
        webedt_operator::build::api_env(&v),
    ] {
        for k in &keys {
            assert_eq!(
                secret_of(&env, k.var),
                Some((k.key.name.clone(), k.key.key.clone())),
                "{}",
                k.var
            );
        }
        let from_secrets = env
            .iter()
            .filter(|e| {
                e.value_from
                    .as_ref()
                    .is_some_and(|f| f.secret_key_ref.is_some())
            })
            .count();
        assert_eq!(from_secrets, keys.len());
    }
}

#[test]
fn referenced_secrets_cover_database_session_credentials_and_providers() {
    let v = validated(
        "sessionSecret: {secretRef: {name: sess}}\ncredentials: {secretRef: {name: creds}}\n\
         providers: {anthropic: {apiKeySecretRef: {name: keys, key: a}}, \
         openai: {apiKeySecretRef: {name: keys, key: o}}, worker: {url: 'http://w', secretRef: {name: wk, key: s}}}",
    );
    assert_eq!(
        v.referenced_secrets(),
        ["creds", "db", "keys", "sess", "wk"]
    );
    assert!(!v.session_secret_generated && !v.credentials_keys_generated);
    assert!(!roles(&v).contains(&Role::SessionSecret));
    assert!(!roles(&v).contains(&Role::CredentialsSecret));
    let env = env(&deployment::build(&v, &inputs()));
    assert_eq!(
        secret_of(&env, names::SESSION_SECRET),
        Some(("sess".into(), "secret".into()))
    );
    assert_eq!(
        secret_of(&env, names::CREDENTIALS_KEYS),
        Some(("creds".into(), "keys".into()))
    );
}

#[test]
fn generated_credentials_keys_reach_the_api_pods_and_roll_them() {
    let v = validated("");
    assert!(v.credentials_keys_generated);
    let env = env(&deployment::build(&v, &inputs()));
    assert_eq!(
        secret_of(&env, names::CREDENTIALS_KEYS),
        Some(("demo-credentials".into(), "keys".into()))
    );
    // The Secret is one of those whose versions make up the pods' Secret hash.
    assert!(
        v.referenced_secrets()
            .contains(&"demo-credentials".to_string())
    );
}

#[test]
fn providers_use_secret_refs_for_keys_and_plain_values_otherwise() {
    let d = deploy(
        "providers: {anthropic: {apiKeySecretRef: {name: keys, key: anthropic}, baseUrl: 'https://proxy', model: claude}, \
         openai: {model: llama3}, worker: {url: 'http://worker:8080', secretRef: {name: wk, key: token}}, default: worker}",
    );
    let env = env(&d);
    assert_eq!(
        secret_of(&env, names::ANTHROPIC_API_KEY),
        Some(("keys".into(), "anthropic".into()))
    );
    assert_eq!(
        secret_of(&env, names::AI_WORKER_SECRET),
        Some(("wk".into(), "token".into()))
    );
    assert!(
        secret_of(&env, names::OPENAI_API_KEY).is_none(),
        "no key configured"
    );
    let values = plain(&env);
    assert_eq!(values[names::ANTHROPIC_BASE_URL], "https://proxy");
    assert_eq!(values[names::ANTHROPIC_MODEL], "claude");
    assert_eq!(values[names::OPENAI_BASE_URL], "https://api.openai.com/v1");
    assert_eq!(values[names::OPENAI_MODEL], "llama3");
    assert_eq!(values[names::AI_WORKER_URL], "http://worker:8080");
    assert_eq!(values[names::DEFAULT_PROVIDER], "worker");
    // Every variable the operator can write is reserved against spec.env.
    for e in &env {
        assert!(
            OPERATOR_ENV.contains(&e.name.as_str()),
            "{} is not in OPERATOR_ENV",
            e.name
        );
    }
}

#[test]
fn require_user_keys_reaches_the_api_pods_only_when_set() {
    let on = env(&deploy("providers: {requireUserKeys: true}"));
    assert_eq!(plain(&on)[names::REQUIRE_USER_KEYS], "true");
    // Off is the API's own default: the variable is left out rather than written as false.
    let off = env(&deploy("providers: {requireUserKeys: false}"));
    assert!(off.iter().all(|e| e.name != names::REQUIRE_USER_KEYS));
    let err = webedt_operator::validate::validate(
        &cr(&format!(
            "{MINIMAL}\nenv: [{{name: REQUIRE_USER_KEYS, value: 'false'}}]"
        )),
        "ns",
    )
    .unwrap_err();
    assert_eq!(
        err.reason(),
        "ReservedEnvVar",
        "spec.env cannot switch it off"
    );
}

#[test]
fn extra_env_is_appended_and_reserved_names_are_refused() {
    let env = env(&deploy("env: [{name: LOG_FORMAT, value: pretty}]"));
    assert_eq!(env.last().unwrap().name, "LOG_FORMAT");
    let c = cr(&format!(
        "{MINIMAL}\nenv: [{{name: DB_POOL_MAX, value: '99'}}]"
    ));
    let err = webedt_operator::validate::validate(&c, "ns").unwrap_err();
    assert_eq!(err.reason(), "ReservedEnvVar");
    assert!(err.to_string().contains("DB_POOL_MAX"), "{err}");
}

#[test]
fn autoscaling_off_sets_replicas_and_builds_no_hpa() {
    let v = validated("replicas: 4");
    assert_eq!(deployment::build(&v, &inputs()).spec.replicas, Some(4));
    assert!(build::hpa::build(&v).is_none());
}

#[test]
fn autoscaling_on_leaves_replicas_to_the_hpa() {
    let v = validated(
        "replicas: 4\nautoscaling: {enabled: true, minReplicas: 3, maxReplicas: 9, targetCPUUtilizationPercentage: 65}",
    );
    assert_eq!(deployment::build(&v, &inputs()).spec.replicas, None);
    let hpa = build::hpa::build(&v).unwrap();
    let s = &hpa.spec;
    assert_eq!(s.scale_target_ref.kind, "Deployment");
    assert_eq!(s.scale_target_ref.name, "demo");
    assert_eq!((s.min_replicas, s.max_replicas), (Some(3), 9));
    let metric = &s.metrics.as_ref().unwrap()[0];
    let r = metric.resource.as_ref().unwrap();
    assert_eq!(r.name, "cpu");
    assert_eq!(r.target.average_utilization, Some(65));
    // The default resources carry the CPU request utilization is measured against.
    let d = deployment::build(&v, &inputs());
    let res = pod(&d).containers[0].resources.clone().unwrap();
    assert!(res.requests.unwrap().contains_key("cpu"));
}

#[test]
fn service_targets_the_named_port() {
    let v = validated("service: {type: LoadBalancer, port: 8080}");
    let s = build::service::build(&v).spec.unwrap();
    assert_eq!(s.type_.as_deref(), Some("LoadBalancer"));
    let p = &s.ports.unwrap()[0];
    assert_eq!((p.port, p.name.as_deref()), (8080, Some("http")));
    assert_eq!(p.target_port, Some(IntOrString::String("http".into())));
    assert_eq!(s.selector.unwrap()["app.kubernetes.io/component"], "api");
    assert_eq!(build::service::cluster_url(&v), "http://demo.ns.svc:8080");
}

#[test]
fn ingress_is_sse_friendly_with_tls_and_user_annotations_winning() {
    let v = validated(
        "ingress: {enabled: true, className: nginx, host: w.example.com, tls: {secretName: w-tls}, \
         annotations: {nginx.ingress.kubernetes.io/proxy-read-timeout: '7200', x: y}}",
    );
    let ing = build::ingress::build(&v).unwrap();
    let ann = ing.metadata.annotations.unwrap();
    assert_eq!(ann["nginx.ingress.kubernetes.io/proxy-buffering"], "off");
    assert_eq!(
        ann["nginx.ingress.kubernetes.io/proxy-read-timeout"],
        "7200"
    );
    assert_eq!(ann["x"], "y");
    let spec = ing.spec.unwrap();
    assert_eq!(spec.ingress_class_name.as_deref(), Some("nginx"));
    let rule = &spec.rules.unwrap()[0];
    assert_eq!(rule.host.as_deref(), Some("w.example.com"));
    let backend = rule.http.as_ref().unwrap().paths[0]
        .backend
        .service
        .clone()
        .unwrap();
    assert_eq!(backend.name, "demo");
    assert_eq!(backend.port.unwrap().name.as_deref(), Some("http"));
    let tls = &spec.tls.unwrap()[0];
    assert_eq!(tls.secret_name.as_deref(), Some("w-tls"));
    assert_eq!(tls.hosts.as_deref().unwrap(), ["w.example.com"]);
    assert_eq!(
        build::ingress::url(&v).as_deref(),
        Some("https://w.example.com")
    );
    assert!(v.findings.is_empty());
}

#[test]
fn ingress_off_builds_nothing_and_plain_http_ingress_is_a_finding() {
    assert!(build::ingress::build(&validated("")).is_none());
    let v = validated("ingress: {enabled: true, host: w.example.com}");
    assert!(
        build::ingress::build(&v)
            .unwrap()
            .spec
            .unwrap()
            .tls
            .is_none()
    );
    assert_eq!(v.findings, [Finding::IngressWithoutTls]);
    assert_eq!(
        build::ingress::url(&v).as_deref(),
        Some("http://w.example.com")
    );
}

#[test]
fn pdb_defaults_on_and_can_be_disabled() {
    let pdb = build::pdb::build(&validated("")).unwrap().spec.unwrap();
    assert_eq!(pdb.max_unavailable, Some(IntOrString::Int(1)));
    assert_eq!(
        pdb.selector.unwrap().match_labels.unwrap()["app.kubernetes.io/instance"],
        "demo"
    );
    assert!(build::pdb::build(&validated("podDisruptionBudget: {enabled: false}")).is_none());
}

#[test]
fn network_policy_admits_listed_peers_or_the_namespace_to_the_api_port() {
    assert!(build::network_policy::build(&validated("")).is_none());
    let np = build::network_policy::build(&validated("networkPolicy: {enabled: true}")).unwrap();
    let spec = np.spec.unwrap();
    assert_eq!(spec.policy_types.as_deref().unwrap(), ["Ingress"]);
    let rule = &spec.ingress.unwrap()[0];
    assert_eq!(
        rule.ports.as_ref().unwrap()[0].port,
        Some(IntOrString::Int(3001))
    );
    assert_eq!(
        serde_json::to_value(&rule.from).unwrap(),
        json!([{"podSelector": {}}])
    );
    let np = build::network_policy::build(&validated(
        "networkPolicy: {enabled: true, allowFrom: [{namespaceSelector: {matchLabels: {team: edge}}}]}",
    ))
    .unwrap();
    let from = serde_json::to_value(&np.spec.unwrap().ingress.unwrap()[0].from).unwrap();
    assert_eq!(
        from,
        json!([{"namespaceSelector": {"matchLabels": {"team": "edge"}}}])
    );
}

#[test]
fn service_monitor_scrapes_metrics_on_the_service_port() {
    assert!(build::service_monitor::build(&validated("")).is_none());
    let v = validated("serviceMonitor: {enabled: true}");
    let sm = serde_json::to_value(build::service_monitor::build(&v).unwrap()).unwrap();
    assert_eq!(sm["spec"]["endpoints"][0]["port"], "http");
    assert_eq!(sm["spec"]["endpoints"][0]["path"], "/metrics");
    let service_labels = serde_json::to_value(build::service::build(&v).metadata.labels).unwrap();
    for (k, val) in sm["spec"]["selector"]["matchLabels"].as_object().unwrap() {
        assert_eq!(
            &service_labels[k], val,
            "the ServiceMonitor selects the Service"
        );
    }
}

#[test]
fn session_secret_is_generated_with_the_given_value() {
    let v = validated("");
    let s = build::session_secret::build(&v, "r".repeat(43).as_str());
    assert_eq!(s.metadata.name.as_deref(), Some("demo-session"));
    assert_eq!(s.string_data.unwrap()["secret"], "r".repeat(43));
    let offline = build::session_secret::build(&v, &Inputs::offline().new_session_secret);
    let placeholder = &offline.string_data.unwrap()["secret"];
    assert!(
        placeholder.len() < webedt_contract::MIN_SESSION_SECRET_BYTES,
        "a rendered placeholder must be rejected by the API if applied"
    );
}

#[test]
fn scheduling_options_pass_through_and_default_to_spreading() {
    let d = deploy("");
    let aff = pod(&d).affinity.clone().unwrap();
    let pref = aff
        .pod_anti_affinity
        .unwrap()
        .preferred_during_scheduling_ignored_during_execution
        .unwrap();
    assert_eq!(
        pref[0].pod_affinity_term.topology_key,
        "kubernetes.io/hostname"
    );
    let d = deploy(
        "nodeSelector: {disk: ssd}\ntolerations: [{key: k, operator: Exists}]\nimagePullPolicy: Always\n\
         imagePullSecrets: [{name: reg}]\naffinity: {nodeAffinity: {}}\nresources: {requests: {cpu: '1'}}",
    );
    let p = pod(&d);
    assert_eq!(p.node_selector.clone().unwrap()["disk"], "ssd");
    assert_eq!(p.tolerations.as_ref().unwrap()[0].key.as_deref(), Some("k"));
    assert_eq!(p.image_pull_secrets.as_ref().unwrap()[0].name, "reg");
    assert!(
        p.affinity.as_ref().unwrap().pod_anti_affinity.is_none(),
        "spec.affinity replaces the default"
    );
    assert_eq!(p.containers[0].image_pull_policy.as_deref(), Some("Always"));
    let res = p.containers[0].resources.clone().unwrap();
    assert_eq!(res.requests.unwrap()["cpu"].0, "1");
    assert!(res.limits.is_none(), "spec.resources replaces the defaults");
}

#[test]
fn built_objects_serialize_with_api_version_and_kind() {
    let v: Value = serde_json::to_value(deploy("")).unwrap();
    assert_eq!(
        (v["apiVersion"].as_str(), v["kind"].as_str()),
        (Some("apps/v1"), Some("Deployment"))
    );
}
