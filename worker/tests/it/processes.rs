//! Real `webedt-worker` processes driven by the API's own client (`webedt_providers::Worker`):
//! two replicas behind one address sharing runs, `kill -9` in the middle of a run, and the
//! SIGTERM drain.

use crate::common::*;
use crate::fakes::*;
use futures::StreamExt;
use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use webedt_providers::{CodingRun, Provider, ProviderEvent, RunRequest};

const SECRET: &str = "process-test-secret-0123";
const SESSION: &str = "11111111-2222-3333-4444-555555555555";

/// One `webedt-worker` process.
struct Proc {
    child: Child,
    addr: String,
}

impl Proc {
    /// Starts the binary on a system-chosen port and waits for its "listening" line.
    fn start(root: &Path, extra: &[(&str, &str)]) -> Self {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_webedt-worker"));
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("WORKER_SECRET", SECRET)
            .env("WORKER_HOST", "127.0.0.1")
            .env("WORKER_PORT", port.to_string())
            .env("WORKER_WORKSPACE_ROOT", root)
            .env("WORKER_GIT_PROTOCOLS", "file")
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (k, v) in extra {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("webedt-worker starts");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let addr = loop {
            let line = lines
                .next()
                .expect("the worker logs before it exits")
                .unwrap();
            if line.contains("\"listening\"") {
                let v: Value = serde_json::from_str(&line).unwrap();
                break v["fields"]["addr"].as_str().unwrap().to_string();
            }
        };
        // Keep reading so the worker never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Proc { child, addr }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn signal(&self, sig: i32) {
        assert_eq!(unsafe { libc::kill(self.child.id() as i32, sig) }, 0);
    }

    /// Waits for the process to exit; `None` if it is still running after `limit`.
    fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let t0 = Instant::now();
        while t0.elapsed() < limit {
            if let Some(s) = self.child.try_wait().unwrap() {
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    async fn metric(&self, line: &str) -> bool {
        reqwest::get(format!("{}/metrics", self.url()))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
            .lines()
            .any(|l| l == line)
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Hands each new TCP connection to the next backend in turn, like a Service's kube-proxy.
async fn round_robin(backends: Vec<String>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut n = 0usize;
        while let Ok((mut inbound, _)) = listener.accept().await {
            let to = backends[n % backends.len()].clone();
            n += 1;
            tokio::spawn(async move {
                if let Ok(mut outbound) = tokio::net::TcpStream::connect(to).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
    format!("http://{addr}")
}

/// The API's client for one run: a fresh connection pool, so a run opens its own connection.
fn client(url: &str) -> webedt_providers::Worker {
    let http = webedt_providers::Http::with_timeouts(
        Duration::from_secs(5),
        Duration::from_secs(20),
        "webedt-test",
    );
    webedt_providers::Worker::new(
        http,
        webedt_contract::WorkerSettings {
            url: url.into(),
            secret: Some(webedt_contract::Secret::new(SECRET)),
        },
    )
}

fn coding(bare: &Path, provider: &str, expected_head: Option<String>) -> RunRequest {
    RunRequest {
        session: SESSION.parse().unwrap(),
        prompt: "Add a note to the README".into(),
        images: vec![],
        history: vec![],
        model: "worker".into(),
        coding: Some(CodingRun {
            repository_url: format!("file://{}", bare.display()),
            base_branch: "main".into(),
            working_branch: "webedt/0123456789abcdef".into(),
            expected_head,
            author_name: "Octo Cat".into(),
            author_email: "octo@example.com".into(),
            provider: Some(provider.into()),
            model: None,
            credential: None,
            api_key: None,
            base_url: None,
        }),
    }
}

/// The events of a whole run, and how it ended.
async fn collect(
    mut s: webedt_providers::ProviderStream,
) -> (Vec<ProviderEvent>, Result<(), String>) {
    let mut events = Vec::new();
    while let Some(e) = tokio::time::timeout(Duration::from_secs(30), s.next())
        .await
        .expect("the run ends")
    {
        match e {
            Ok(e) => events.push(e),
            Err(e) => return (events, Err(e.0)),
        }
    }
    (events, Ok(()))
}

fn head_of(events: &[ProviderEvent]) -> Option<String> {
    events.iter().rev().find_map(|e| match e {
        ProviderEvent::Changes(c) => c.head_commit.clone(),
        _ => None,
    })
}

const BRANCH: &str = "webedt/0123456789abcdef";

/// The branch's commits on the remote, newest first, as `subject`.
fn branch_log(bare: &Path) -> Vec<String> {
    git(bare, &["log", "--format=%s", &format!("main..{BRANCH}")])
        .lines()
        .map(str::to_string)
        .collect()
}

/// An Anthropic answer that starts and then goes silent forever.
fn stalled_answer() -> String {
    let full = anthropic("Working on it", &[]);
    let cut = full.find("event: content_block_stop").unwrap();
    format!("{}{STALL}", &full[..cut])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_worker_processes_behind_one_address_share_a_session_and_stops_reach_the_right_one() {
    let tmp = tempfile::tempdir().unwrap();
    let bare = bare_repo(tmp.path(), "shared");
    let (model, _up) = fake_upstream(vec![stalled_answer()]).await;
    let env = [
        ("ANTHROPIC_BASE_URL", model.as_str()),
        ("ANTHROPIC_API_KEY", "sk-ant-test"),
    ];
    // Separate workspace roots, like two pods.
    let a = Proc::start(&tmp.path().join("a"), &env);
    let b = Proc::start(&tmp.path().join("b"), &env);
    let service = round_robin(vec![a.addr.clone(), b.addr.clone()]).await;

    // The first run lands on one replica, the follow-up on the other: it continues the branch.
    let (first, end) = collect(client(&service).start(coding(&bare, "demo", None))).await;
    end.unwrap();
    let h1 = head_of(&first).expect("the first run pushed");
    let (second, end) =
        collect(client(&service).start(coding(&bare, "demo", Some(h1.clone())))).await;
    end.unwrap();
    let h2 = head_of(&second).expect("the follow-up pushed");
    assert_ne!(h1, h2);
    assert_eq!(
        branch_log(&bare).len(),
        2,
        "two commits stacked on one branch"
    );
    assert_eq!(git(&bare, &["rev-parse", &format!("{h2}~1")]).trim(), h1);
    let done = "webedt_worker_runs_total{outcome=\"completed\"} 1";
    assert!(
        a.metric(done).await && b.metric(done).await,
        "each replica ran one"
    );

    // A stop: the API drops the stream. The connection closes on whichever replica runs the
    // run, though the best-effort `/interrupt` may land on the other one.
    let mut stream = client(&service).start(coding(&bare, "anthropic", Some(h2.clone())));
    loop {
        match stream.next().await.unwrap().unwrap() {
            ProviderEvent::Text(_) => break,
            _ => continue,
        }
    }
    let stopped = Instant::now();
    drop(stream);
    let gone = "webedt_worker_runs_total{outcome=\"interrupted\"} 1";
    while !(a.metric(gone).await || b.metric(gone).await) {
        assert!(
            stopped.elapsed() < Duration::from_secs(3),
            "the run still runs"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!(
        "stopped across replicas in {} ms",
        stopped.elapsed().as_millis()
    );
    assert_eq!(
        branch_log(&bare).len(),
        2,
        "nothing pushed by the stopped run"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_run_ends_the_run_with_an_error_and_the_next_run_on_the_branch_works() {
    let tmp = tempfile::tempdir().unwrap();
    let bare = bare_repo(tmp.path(), "killed");
    let root = tmp.path().join("root");
    let (model, _up) = fake_upstream(vec![stalled_answer()]).await;
    let env = [
        ("ANTHROPIC_BASE_URL", model.as_str()),
        ("ANTHROPIC_API_KEY", "sk-ant-test"),
    ];
    let mut w = Proc::start(&root, &env);
    let (first, end) = collect(client(&w.url()).start(coding(&bare, "demo", None))).await;
    end.unwrap();
    let h1 = head_of(&first).unwrap();

    let mut stream = client(&w.url()).start(coding(&bare, "anthropic", Some(h1.clone())));
    loop {
        if let ProviderEvent::Text(_) = stream.next().await.unwrap().unwrap() {
            break;
        }
    }
    assert_eq!(
        std::fs::read_dir(&root).unwrap().count(),
        1,
        "the run has its directory"
    );
    w.signal(libc::SIGKILL);
    w.wait_exit(Duration::from_secs(5)).expect("killed");
    let (_, end) = collect(stream).await;
    let message = end.expect_err("a killed worker ends the run with an error");
    assert!(message.contains("AI worker"), "{message}");
    assert!(!message.contains(SECRET) && !message.contains("sk-ant-test"));
    assert_eq!(branch_log(&bare).len(), 1, "the killed run pushed nothing");

    // Its replacement removes the leftover directory at start and continues the branch.
    let w2 = Proc::start(&root, &env);
    assert_eq!(std::fs::read_dir(&root).unwrap().count(), 0);
    let (next, end) =
        collect(client(&w2.url()).start(coding(&bare, "demo", Some(h1.clone())))).await;
    end.unwrap();
    let h3 = head_of(&next).unwrap();
    assert_eq!(git(&bare, &["rev-parse", &format!("{h3}~1")]).trim(), h1);
    assert_eq!(branch_log(&bare).len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_a_running_run_finish_and_refuses_new_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let bare = bare_repo(tmp.path(), "drained");
    let mut w = Proc::start(&tmp.path().join("root"), &[]);
    // The demo speaks a word every 20 ms: the run is still going when the signal arrives.
    let mut stream = client(&w.url()).start(coding(&bare, "demo", None));
    loop {
        if let ProviderEvent::Text(_) = stream.next().await.unwrap().unwrap() {
            break;
        }
    }
    w.signal(libc::SIGTERM);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let refused = reqwest::Client::new()
        .get(format!("{}/ready", w.url()))
        .timeout(Duration::from_secs(2))
        .send()
        .await;
    assert!(
        refused.is_err() || refused.unwrap().status() == 503,
        "a draining worker takes no new work"
    );
    let (events, end) = collect(stream).await;
    end.expect("the running run finishes");
    assert!(head_of(&events).is_some(), "and pushes");
    assert_eq!(branch_log(&bare).len(), 1);
    let status = w
        .wait_exit(Duration::from_secs(10))
        .expect("exits once drained");
    assert!(status.success(), "{status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_interrupts_runs_at_the_drain_timeout_keeping_what_was_pushed() {
    let tmp = tempfile::tempdir().unwrap();
    let bare = bare_repo(tmp.path(), "timeout");
    // Turn one edits the README (committed and pushed after the turn); turn two never ends.
    let (model, _up) = fake_upstream(vec![
        anthropic(
            "Editing",
            &[(
                "t1",
                "edit_file",
                &[r#"{"path": "README.md", "old_str": "It adds numbers.", "new_str": "It adds numbers, correctly."}"#],
            )],
        ),
        stalled_answer(),
    ])
    .await;
    let mut w = Proc::start(
        &tmp.path().join("root"),
        &[
            ("ANTHROPIC_BASE_URL", model.as_str()),
            ("ANTHROPIC_API_KEY", "sk-ant-test"),
            ("WORKER_SHUTDOWN_TIMEOUT_MS", "500"),
        ],
    );
    let mut stream = client(&w.url()).start(coding(&bare, "anthropic", None));
    let mut pushed = false;
    while !pushed {
        pushed = matches!(stream.next().await.unwrap().unwrap(), ProviderEvent::Changes(c) if c.head_commit.is_some());
    }
    let signalled = Instant::now();
    w.signal(libc::SIGTERM);
    let (_, end) = collect(stream).await;
    let message = end.expect_err("interrupted at the timeout");
    assert!(message.contains("interrupted"), "{message}");
    let status = w.wait_exit(Duration::from_secs(10)).expect("exits");
    assert!(status.success(), "{status:?}");
    let took = signalled.elapsed();
    assert!(took < Duration::from_secs(5), "drain took {took:?}");
    eprintln!("drained at the timeout in {} ms", took.as_millis());
    assert_eq!(branch_log(&bare).len(), 1, "turn one's commit stays pushed");
    assert!(git(&bare, &["show", &format!("{BRANCH}:README.md")]).contains("correctly"));
}
