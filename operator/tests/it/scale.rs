//! Limits, retention, the pooler and the connection budget: what the spec sets reaches the pods
//! as the env contract reads it, and the budget counts every connection at the peak.

use crate::common::*;
use k8s_openapi::api::core::v1::EnvVar;
use std::collections::BTreeMap;
use webedt_contract::{LimitSettings, PoolerMode, ProviderLimits, ScaleSettings, names};
use webedt_operator::budget::ConnectionBudget;
use webedt_operator::build::{self, migration_job};
use webedt_operator::validate::{Finding, validate};

fn plain(env: &[EnvVar]) -> BTreeMap<String, String> {
    env.iter()
        .filter_map(|e| e.value.clone().map(|v| (e.name.clone(), v)))
        .collect()
}

fn reason(extra: &str) -> &'static str {
    validate(&cr(&format!("{MINIMAL}\n{extra}")), "ns")
        .unwrap_err()
        .reason()
}

#[test]
fn limits_and_retention_reach_the_env_and_parse_back_through_the_contract() {
    let env = plain(&env_for(
        "limits: {headerTimeoutMs: 5000, bodyTimeoutMs: 6000, connectionsPerReplica: 900, \
         streamsPerUser: 7, runsPerUser: 2, runsPerMinute: 9, registrationsPerIpHour: 3, \
         loginFailuresPerAccountIp: 4, loginFailuresPerIp: 40, loginSlowdownAfter: 20}\n\
         retention: {trashDays: 7, auditDays: 365}\nevents: {textCoalesceMs: 0}\n\
         providers: {connectTimeoutMs: 1500, idleTimeoutMs: 2500, historyMaxChars: 0}",
    ));
    assert_eq!(
        LimitSettings::from_env(&env).unwrap(),
        LimitSettings {
            header_timeout_ms: 5000,
            body_timeout_ms: 6000,
            max_connections: 900,
            streams_per_user: 7,
            runs_per_user: 2,
            runs_per_minute: 9,
            registrations_per_ip_hour: 3,
            login_failures_per_account_ip: 4,
            login_failures_per_ip: 40,
            login_slowdown_after: 20,
            audit_retention_days: 365,
        }
    );
    let scale = ScaleSettings::from_env(&env).unwrap();
    assert_eq!(scale.trash_retention_days, 7);
    assert_eq!(scale.text_coalesce_ms, 0);
    assert_eq!(scale.pooler_mode, PoolerMode::None);
    assert_eq!(
        ProviderLimits::from_env(&env).unwrap(),
        ProviderLimits {
            connect_timeout_ms: 1500,
            idle_timeout_ms: 2500,
            history_max_chars: 0,
        }
    );
}

#[test]
fn limits_the_contract_refuses_are_refused_offline_and_by_admission() {
    assert_eq!(reason("limits: {runsPerUser: 0}"), "InvalidLimits");
    assert_eq!(reason("retention: {auditDays: 0}"), "InvalidLimits");
    assert_eq!(reason("retention: {trashDays: 0}"), "InvalidScaleSettings");
    assert_eq!(
        reason("events: {textCoalesceMs: 5000}"),
        "InvalidScaleSettings"
    );
    assert_eq!(
        reason("providers: {idleTimeoutMs: 0}"),
        "InvalidProviderSettings"
    );
    for (bad, field) in [
        ("limits: {runsPerUser: 0}", "runsPerUser"),
        ("limits: {streamsPerUser: -1}", "streamsPerUser"),
        ("retention: {trashDays: 0}", "trashDays"),
        ("events: {textCoalesceMs: 5000}", "textCoalesceMs"),
        ("providers: {connectTimeoutMs: 0}", "connectTimeoutMs"),
        (
            "ingress: {enabled: true, trustedProxyHops: 0}",
            "trustedProxyHops",
        ),
    ] {
        let errors = spec_errors(&format!("{MINIMAL}\n{bad}"));
        assert!(
            errors.iter().any(|e| e.contains(field)),
            "{bad}: errors name the field {field}: {errors:?}"
        );
    }
    // Limit variables are the operator's: spec.env cannot set them behind its back.
    assert_eq!(
        reason("env: [{name: LIMIT_RUNS_PER_USER, value: '100'}]"),
        "ReservedEnvVar"
    );
}

#[test]
fn trusted_proxy_hops_follow_the_ingress() {
    // No Ingress: not set, and a team with its own proxy may set it.
    let env = plain(&env_for("env: [{name: TRUSTED_PROXY_HOPS, value: '2'}]"));
    assert_eq!(env[names::TRUSTED_PROXY_HOPS], "2");
    // With the Ingress: one hop (the controller) by default, or what the spec says; then
    // spec.env may not set it.
    let env = plain(&env_for("ingress: {enabled: true, host: a.example}"));
    assert_eq!(env[names::TRUSTED_PROXY_HOPS], "1");
    let env = plain(&env_for(
        "ingress: {enabled: true, host: a.example, trustedProxyHops: 2}",
    ));
    assert_eq!(env[names::TRUSTED_PROXY_HOPS], "2");
    assert_eq!(
        reason(
            "ingress: {enabled: true, host: a.example}\nenv: [{name: TRUSTED_PROXY_HOPS, value: '3'}]"
        ),
        "ReservedEnvVar"
    );
    // The API reads the value the operator wrote.
    let env = plain(&env_for("ingress: {enabled: true, host: a.example}"));
    let mut all = env.clone();
    all.insert(names::DATABASE_URL.into(), "postgres://u:p@db/x".into());
    all.insert(names::SESSION_SECRET.into(), "s".repeat(43));
    let settings = webedt_contract::Settings::from_env(&all).unwrap();
    assert_eq!(settings.auth.trusted_proxy_hops, 1);
}

#[test]
fn a_pooler_sends_the_pools_through_it_and_listen_and_migrations_direct() {
    let pooled = "database: {secretRef: {name: pooler-uri}, directSecretRef: {name: pg-app}, \
                  pooler: {serverConnections: 40}}";
    let v = validated(pooled);
    let env = env_for(pooled);
    let secret = |name: &str| {
        let e = env.iter().find(|e| e.name == name).unwrap();
        let r = e.value_from.clone().unwrap().secret_key_ref.unwrap();
        (r.name, r.key)
    };
    assert_eq!(
        secret(names::DATABASE_URL),
        ("pooler-uri".into(), "uri".into())
    );
    assert_eq!(
        secret(names::DATABASE_DIRECT_URL),
        ("pg-app".into(), "uri".into())
    );
    assert_eq!(plain(&env)[names::DB_POOLER_MODE], "transaction");
    // The migration Job gets the direct URL too (it migrates through it).
    let job = migration_job::build(&v);
    let job_env = job.spec.unwrap().template.spec.unwrap().containers[0]
        .env
        .clone()
        .unwrap();
    assert!(job_env.iter().any(|e| e.name == names::DATABASE_DIRECT_URL));
    // A rotated direct-URL Secret rolls the pods like the others: it is one of the watched.
    assert!(v.referenced_secrets().contains(&"pg-app".to_string()));
    // Session mode behaves like PostgreSQL itself.
    let env = plain(&env_for(
        "database: {secretRef: {name: p}, directSecretRef: {name: d}, \
         pooler: {mode: Session, serverConnections: 5}}",
    ));
    assert_eq!(env[names::DB_POOLER_MODE], "none");
    // Without a direct URL a transaction pooler would break LISTEN: refused both ways.
    assert_eq!(
        reason("database: {secretRef: {name: p}, pooler: {serverConnections: 5}}"),
        "PoolerWithoutDirectUrl"
    );
    let errors =
        spec_errors("image: i\ndatabase: {secretRef: {name: p}, pooler: {serverConnections: 5}}");
    assert!(
        errors.iter().any(|e| e.contains("directSecretRef")),
        "{errors:?}"
    );
    let _ = build::desired(&v, &inputs());
}

fn budget_of(extra: &str) -> (ConnectionBudget, Vec<Finding>) {
    let v = validated(extra);
    (ConnectionBudget::of(&v), v.findings)
}

#[test]
fn the_budget_counts_pools_listen_surge_and_migration() {
    // 3 replicas + 1 surge pod, each pool 20 + 1 LISTEN, + 1 migration = 85.
    let (b, findings) = budget_of(
        "replicas: 3\npool: {maxConnections: 20}\ndatabase: {secretRef: {name: db}, maxConnections: 84}",
    );
    assert_eq!(b.postgres(), 85);
    assert_eq!(findings, [Finding::ConnectionBudgetExceeded(b.clone())]);
    let message = findings[0].message();
    assert!(
        message
            .contains("(3 replicas + 1 rollout surge) × (pool 20 + 1 LISTEN) + 1 migration = 85"),
        "{message}"
    );
    // (84 - 4 LISTEN - 1 migration) / 4 pods = 19.
    assert!(message.contains("19 or fewer"), "{message}");
    // Exactly at the budget is fine.
    let (_, findings) = budget_of(
        "replicas: 3\npool: {maxConnections: 20}\ndatabase: {secretRef: {name: db}, maxConnections: 85}",
    );
    assert!(findings.is_empty());
    // Autoscaling counts its maximum, not spec.replicas: (10 + 1) × 21 + 1 = 232.
    let (b, findings) = budget_of(
        "replicas: 1\npool: {maxConnections: 20}\nautoscaling: {enabled: true, maxReplicas: 10}\n\
         database: {secretRef: {name: db}, maxConnections: 231}",
    );
    assert_eq!(b.postgres(), 232);
    assert_eq!(findings.len(), 1);
    // Stopped (replicas 0): no pods, no surge; only the migration connection.
    let (b, _) = budget_of("replicas: 0\ndatabase: {secretRef: {name: db}, maxConnections: 1}");
    assert_eq!(b.postgres(), 1);
    // No budget declared: nothing to check.
    assert!(budget_of("replicas: 50").1.is_empty());
}

#[test]
fn with_a_pooler_postgres_sees_its_server_connections_and_the_pooler_the_pools() {
    let pooled = |max_client: &str, granted: u32| {
        format!(
            "replicas: 49\npool: {{maxConnections: 20}}\ndatabase: {{secretRef: {{name: p}}, \
             directSecretRef: {{name: d}}, maxConnections: {granted}, \
             pooler: {{serverConnections: 60{max_client}}}}}"
        )
    };
    // PostgreSQL: 50 pods × 1 LISTEN + 1 migration + 60 server connections = 111, where
    // direct pools would need 50 × 21 + 1 = 1,051.
    let (b, findings) = budget_of(&pooled("", 111));
    assert_eq!(b.postgres(), 111);
    assert!(findings.is_empty(), "{findings:?}");
    let (_, findings) = budget_of(&pooled("", 110));
    assert_eq!(findings.len(), 1);
    let message = findings[0].message();
    assert!(
        message.contains(
            "(49 replicas + 1 rollout surge) × 1 LISTEN + 1 migration + 60 pooler server connections = 111"
        ),
        "{message}"
    );
    // The pooler's client side: 50 pods × pool 20 = 1,000 clients.
    let (b, findings) = budget_of(&pooled(", maxClientConnections: 999", 200));
    assert_eq!(b.pooler_clients(), 1000);
    assert_eq!(findings, [Finding::PoolerClientsExceeded(b)]);
    assert_eq!(findings[0].reason(), "PoolerClientsExceeded");
    assert!(
        findings[0]
            .message()
            .contains("(49 replicas + 1 rollout surge) × pool 20 = 1000 > database.pooler.maxClientConnections 999; lower pool.maxConnections to 19 or fewer"),
        "{}",
        findings[0].message()
    );
    let (_, findings) = budget_of(&pooled(", maxClientConnections: 1000", 200));
    assert!(findings.is_empty());
}
