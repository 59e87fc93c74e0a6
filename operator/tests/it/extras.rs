//! What platform teams set on every install (issue: operator round 2): placement and identity,
//! Service options, pod extras and the unsupported pod template, rollout and shutdown timing,
//! autoscaling metrics, ServiceMonitor labels, migration Job options.

use crate::common::*;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::PodSpec;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::CustomResourceExt;
use webedt_contract::{ShutdownSettings, names};
use webedt_operator::build::{
    self, Desired, deployment, hpa, migration_job, service, service_monitor,
};
use webedt_operator::crd::WebEDT;
use webedt_operator::validate::validate;

fn pod(d: &Deployment) -> PodSpec {
    d.spec.clone().template.spec.unwrap()
}

fn reason(extra: &str) -> &'static str {
    validate(&cr(&format!("{MINIMAL}\n{extra}")), "ns")
        .unwrap_err()
        .reason()
}

#[test]
fn placement_identity_and_labels() {
    let d = deploy("");
    assert_eq!(pod(&d).automount_service_account_token, Some(false));
    assert!(pod(&d).service_account_name.is_none());
    let d = deploy(
        "serviceAccountName: webedt\nautomountServiceAccountToken: true\npriorityClassName: high\n\
         topologySpreadConstraints: [{maxSkew: 1, topologyKey: topology.kubernetes.io/zone, \
         whenUnsatisfiable: ScheduleAnyway, labelSelector: {matchLabels: {app.kubernetes.io/instance: demo}}}]\n\
         podLabels: {mesh: 'on', app.kubernetes.io/name: hijack}\ncommonLabels: {team: core}",
    );
    let p = pod(&d);
    assert_eq!(p.service_account_name.as_deref(), Some("webedt"));
    assert_eq!(p.automount_service_account_token, Some(true));
    assert_eq!(p.priority_class_name.as_deref(), Some("high"));
    assert_eq!(
        p.topology_spread_constraints.unwrap()[0].topology_key,
        "topology.kubernetes.io/zone"
    );
    let pod_labels = d.spec.template.metadata.unwrap().labels.unwrap();
    assert_eq!(pod_labels["mesh"], "on");
    assert_eq!(pod_labels["team"], "core");
    assert_eq!(
        pod_labels["app.kubernetes.io/name"], "webedt",
        "the operator's labels win: the selector must keep matching"
    );
    // Common labels go on every child, pod labels only on pods.
    let v = validated("commonLabels: {team: core}\npodLabels: {mesh: 'on'}");
    for obj in build::desired(&v, &inputs()).objects {
        let meta = match &obj {
            Desired::ApiDeployment(d) => d.metadata.clone(),
            Desired::ApiService(s) => s.metadata.clone(),
            Desired::MigrationJob(j) => j.metadata.clone(),
            Desired::SessionSecret(s) | Desired::CredentialsSecret(s) => s.metadata.clone(),
            Desired::PodDisruptionBudget(p) => p.metadata.clone(),
            other => panic!("unexpected default object {:?}", other.role()),
        };
        let labels = meta.labels.unwrap();
        assert_eq!(labels["team"], "core", "{:?}", obj.role());
        assert!(!labels.contains_key("mesh"), "{:?}", obj.role());
    }
}

#[test]
fn service_options_for_cloud_load_balancers() {
    let s = service::build(&validated(
        "service: {type: LoadBalancer, annotations: {service.beta.kubernetes.io/aws-load-balancer-scheme: internal}, \
         externalTrafficPolicy: Local, loadBalancerSourceRanges: [203.0.113.0/24]}",
    ));
    assert_eq!(
        s.metadata.annotations.unwrap()["service.beta.kubernetes.io/aws-load-balancer-scheme"],
        "internal"
    );
    let spec = s.spec.unwrap();
    assert_eq!(spec.external_traffic_policy.as_deref(), Some("Local"));
    assert_eq!(
        spec.load_balancer_source_ranges.unwrap(),
        ["203.0.113.0/24"]
    );
    // Defaults: nothing set.
    let spec = service::build(&validated("")).spec.unwrap();
    assert!(spec.external_traffic_policy.is_none() && spec.load_balancer_source_ranges.is_none());
    // Rules name the field.
    let errors = spec_errors(&format!(
        "{MINIMAL}\nservice: {{loadBalancerSourceRanges: [10.0.0.0/8]}}"
    ));
    assert!(
        errors
            .iter()
            .any(|e| e.contains("loadBalancerSourceRanges")),
        "{errors:?}"
    );
    let errors = spec_errors(&format!(
        "{MINIMAL}\nservice: {{externalTrafficPolicy: Local}}"
    ));
    assert!(
        errors.iter().any(|e| e.contains("externalTrafficPolicy")),
        "{errors:?}"
    );
}

#[test]
fn pod_extras_volumes_init_containers_sidecars_env_from() {
    let extra = "envFrom: [{configMapRef: {name: extra-env}}]\n\
                 volumes: [{name: db-ca, secret: {secretName: db-ca}}]\n\
                 volumeMounts: [{name: db-ca, mountPath: /etc/db-ca, readOnly: true}]\n\
                 initContainers: [{name: wait, image: busybox, command: [sh, -c, 'true']}]\n\
                 sidecars: [{name: proxy, image: envoy, ports: [{containerPort: 9901}]}]";
    let p = pod(&deploy(extra));
    let names: Vec<_> = p.containers.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["api", "proxy"]);
    assert_eq!(p.init_containers.unwrap()[0].name, "wait");
    let vols: Vec<_> = p.volumes.unwrap().into_iter().map(|v| v.name).collect();
    assert_eq!(vols, ["tmp", "db-ca"]);
    let api = &p.containers[0];
    let mounts: Vec<_> = api
        .volume_mounts
        .clone()
        .unwrap()
        .into_iter()
        .map(|m| m.mount_path)
        .collect();
    assert_eq!(mounts, ["/tmp", "/etc/db-ca"]);
    assert_eq!(
        api.env_from.clone().unwrap()[0]
            .config_map_ref
            .as_ref()
            .unwrap()
            .name,
        "extra-env"
    );
    // The migration Job gets the CA and envFrom (it connects to the same database), not the
    // sidecar (it would keep the Job running).
    let job = migration_job::build(&validated(extra));
    let jp = job.spec.unwrap().template.spec.unwrap();
    assert_eq!(jp.containers.len(), 1);
    assert!(jp.volumes.unwrap().iter().any(|v| v.name == "db-ca"));
    assert!(jp.containers[0].env_from.is_some());
    // Bad extras are named: not a Volume, a clash with the operator's names, a mount of nothing.
    assert_eq!(reason("volumes: [{name: 1}]"), "InvalidPodExtras");
    assert_eq!(
        reason("sidecars: [{name: api, image: x}]"),
        "InvalidPodExtras"
    );
    assert_eq!(
        reason("volumes: [{name: tmp, emptyDir: {}}]"),
        "InvalidPodExtras"
    );
    assert_eq!(
        reason("volumeMounts: [{name: nope, mountPath: /x}]"),
        "InvalidPodExtras"
    );
    let e = validate(
        &cr(&format!(
            "{MINIMAL}\ninitContainers: [{{name: w, image: i}}, {{name: 5}}]"
        )),
        "ns",
    )
    .unwrap_err();
    assert!(e.to_string().contains("initContainers[1]"), "{e}");
}

#[test]
fn the_unsupported_pod_template_is_merged_last_by_name() {
    let d = deploy(
        "sidecars: [{name: proxy, image: envoy}]\n\
         unsupported: {podTemplate: {metadata: {annotations: {extra: x}}, spec: {dnsPolicy: None, \
         dnsConfig: {nameservers: [1.1.1.1]}, containers: [{name: api, env: [{name: EXTRA, value: '1'}], \
         stdin: true}, {name: proxy, image: envoy:v2}]}}}",
    );
    let t = d.spec.template;
    let annotations = t.metadata.unwrap().annotations.unwrap();
    assert_eq!(annotations["extra"], "x");
    assert!(
        annotations.contains_key(build::SECRET_HASH_ANNOTATION),
        "merged, not replaced"
    );
    let p = t.spec.unwrap();
    assert_eq!(p.dns_policy.as_deref(), Some("None"));
    let api = p.containers.iter().find(|c| c.name == "api").unwrap();
    assert_eq!(api.stdin, Some(true));
    let env = api.env.clone().unwrap();
    assert!(env.iter().any(|e| e.name == "EXTRA"));
    assert!(
        env.iter().any(|e| e.name == names::DATABASE_URL),
        "the operator's env is kept: env merges by name"
    );
    assert_eq!(
        p.containers
            .iter()
            .find(|c| c.name == "proxy")
            .unwrap()
            .image
            .as_deref(),
        Some("envoy:v2")
    );
    assert_eq!(p.containers.len(), 2);
    // Not a pod template: refused by name.
    let e = validate(
        &cr(&format!(
            "{MINIMAL}\nunsupported: {{podTemplate: {{spec: {{containers: 3}}}}}}"
        )),
        "ns",
    )
    .unwrap_err();
    assert_eq!(e.reason(), "InvalidPodExtras");
    assert!(e.to_string().contains("unsupported.podTemplate"), "{e}");
}

#[test]
fn rollout_probes_and_shutdown_timing() {
    let d = deploy(
        "rollout: {maxSurge: 2, maxUnavailable: 1, minReadySeconds: 10}\n\
         probes: {readiness: {periodSeconds: 3, failureThreshold: 4}, liveness: {timeoutSeconds: 5}, \
         startup: {initialDelaySeconds: 7}}\n\
         shutdown: {drainDelayMs: 10000, timeoutMs: 60000}",
    );
    let spec = d.spec.clone();
    let ru = spec.strategy.unwrap().rolling_update.unwrap();
    assert_eq!(ru.max_surge, Some(IntOrString::Int(2)));
    assert_eq!(ru.max_unavailable, Some(IntOrString::Int(1)));
    assert_eq!(spec.min_ready_seconds, Some(10));
    let p = pod(&d);
    let api = &p.containers[0];
    let r = api.readiness_probe.clone().unwrap();
    assert_eq!((r.period_seconds, r.failure_threshold), (Some(3), Some(4)));
    assert_eq!(r.timeout_seconds, Some(2), "unset fields keep the default");
    assert_eq!(api.liveness_probe.clone().unwrap().timeout_seconds, Some(5));
    assert_eq!(
        api.startup_probe.clone().unwrap().initial_delay_seconds,
        Some(7)
    );
    // The grace period covers the drain and the shutdown: 70 s + margin.
    assert_eq!(
        p.termination_grace_period_seconds,
        Some(deployment::termination_grace_period_seconds(
            &ShutdownSettings {
                timeout_ms: 60_000,
                lb_drain_delay_ms: 10_000,
            }
        ))
    );
    assert!(p.termination_grace_period_seconds.unwrap() > 70);
    let env = api.env.clone().unwrap();
    let value = |n: &str| {
        env.iter()
            .find(|e| e.name == n)
            .and_then(|e| e.value.clone())
    };
    assert_eq!(value(names::LB_DRAIN_DELAY_MS).as_deref(), Some("10000"));
    assert_eq!(value(names::SHUTDOWN_TIMEOUT_MS).as_deref(), Some("60000"));
    // A rollout that can never proceed is refused both ways.
    assert_eq!(
        reason("rollout: {maxSurge: 0, maxUnavailable: 0}"),
        "InvalidRollout"
    );
    let errors = spec_errors(&format!(
        "{MINIMAL}\nrollout: {{maxSurge: 0, maxUnavailable: 0}}"
    ));
    assert!(
        errors.iter().any(|e| e.contains("rollout.maxSurge")),
        "{errors:?}"
    );
    // The surge counts in the connection budget: (2 + 2) × (20 + 1) + 1 = 85.
    let v = validated(
        "replicas: 2\nrollout: {maxSurge: 2}\ndatabase: {secretRef: {name: db}, maxConnections: 84}",
    );
    assert_eq!(v.findings.len(), 1);
    assert!(
        v.findings[0]
            .message()
            .contains("(2 replicas + 2 rollout surge)")
    );
}

#[test]
fn autoscaling_memory_custom_metrics_and_behavior() {
    let v = validated(
        "autoscaling: {enabled: true, targetMemoryUtilizationPercentage: 75, \
         metrics: [{type: Pods, pods: {metric: {name: webedt_streams}, target: {type: AverageValue, averageValue: '500'}}}], \
         behavior: {scaleDown: {stabilizationWindowSeconds: 600}}}",
    );
    let h = hpa::build(&v).unwrap().spec;
    let m = h.metrics.unwrap();
    let kinds: Vec<_> = m
        .iter()
        .map(|m| {
            m.resource
                .as_ref()
                .map(|r| r.name.clone())
                .unwrap_or_else(|| m.type_.clone())
        })
        .collect();
    assert_eq!(kinds, ["cpu", "memory", "Pods"]);
    assert_eq!(
        h.behavior
            .unwrap()
            .scale_down
            .unwrap()
            .stabilization_window_seconds,
        Some(600)
    );
    assert_eq!(
        reason("autoscaling: {enabled: true, metrics: [{type: 7}]}"),
        "InvalidPodExtras"
    );
    let errors = spec_errors(&format!(
        "{MINIMAL}\nautoscaling: {{enabled: true, targetMemoryUtilizationPercentage: 70}}\n\
         resources: {{requests: {{cpu: 100m}}}}"
    ));
    assert!(
        errors
            .iter()
            .any(|e| e.contains("resources.requests.memory")),
        "{errors:?}"
    );
}

#[test]
fn service_monitor_labels_interval_and_timeout() {
    let sm = service_monitor::build(&validated(
        "serviceMonitor: {enabled: true, labels: {release: kps}, interval: 15s, scrapeTimeout: 10s}",
    ))
    .unwrap();
    let labels = sm.metadata.labels.unwrap();
    assert_eq!(labels["release"], "kps");
    assert_eq!(labels["app.kubernetes.io/managed-by"], "webedt-operator");
    assert_eq!(sm.data["spec"]["endpoints"][0]["interval"], "15s");
    assert_eq!(sm.data["spec"]["endpoints"][0]["scrapeTimeout"], "10s");
    let errors = spec_errors(&format!(
        "{MINIMAL}\nserviceMonitor: {{enabled: true, interval: soon}}"
    ));
    assert!(
        errors.iter().any(|e| e.contains("serviceMonitor.interval")),
        "{errors:?}"
    );
}

#[test]
fn migration_job_options() {
    let job = migration_job::build(&validated(
        "migrations: {backoffLimit: 1, activeDeadlineSeconds: 600, resources: {limits: {memory: 1Gi}}}",
    ));
    let spec = job.spec.unwrap();
    assert_eq!(spec.backoff_limit, Some(1));
    assert_eq!(spec.active_deadline_seconds, Some(600));
    let r = spec.template.spec.unwrap().containers[0]
        .resources
        .clone()
        .unwrap();
    assert_eq!(r.limits.unwrap()["memory"].0, "1Gi");
}

#[test]
fn the_crd_stays_under_the_client_side_apply_annotation_limit() {
    // `kubectl apply` (client-side) stores the whole object in a 262,144-byte annotation.
    let size = serde_json::to_vec(&WebEDT::crd()).unwrap().len();
    assert!(size < 256 * 1024, "CRD is {size} bytes");
    eprintln!("CRD size: {size} bytes");
}

#[test]
fn ingress_with_several_hosts_paths_and_tls_per_host() {
    let v = validated(
        "ingress: {enabled: true, className: nginx, host: a.example, paths: [/api, /], tls: {secretName: a-tls}, \
         extraHosts: [{host: b.example, tls: {secretName: b-tls}}, {host: c.example, paths: [/api]}]}",
    );
    let i = build::ingress::build(&v).unwrap().spec.unwrap();
    let rules = i.rules.unwrap();
    let summary: Vec<(String, Vec<String>)> = rules
        .iter()
        .map(|r| {
            (
                r.host.clone().unwrap(),
                r.http
                    .as_ref()
                    .unwrap()
                    .paths
                    .iter()
                    .map(|p| p.path.clone().unwrap())
                    .collect(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("a.example".into(), vec!["/api".into(), "/".into()]),
            ("b.example".into(), vec!["/".into()]),
            ("c.example".into(), vec!["/api".into()]),
        ]
    );
    let tls: Vec<(Vec<String>, String)> = i
        .tls
        .unwrap()
        .into_iter()
        .map(|t| (t.hosts.unwrap(), t.secret_name.unwrap()))
        .collect();
    assert_eq!(
        tls,
        [
            (vec!["a.example".to_string()], "a-tls".to_string()),
            (vec!["b.example".to_string()], "b-tls".to_string()),
        ]
    );
    for (bad, field) in [
        (
            "ingress: {enabled: true, host: a.example, paths: [api]}",
            "ingress.paths",
        ),
        (
            "ingress: {enabled: true, extraHosts: [{host: b.example}]}",
            "ingress.extraHosts",
        ),
        (
            "ingress: {enabled: true, host: a.example, extraHosts: [{host: b.example, paths: [x]}]}",
            "extraHosts[0].paths[0]",
        ),
    ] {
        let errors = spec_errors(&format!("{MINIMAL}\n{bad}"));
        assert!(
            errors.iter().any(|e| e.contains(field)),
            "{bad}: {errors:?}"
        );
    }
}
