//! The real `kubectl` (1.33, pinned by `scripts/install-kubectl`) against the test API server
//! while the real operator binary reconciles: the README's commands, end to end, through a
//! client we did not write.

use crate::harness::*;
use crate::process::{kubeconfig, spawn};
use std::path::{Path, PathBuf};
use std::process::Command;
use webedt_testapi::TestApi;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The pinned kubectl, installed on first use.
fn kubectl_binary() -> PathBuf {
    if let Ok(p) = std::env::var("WEBEDT_KUBECTL") {
        return p.into();
    }
    let out = Command::new(repo().join("scripts/install-kubectl"))
        .output()
        .expect("run scripts/install-kubectl");
    assert!(
        out.status.success(),
        "scripts/install-kubectl failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().into()
}

struct Kubectl {
    bin: PathBuf,
    config: PathBuf,
    cache: tempfile::TempDir,
}

impl Kubectl {
    /// Runs kubectl; (success, stdout + stderr).
    fn run(&self, args: &[&str], stdin: Option<&str>) -> (bool, String) {
        let mut cmd = Command::new(&self.bin);
        cmd.arg("--kubeconfig")
            .arg(&self.config)
            .arg("--cache-dir")
            .arg(self.cache.path())
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = cmd.spawn().expect("kubectl starts");
        {
            use std::io::Write;
            let mut input = child.stdin.take().unwrap();
            if let Some(s) = stdin {
                input.write_all(s.as_bytes()).unwrap();
            }
        }
        let out = child.wait_with_output().unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    }

    /// Runs kubectl (off the async runtime) and insists it succeeds.
    async fn ok(&self, args: &[&str]) -> String {
        self.ok_with(args, None).await
    }

    async fn ok_with(&self, args: &[&str], stdin: Option<&str>) -> String {
        let (ok, out) = tokio::task::block_in_place(|| self.run(args, stdin));
        assert!(ok, "kubectl {}: {out}", args.join(" "));
        out
    }

    async fn fails(&self, args: &[&str], stdin: Option<&str>) -> String {
        let (ok, out) = tokio::task::block_in_place(|| self.run(args, stdin));
        assert!(!ok, "kubectl {} should fail: {out}", args.join(" "));
        out
    }
}

/// The namespace an example names itself, if any.
fn own_namespace(yaml: &str) -> Option<String> {
    yaml.lines()
        .find_map(|l| l.strip_prefix("  namespace: "))
        .map(|n| n.trim().to_string())
}

/// The first row of a `kubectl get` table by column (cells aligned under their headers).
fn cells(table: &str) -> std::collections::HashMap<&str, &str> {
    let mut lines = table.lines();
    let header = lines.next().unwrap();
    let row = lines.next().unwrap();
    let mut from = 0;
    let starts: Vec<(usize, &str)> = header
        .split_whitespace()
        .map(|h| {
            let at = from + header[from..].find(h).unwrap();
            from = at + h.len();
            (at, h)
        })
        .collect();
    starts
        .iter()
        .enumerate()
        .map(|(i, (start, name))| {
            let end = starts.get(i + 1).map_or(row.len(), |n| n.0).min(row.len());
            (*name, row.get(*start..end).unwrap_or("").trim())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_applies_gets_waits_scales_describes_and_deletes() {
    let api = TestApi::start().await;
    let _operator = spawn(&api, "op-kubectl");
    let k = Kubectl {
        bin: tokio::task::block_in_place(kubectl_binary),
        config: kubeconfig(&api, 0),
        cache: tempfile::tempdir().unwrap(),
    };
    let version = k.ok(&["version"]).await;
    assert!(version.contains("Client Version: v1.33"), "{version}");
    assert!(version.contains("Server Version: v1.33"), "{version}");

    // The CRD (with validation: no --validate=false anywhere), then CloudNativePG's stand-ins.
    let crds = repo().join("crds");
    let fixtures = repo().join("operator/testapi/fixtures");
    k.ok(&[
        "apply",
        "-f",
        crds.to_str().unwrap(),
        "-f",
        fixtures.to_str().unwrap(),
    ])
    .await;
    k.ok(&[
        "wait",
        "--for=condition=Established",
        "crd/webedts.webedt.dev",
        "--timeout=10s",
    ])
    .await;

    // Every example, each in a namespace of its own (or the one it names).
    let mut examples: Vec<PathBuf> = std::fs::read_dir(repo().join("examples"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    examples.sort();
    assert!(examples.len() >= 4, "{examples:?}");
    for path in &examples {
        let text = std::fs::read_to_string(path).unwrap();
        let stem = path.file_stem().unwrap().to_str().unwrap().to_string();
        let ns = own_namespace(&text).unwrap_or(stem);
        k.ok_with(
            &["apply", "-f", "-"],
            Some(&format!(
                "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {ns}\n"
            )),
        )
        .await;
        let applied = k
            .ok(&["apply", "-n", &ns, "-f", path.to_str().unwrap()])
            .await;
        assert!(applied.contains("webedt.webedt.dev/"), "{applied}");
    }

    // The minimal example gets its database Secret and becomes Ready.
    let ns = "minimal";
    k.ok_with(
        &["apply", "-n", ns, "-f", "-"],
        Some("apiVersion: v1\nkind: Secret\nmetadata:\n  name: webedt-db\nstringData:\n  uri: postgres://webedt:pw@postgres:5432/webedt\n"),
    )
    .await;
    k.ok(&[
        "wait",
        "-n",
        ns,
        "--for=condition=Ready",
        "wedt/webedt",
        "--timeout=60s",
    ])
    .await;

    let table = k.ok(&["get", "wedt", "-n", ns]).await;
    eprintln!("$ kubectl get wedt -n {ns}\n{table}");
    let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        [
            "NAME",
            "READY",
            "REPLICAS",
            "AVAILABLE",
            "WORKERS",
            "IMAGE",
            "AGE"
        ]
    );
    let cells = cells(&table);
    assert_eq!(cells["NAME"], "webedt");
    assert_eq!(cells["READY"], "True");
    assert_eq!((cells["REPLICAS"], cells["AVAILABLE"]), ("2", "2"));
    assert_eq!(cells["WORKERS"], "", "no workers in this example");
    assert_eq!(cells["IMAGE"], "ghcr.io/webedt/webedt-api:0.1.0");

    // Scale through the scale subresource: the Deployment follows.
    k.ok(&["scale", "-n", ns, "wedt/webedt", "--replicas=3"])
        .await;
    eventually("the Deployment scaled to 3", || async {
        let d = api.get("apps", "deployments", ns, "webedt")?;
        (d["spec"]["replicas"] == 3).then_some(())
    })
    .await;
    k.ok(&[
        "wait",
        "-n",
        ns,
        "--for=jsonpath={.status.availableReplicas}=3",
        "wedt/webedt",
        "--timeout=60s",
    ])
    .await;

    let described = k.ok(&["describe", "-n", ns, "wedt", "webedt"]).await;
    eprintln!("$ kubectl describe wedt webedt -n {ns}\n{described}");
    for want in [
        "Conditions:",
        "Type:",
        "Ready",
        "Events:",
        "webedt-operator",
    ] {
        assert!(described.contains(want), "describe lacks {want:?}");
    }
    assert!(!described.contains("Events:  <none>"), "{described}");

    let explained = k.ok(&["explain", "wedt.spec.replicas"]).await;
    assert!(
        explained.contains("KIND:") && explained.contains("WebEDT"),
        "{explained}"
    );
    assert!(explained.contains("FIELD: replicas"), "{explained}");

    // Strict field validation, as on a cluster: a misspelt field is named and refused.
    let refused = k
        .fails(
            &["apply", "-n", ns, "-f", "-"],
            Some("apiVersion: webedt.dev/v1alpha1\nkind: WebEDT\nmetadata:\n  name: typo\nspec:\n  image: x:1\n  replicaz: 3\n  database:\n    secretRef:\n      name: webedt-db\n"),
        )
        .await;
    assert!(
        refused.contains("unknown field \"spec.replicaz\""),
        "{refused}"
    );
    assert!(api.get("webedt.dev", "webedts", ns, "typo").is_none());

    // Delete: the children are collected.
    assert!(api.get("apps", "deployments", ns, "webedt").is_some());
    k.ok(&["delete", "-n", ns, "wedt", "webedt", "--timeout=30s"])
        .await;
    eventually("the children collected", || async {
        (api.get("apps", "deployments", ns, "webedt").is_none()
            && api.get("", "services", ns, "webedt").is_none())
        .then_some(())
    })
    .await;
    let gone = k.ok(&["get", "wedt", "-n", ns]).await;
    assert!(gone.contains("No resources found"), "{gone}");
}
