//! The `webedt-operator run` binary as a process against the test API server: leader election
//! between two replicas, the HTTP endpoint, and (ignored, a measurement) RSS with 100 objects.

use crate::harness::*;
use kube::api::{Api, ListParams};
use serde_json::json;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use webedt_operator::crd::WebEDT;
use webedt_testapi::TestApi;

/// A child process killed (SIGKILL) when dropped, its kubeconfig file removed.
pub(crate) struct Operator {
    child: Child,
    port: u16,
    identity: String,
    kubeconfig: PathBuf,
}

impl Drop for Operator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.kubeconfig);
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A kubeconfig for `api` in the temp dir, one per operator process (removed with it).
pub(crate) fn kubeconfig(api: &TestApi, port: u16) -> PathBuf {
    let path = std::env::temp_dir().join(format!(
        "webedt-operator-test-{}-{}-{port}.yaml",
        std::process::id(),
        api.addr.port()
    ));
    let text = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: t\n  cluster: {{server: \"{}\"}}\nusers:\n- name: u\n  user: {{}}\ncontexts:\n- name: c\n  context: {{cluster: t, user: u, namespace: {NS}}}\ncurrent-context: c\n",
        api.url()
    );
    std::fs::write(&path, text).unwrap();
    path
}

pub(crate) fn spawn(api: &TestApi, identity: &str) -> Operator {
    spawn_bin(api, identity, env!("CARGO_BIN_EXE_webedt-operator"))
}

fn spawn_bin(api: &TestApi, identity: &str, bin: &str) -> Operator {
    let port = free_port();
    let kubeconfig = kubeconfig(api, port);
    let child = Command::new(bin)
        .arg("run")
        .env("KUBECONFIG", &kubeconfig)
        .env("POD_NAME", identity)
        .env("HTTP_ADDR", format!("127.0.0.1:{port}"))
        .env("LEASE_NAMESPACE", NS)
        .env("LEASE_DURATION_SECONDS", "3")
        .env("LEASE_GRACE_SECONDS", "1")
        .env("RUST_LOG", "warn")
        .env_remove("WATCH_NAMESPACE")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start webedt-operator");
    Operator {
        child,
        port,
        identity: identity.into(),
        kubeconfig,
    }
}

/// (status code, body) of a GET on the operator's HTTP port; None while it does not answer.
async fn get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .ok()?;
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").as_bytes())
        .await
        .ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).await.ok()?;
    let code = buf.split_whitespace().nth(1)?.parse().ok()?;
    let body = buf.split_once("\r\n\r\n").map(|x| x.1.to_string())?;
    Some((code, body))
}

fn metric(body: &str, name: &str) -> Option<f64> {
    body.lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

async fn is_leader(op: &Operator) -> Option<bool> {
    let (_, body) = get(op.port, "/metrics").await?;
    Some(metric(&body, "webedt_operator_leader")? == 1.0)
}

fn lease_holder(api: &TestApi) -> Option<String> {
    api.get("coordination.k8s.io", "leases", NS, "webedt-operator")?["spec"]["holderIdentity"]
        .as_str()
        .map(String::from)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_operators_elect_one_leader_and_the_other_takes_over() {
    let env = Env::bare().await;
    let api = &env.api;
    env.db_secret().await;
    let a = spawn(api, "op-a");
    let b = spawn(api, "op-b");

    let leader_is_a = eventually("exactly one leader", || async {
        match (is_leader(&a).await?, is_leader(&b).await?) {
            (true, false) => Some(true),
            (false, true) => Some(false),
            _ => None,
        }
    })
    .await;
    let (leader, follower) = if leader_is_a { (a, b) } else { (b, a) };
    assert_eq!(lease_holder(api).as_deref(), Some(leader.identity.as_str()));
    for op in [&leader, &follower] {
        assert_eq!(get(op.port, "/healthz").await.map(|r| r.0), Some(200));
        assert_eq!(get(op.port, "/readyz").await.map(|r| r.0), Some(200));
    }
    // Never two leaders.
    for _ in 0..10 {
        let (l, f) = (is_leader(&leader).await, is_leader(&follower).await);
        assert_eq!((l, f), (Some(true), Some(false)));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    env.create("demo", json!({"migrations": {"mode": "OnStartup"}}))
        .await;
    env.wait_ready("demo").await;
    let (_, m) = get(leader.port, "/metrics").await.unwrap();
    assert!(
        metric(&m, "webedt_operator_reconciles_total").unwrap() > 0.0,
        "{m}"
    );
    assert_eq!(metric(&m, "webedt_operator_managed_objects"), Some(1.0));
    assert!(m.contains("webedt_operator_reconcile_duration_seconds_bucket"));
    let (_, fm) = get(follower.port, "/metrics").await.unwrap();
    assert_eq!(
        metric(&fm, "webedt_operator_reconciles_total"),
        Some(0.0),
        "the follower stands by"
    );

    // The leader dies without releasing the lease; the follower takes over after it expires.
    let killed = Instant::now();
    drop(leader);
    eventually("the follower becomes the leader", || async {
        is_leader(&follower).await?.then_some(())
    })
    .await;
    println!("takeover after {:?} (lease 3 s)", killed.elapsed());
    assert_eq!(
        lease_holder(api).as_deref(),
        Some(follower.identity.as_str())
    );
    env.patch_spec("demo", json!({"replicas": 3})).await;
    let cr = env.wait_ready("demo").await;
    assert_eq!(cr.status.unwrap().replicas, Some(3));
}

/// A measurement, not a check: `cargo test -p webedt-operator --test it -- --ignored
/// --nocapture rss`. Prints the operator's RSS once `WEBEDT_BENCH_OBJECTS` (default 100) WebEDTs
/// are Ready. `WEBEDT_OPERATOR_BIN` selects another build (e.g. `target/release/webedt-operator`);
/// `bench/run` uses both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn rss_with_many_webedts() {
    let objects: usize = std::env::var("WEBEDT_BENCH_OBJECTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(100);
    let env = Env::bare().await;
    env.db_secret().await;
    let bin = std::env::var("WEBEDT_OPERATOR_BIN")
        .ok()
        .filter(|b| !b.is_empty())
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_webedt-operator").into());
    let op = spawn_bin(&env.api, "op-rss", &bin);
    eventually("the operator leads", || async {
        is_leader(&op).await?.then_some(())
    })
    .await;
    let start = Instant::now();
    for i in 0..objects {
        env.create(&format!("app-{i:04}"), json!({})).await;
    }
    let api: Api<WebEDT> = env.webedts();
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let list = api.list(&ListParams::default()).await.unwrap();
        let ready = list
            .items
            .iter()
            .filter(|cr| is_current(cr, "Ready", "True"))
            .count();
        if ready == objects {
            break;
        }
        assert!(Instant::now() < deadline, "only {ready} of {objects} Ready");
        // Listing every object is itself load on the test API server: less often when many.
        tokio::time::sleep(Duration::from_millis(if objects > 1000 {
            2000
        } else {
            500
        }))
        .await;
    }
    let converged = start.elapsed();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let status = std::fs::read_to_string(format!("/proc/{}/status", op.child.id())).unwrap();
    let field = |k: &str| {
        status
            .lines()
            .find(|l| l.starts_with(k))
            .map(|l| l.split_whitespace().nth(1).unwrap_or("").to_string())
            .unwrap_or_default()
    };
    let requests = env.api.requests().len();
    println!(
        "{objects} WebEDTs Ready after {converged:?}; operator VmRSS {} kB, VmHWM {} kB; {requests} requests in total",
        field("VmRSS:"),
        field("VmHWM:")
    );
    // At rest: one resync period (the operator inherits `RESYNC_SECONDS` from this process) and
    // a little more, counting what the operator asks of the API server. Nothing changed, so it
    // should write nothing to any object (lease renewals are counted apart).
    let resync: u64 = std::env::var("RESYNC_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let steady_s = if resync > 0 { resync + 5 } else { 0 };
    tokio::time::sleep(Duration::from_secs(steady_s)).await;
    let all = env.api.requests();
    let steady: Vec<_> = all[requests..].iter().filter(|r| !r.driver).collect();
    let is_write = |r: &&&webedt_testapi::Request| r.method != "GET";
    let lease_writes = steady
        .iter()
        .filter(is_write)
        .filter(|r| r.path.contains("/leases"))
        .count();
    let writes = steady.iter().filter(is_write).count() - lease_writes;
    let reads = steady.len() - writes - lease_writes;
    for r in steady
        .iter()
        .filter(is_write)
        .filter(|r| !r.path.contains("/leases"))
        .take(5)
    {
        println!("steady-state write: {} {}", r.method, r.path);
    }
    println!(
        "BENCH objects={objects} converged_ms={} rss_kb={} hwm_kb={} requests={requests} steady_s={steady_s} \
         steady_requests={} steady_writes={writes} steady_lease_writes={lease_writes}",
        converged.as_millis(),
        field("VmRSS:"),
        field("VmHWM:"),
        reads + writes,
    );
}
