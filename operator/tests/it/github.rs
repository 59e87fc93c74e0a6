//! spec.github: the GitHub OAuth App in the API pods' environment (the client secret only as a
//! secretKeyRef), its CRD and offline rules, and its Secret in the missing-Secret check and the
//! Secret-hash rollout.

use crate::common::*;
use crate::harness::*;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Patch, PatchParams};
use serde_json::json;
use webedt_contract::names;
use webedt_operator::build::{SECRET_HASH_ANNOTATION, api_env, deployment, migration_job};
use webedt_operator::validate::{OPERATOR_ENV, validate};

const GITHUB: &str = "github: {clientId: Ov23liAbC.d_e-f, clientSecretRef: {name: gh, key: secret}, \
     url: 'https://ghe.example.com', apiUrl: 'https://ghe.example.com/api/v3'}";

#[test]
fn github_reaches_the_api_pods_with_the_secret_as_a_secret_key_ref() {
    let v = validated(GITHUB);
    let d = deployment::build(&v, &inputs());
    let job = migration_job::build(&v);
    let job_env = job.spec.unwrap().template.spec.unwrap().containers[0]
        .env
        .clone()
        .unwrap();
    for env in [env(&d), api_env(&v), job_env] {
        assert_eq!(
            secret_of(&env, names::GITHUB_CLIENT_SECRET),
            Some(("gh".into(), "secret".into()))
        );
        let secret = env
            .iter()
            .find(|e| e.name == names::GITHUB_CLIENT_SECRET)
            .unwrap();
        assert!(secret.value.is_none(), "never a literal value");
        let r = secret.value_from.as_ref().unwrap().secret_key_ref.as_ref();
        assert_eq!(r.unwrap().optional, Some(false));
        let values = plain(&env);
        assert_eq!(values[names::GITHUB_CLIENT_ID], "Ov23liAbC.d_e-f");
        assert_eq!(values[names::GITHUB_URL], "https://ghe.example.com");
        assert_eq!(
            values[names::GITHUB_API_URL],
            "https://ghe.example.com/api/v3"
        );
        // Each variable once (server-side apply refuses duplicates), each reserved.
        for name in [
            names::GITHUB_CLIENT_ID,
            names::GITHUB_CLIENT_SECRET,
            names::GITHUB_URL,
            names::GITHUB_API_URL,
        ] {
            assert_eq!(env.iter().filter(|e| e.name == name).count(), 1, "{name}");
        }
    }
    // The Secret is one the pods read: dereferenced (missing → SecretMissing), watched and
    // hashed into the pod template; the workers do not read it.
    assert!(
        v.secret_keys()
            .iter()
            .any(|s| s.var == names::GITHUB_CLIENT_SECRET && s.key.name == "gh")
    );
    assert!(v.referenced_secrets().contains(&"gh".to_string()));
    let w = validated(&format!("{GITHUB}\nworker: {{enabled: true, image: w}}"));
    assert!(
        w.worker_secret_keys()
            .iter()
            .all(|s| s.var != names::GITHUB_CLIENT_SECRET)
    );

    // Without the URLs the API's defaults apply: only the OAuth App is written.
    let env = env_for("github: {clientId: abc, clientSecretRef: {name: gh, key: s}}");
    assert_eq!(plain(&env)[names::GITHUB_CLIENT_ID], "abc");
    assert!(secret_of(&env, names::GITHUB_CLIENT_SECRET).is_some());
    assert!(
        !env.iter()
            .any(|e| e.name == names::GITHUB_URL || e.name == names::GITHUB_API_URL)
    );

    // Without spec.github: no GitHub variable at all.
    let env = env_for("");
    assert!(
        !env.iter().any(|e| e.name.starts_with("GITHUB_")),
        "{env:?}"
    );
}

#[test]
fn github_rules_hold_in_the_crd_and_offline() {
    let good = [
        GITHUB.to_string(),
        "github: {clientId: Iv1.abc, clientSecretRef: {name: gh, key: s}}".into(),
    ];
    for g in &good {
        let spec = format!("{MINIMAL}\n{g}");
        assert_eq!(spec_errors(&spec), Vec::<String>::new(), "{spec}");
        assert!(validate(&cr(&spec), "ns").is_ok(), "{spec}");
    }
    let bad: &[(&str, &str, &str)] = &[
        (
            "github: {clientId: a, clientSecretRef: {name: gh, key: s}, url: 'http://ghe.example.com'}",
            "github.url must start with https://",
            "spec.github.url: must start with https://",
        ),
        (
            "github: {clientId: a, clientSecretRef: {name: gh, key: s}, url: 'github.com'}",
            "github.url must start with https://",
            "spec.github.url: must start with https://",
        ),
        (
            "github: {clientId: a, clientSecretRef: {name: gh, key: s}, apiUrl: 'https:///api/v3'}",
            "github.apiUrl must start with https://",
            "spec.github.apiUrl: must start with https://",
        ),
        (
            "github: {clientId: 'a b', clientSecretRef: {name: gh, key: s}}",
            "github.clientId must be letters, digits",
            "spec.github.clientId: must be letters, digits",
        ),
    ];
    for (extra, crd_message, offline_message) in bad {
        let spec = format!("{MINIMAL}\n{extra}");
        let errors = spec_errors(&spec);
        assert!(
            errors.iter().any(|e| e.contains(crd_message)),
            "{extra}: expected `{crd_message}`, got {errors:?}"
        );
        let e = validate(&cr(&spec), "ns").unwrap_err();
        assert_eq!(e.reason(), "InvalidGithub");
        assert!(e.to_string().starts_with(offline_message), "{e}");
    }
    // The secret is required, as a reference (there is no field for a literal value).
    let errors = spec_errors(&format!("{MINIMAL}\ngithub: {{clientId: a}}"));
    assert!(
        errors.iter().any(|e| e.contains("clientSecretRef")),
        "{errors:?}"
    );
    let errors = spec_errors(&format!(
        "{MINIMAL}\ngithub: {{clientId: a, clientSecret: s, clientSecretRef: {{name: gh, key: s}}}}"
    ));
    assert!(!errors.is_empty(), "unknown field clientSecret is refused");
}

#[test]
fn github_variables_in_spec_env_are_refused_where_the_operator_sets_them() {
    let reason = |extra: &str| {
        validate(&cr(&format!("{MINIMAL}\n{extra}")), "ns")
            .err()
            .map(|e| e.reason())
    };
    for var in [names::GITHUB_CLIENT_ID, names::GITHUB_CLIENT_SECRET] {
        assert!(OPERATOR_ENV.contains(&var));
        assert_eq!(
            reason(&format!("env: [{{name: {var}, value: x}}]")),
            Some("ReservedEnvVar"),
            "{var}: the secret must come through spec.github, so it rolls the pods"
        );
    }
    for var in [names::GITHUB_URL, names::GITHUB_API_URL] {
        // Token connections to a GitHub Enterprise Server need the URLs without an OAuth App.
        assert_eq!(
            reason(&format!("env: [{{name: {var}, value: 'https://ghe'}}]")),
            None
        );
        assert_eq!(
            reason(&format!(
                "{GITHUB}\nenv: [{{name: {var}, value: 'https://ghe'}}]"
            )),
            Some("ReservedEnvVar"),
            "{var}"
        );
    }
}

/// The controller: a missing client Secret (or key) degrades like any other missing Secret, the
/// Secret's arrival makes the installation Ready, and rotating the client secret rolls the pods.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_secret_is_checked_and_rotating_it_rolls_the_api_pods() {
    let env = Env::start().await;
    env.db_secret().await;
    env.create(
        "demo",
        json!({
            "migrations": {"mode": "OnStartup"},
            "github": {"clientId": "Ov23li", "clientSecretRef": {"name": "gh", "key": "secret"}},
        }),
    )
    .await;
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
            .contains("Secret gh does not exist")
    );
    eventually("a SecretMissing Event", || async {
        env.event_reasons("demo")
            .contains(&"SecretMissing".into())
            .then_some(())
    })
    .await;

    env.secret("gh", "wrong", "x").await;
    env.wait_cr("demo", "SecretMissing for the key", |cr| {
        condition(cr, "Degraded").is_some_and(|c| c.message.contains("Secret gh has no key secret"))
    })
    .await;
    env.api::<Secret>()
        .patch(
            "gh",
            &PatchParams::default(),
            &Patch::Merge(json!({"stringData": {"secret": "first-client-secret"}})),
        )
        .await
        .unwrap();
    env.wait_ready("demo").await;
    let d = env.deployment("demo").await.unwrap();
    assert_eq!(
        env_value(&d, names::GITHUB_CLIENT_ID).as_deref(),
        Some("Ov23li")
    );
    let before = pod_annotation(&d, SECRET_HASH_ANNOTATION).unwrap();

    env.api::<Secret>()
        .patch(
            "gh",
            &PatchParams::default(),
            &Patch::Merge(json!({"stringData": {"secret": "rotated-client-secret"}})),
        )
        .await
        .unwrap();
    eventually("the pod-template hash changes", || async {
        let h = pod_annotation(&env.deployment("demo").await?, SECRET_HASH_ANNOTATION)?;
        (h != before).then_some(())
    })
    .await;
    let d = serde_json::to_string(&env.deployment("demo").await.unwrap()).unwrap();
    assert!(
        !d.contains("client-secret"),
        "the value never reaches the Deployment"
    );
    env.wait_ready("demo").await;
}
