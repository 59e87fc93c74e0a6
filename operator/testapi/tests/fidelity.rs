//! The test API server behaves like the apiserver where the operator depends on it; checked
//! with the real kube client.

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{
    Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams,
};
use kube::{Client, Config, ResourceExt};
use serde_json::json;
use webedt_testapi::TestApi;

async fn setup() -> (TestApi, Client) {
    let api = TestApi::start().await;
    let client = Client::try_from(Config::new(api.url().parse().unwrap())).unwrap();
    (api, client)
}

fn deployment(replicas: Option<i32>) -> serde_json::Value {
    let mut d = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "d"},
        "spec": {"selector": {"matchLabels": {"a": "b"}},
                 "template": {"metadata": {"labels": {"a": "b"}},
                              "spec": {"containers": [{"name": "c", "image": "i"}]}}},
    });
    if let Some(r) = replicas {
        d["spec"]["replicas"] = json!(r);
    }
    d
}

fn apply(m: &str) -> PatchParams {
    PatchParams::apply(m)
}

#[tokio::test]
async fn a_field_its_only_manager_stops_applying_is_removed_unless_handed_over() {
    let (_s, c) = setup().await;
    let d: Api<Deployment> = Api::namespaced(c, "ns");
    d.patch("d", &apply("op"), &Patch::Apply(deployment(Some(3))))
        .await
        .unwrap();
    let out = d
        .patch("d", &apply("op"), &Patch::Apply(deployment(None)))
        .await
        .unwrap();
    assert_eq!(
        out.spec.replicas,
        Some(1),
        "removed, then defaulted like the apiserver"
    );

    d.patch("d", &apply("op"), &Patch::Apply(deployment(Some(3))))
        .await
        .unwrap();
    let handover = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
                          "spec": {"replicas": 3}});
    d.patch("d", &apply("handover"), &Patch::Apply(handover))
        .await
        .unwrap();
    let out = d
        .patch("d", &apply("op"), &Patch::Apply(deployment(None)))
        .await
        .unwrap();
    assert_eq!(
        out.spec.replicas,
        Some(3),
        "still owned by the second manager"
    );
}

#[tokio::test]
async fn a_non_forced_apply_changing_another_managers_field_conflicts() {
    let (_s, c) = setup().await;
    let d: Api<Deployment> = Api::namespaced(c, "ns");
    d.patch("d", &apply("a"), &Patch::Apply(deployment(Some(3))))
        .await
        .unwrap();
    // Same value: shared ownership, no conflict.
    d.patch("d", &apply("b"), &Patch::Apply(deployment(Some(3))))
        .await
        .unwrap();
    let err = d
        .patch("d", &apply("b"), &Patch::Apply(deployment(Some(4))))
        .await
        .unwrap_err();
    match err {
        kube::Error::Api(e) => assert_eq!((e.code, e.reason.as_str()), (409, "Conflict")),
        e => panic!("{e}"),
    }
    let out = d
        .patch("d", &apply("b").force(), &Patch::Apply(deployment(Some(4))))
        .await
        .unwrap();
    assert_eq!(out.spec.replicas, Some(4));
}

#[tokio::test]
async fn generation_moves_only_on_spec_changes_and_writes_bump_the_resource_version() {
    let (_s, c) = setup().await;
    let d: Api<Deployment> = Api::namespaced(c, "ns");
    let created = d
        .patch("d", &apply("a"), &Patch::Apply(deployment(Some(1))))
        .await
        .unwrap();
    assert_eq!(created.metadata.generation, Some(1));
    let labelled = d
        .patch(
            "d",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"x": "y"}}})),
        )
        .await
        .unwrap();
    assert_eq!(labelled.metadata.generation, Some(1));
    assert_ne!(labelled.resource_version(), created.resource_version());
    let status = d
        .patch_status(
            "d",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"replicas": 7}, "spec": {"replicas": 9}})),
        )
        .await
        .unwrap();
    assert_eq!(
        (status.metadata.generation, status.spec.replicas),
        (Some(1), Some(1)),
        "/status changes only status"
    );
    let spec = d
        .patch(
            "d",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 2}, "status": {"replicas": 0}})),
        )
        .await
        .unwrap();
    assert_eq!(spec.metadata.generation, Some(2));
    assert_eq!(
        spec.status.as_ref().unwrap().replicas,
        Some(7),
        "the main resource ignores status"
    );
    // A no-op apply writes nothing.
    let rv = spec.resource_version();
    let again = d
        .patch("d", &apply("a"), &Patch::Apply(deployment(Some(2))))
        .await
        .unwrap();
    let again2 = d
        .patch("d", &apply("a"), &Patch::Apply(deployment(Some(2))))
        .await
        .unwrap();
    assert_ne!(again.resource_version(), rv);
    assert_eq!(again2.resource_version(), again.resource_version());
}

#[tokio::test]
async fn duplicates_and_stale_versions_conflict() {
    let (_s, c) = setup().await;
    let cms: Api<ConfigMap> = Api::namespaced(c, "ns");
    let cm: ConfigMap =
        serde_json::from_value(json!({"metadata": {"name": "x"}, "data": {"k": "v"}})).unwrap();
    let first = cms.create(&PostParams::default(), &cm).await.unwrap();
    let dup = cms.create(&PostParams::default(), &cm).await.unwrap_err();
    assert!(
        matches!(dup, kube::Error::Api(ref e) if e.code == 409 && e.reason == "AlreadyExists"),
        "{dup}"
    );
    let mut newer = first.clone();
    newer.data = Some([("k".to_string(), "2".to_string())].into());
    cms.replace("x", &PostParams::default(), &newer)
        .await
        .unwrap();
    let stale = cms
        .replace("x", &PostParams::default(), &newer)
        .await
        .unwrap_err();
    assert!(
        matches!(stale, kube::Error::Api(ref e) if e.code == 409 && e.reason == "Conflict"),
        "{stale}"
    );
    assert!(matches!(cms.get("nope").await.unwrap_err(), kube::Error::Api(e) if e.code == 404));
}

#[tokio::test]
async fn watch_sends_events_after_a_version_and_410_once_compacted() {
    let (s, c) = setup().await;
    let cms: Api<ConfigMap> = Api::namespaced(c, "ns");
    let mk = |n: &str, l: &str| -> ConfigMap {
        serde_json::from_value(json!({"metadata": {"name": n, "labels": {"team": l}}})).unwrap()
    };
    let a = cms
        .create(&PostParams::default(), &mk("a", "x"))
        .await
        .unwrap();
    let rv = a.resource_version().unwrap();
    cms.create(&PostParams::default(), &mk("b", "y"))
        .await
        .unwrap();
    cms.delete("a", &DeleteParams::default()).await.unwrap();
    let list = cms
        .list(&ListParams::default().labels("team=y"))
        .await
        .unwrap();
    assert_eq!(
        list.items.iter().map(|c| c.name_any()).collect::<Vec<_>>(),
        ["b"]
    );

    let wp = WatchParams::default().timeout(1);
    let events: Vec<String> = cms
        .watch(&wp, &rv)
        .await
        .unwrap()
        .map_ok(|e| match e {
            WatchEvent::Added(o) => format!("ADDED {}", o.name_any()),
            WatchEvent::Modified(o) => format!("MODIFIED {}", o.name_any()),
            WatchEvent::Deleted(o) => format!("DELETED {}", o.name_any()),
            WatchEvent::Bookmark(_) => "BOOKMARK".into(),
            WatchEvent::Error(e) => format!("ERROR {}", e.code),
        })
        .try_collect()
        .await
        .unwrap();
    assert_eq!(
        events,
        ["ADDED b", "DELETED a"],
        "events after rv {rv}, stream closed at timeoutSeconds"
    );

    s.compact();
    let first = cms
        .watch(&wp, &rv)
        .await
        .unwrap()
        .boxed()
        .next()
        .await
        .unwrap()
        .unwrap();
    assert!(
        matches!(first, WatchEvent::Error(ref e) if e.code == 410),
        "{first:?}"
    );
}

#[tokio::test]
async fn finalizers_hold_deletion_and_dependents_are_collected() {
    let (s, c) = setup().await;
    let cms: Api<ConfigMap> = Api::namespaced(c, "ns");
    let parent: ConfigMap =
        serde_json::from_value(json!({"metadata": {"name": "p", "finalizers": ["x/y"]}})).unwrap();
    let p = cms.create(&PostParams::default(), &parent).await.unwrap();
    let child: ConfigMap =
        serde_json::from_value(json!({"metadata": {"name": "c", "ownerReferences": [
        {"apiVersion": "v1", "kind": "ConfigMap", "name": "p", "uid": p.uid().unwrap()}]}}))
        .unwrap();
    cms.create(&PostParams::default(), &child).await.unwrap();
    cms.delete("p", &DeleteParams::default()).await.unwrap();
    let held = cms.get("p").await.unwrap();
    assert!(held.metadata.deletion_timestamp.is_some());
    assert!(cms.get_opt("c").await.unwrap().is_some());
    cms.patch(
        "p",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .unwrap();
    assert!(cms.get_opt("p").await.unwrap().is_none());
    assert!(
        cms.get_opt("c").await.unwrap().is_none(),
        "collected with its owner"
    );
    assert!(s.get("", "configmaps", "ns", "c").is_none());
}

#[tokio::test]
async fn simulated_controllers_roll_out_and_fail_jobs_on_request() {
    let (s, c) = setup().await;
    let d: Api<Deployment> = Api::namespaced(c.clone(), "ns");
    d.patch("d", &apply("a"), &Patch::Apply(deployment(Some(3))))
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let st = d.get("d").await.unwrap().status.unwrap_or_default();
        if st.available_replicas == Some(3) && st.updated_replicas == Some(3) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "rollout did not finish: {st:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    s.fail_jobs_with_image("bad");
    let jobs: Api<k8s_openapi::api::batch::v1::Job> = Api::namespaced(c, "ns");
    for (name, image) in [("ok", "good"), ("ko", "bad")] {
        let j = serde_json::from_value(
            json!({"metadata": {"name": name}, "spec": {"template": {"spec": {
            "restartPolicy": "Never", "containers": [{"name": "m", "image": image}]}}}}),
        )
        .unwrap();
        jobs.create(&PostParams::default(), &j).await.unwrap();
    }
    loop {
        let ok = jobs.get("ok").await.unwrap().status.unwrap_or_default();
        let ko = jobs.get("ko").await.unwrap().status.unwrap_or_default();
        if ok.succeeded == Some(1) && ko.failed.unwrap_or(0) > 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "jobs did not finish: {ok:?} {ko:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
