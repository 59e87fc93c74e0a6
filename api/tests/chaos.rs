//! Chaos tests: three real `webedt-api` processes on 127.0.0.1 sharing a private PostgreSQL, broken
//! on purpose. Clients behave like browsers behind a load balancer: on any drop they reconnect to
//! another live replica with their Last-Event-ID. Tests run one at a time (they are heavy), each
//! with its own cluster so stopping PostgreSQL disturbs nobody.

mod support;

use reqwest::Method;
use serde_json::Value;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::api::Api;
use support::sse::SseReader;
use tokio::process::{Child, Command};
use webedt_devdb::{Cluster, ClusterOptions};

static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const SECRET: &str = "chaos-secret-0123456789abcdef0123456789";

struct Replica {
    id: String,
    base: String,
    child: Child,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Through PgBouncer when the suite runs through one (`scripts/test-pooler`) and `db` is on the
/// shared test server behind it: DATABASE_URL to the pooler, LISTEN and migrations direct.
fn database_env(db: &str) -> Vec<(&'static str, String)> {
    let server = |u: &str| {
        u.rsplit_once('/')
            .map_or(u.to_string(), |(b, _)| b.to_string())
    };
    let pooler = std::env::var("WEBEDT_TEST_POOLER_URL").ok();
    let shared = std::env::var("DATABASE_URL").ok();
    match (pooler, shared) {
        (Some(pooler), Some(shared)) if server(db) == server(&shared) => vec![
            (
                "DATABASE_URL",
                format!("{}/{}", server(&pooler), db.rsplit_once('/').unwrap().1),
            ),
            ("DATABASE_DIRECT_URL", db.to_string()),
            ("DB_POOLER_MODE", "transaction".to_string()),
        ],
        _ => vec![("DATABASE_URL", db.to_string())],
    }
}

async fn spawn_replica(db: &str, id: &str, env: &[(&str, &str)]) -> Replica {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_webedt-api"))
        .envs(database_env(db))
        .env("SESSION_SECRET", SECRET)
        .env("HOST", "127.0.0.1")
        .env("PORT", port.to_string())
        .env("CONTAINER_ID", id)
        .env("LOG_FORMAT", "json")
        .env("RUST_LOG", "warn")
        // One test user drives every stream and run: raise the per-user limits (each stays on).
        .env("LIMIT_STREAMS_PER_USER", "100000")
        .env("LIMIT_RUNS_PER_USER", "100000")
        .env("LIMIT_RUNS_PER_MINUTE", "100000")
        .envs(env.iter().copied())
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start webedt-api");
    let replica = Replica {
        id: id.to_string(),
        base: format!("http://127.0.0.1:{port}"),
        child,
    };
    wait_status(&replica.base, "/ready", 200, Duration::from_secs(30)).await;
    replica
}

async fn wait_status(base: &str, path: &str, want: u16, within: Duration) -> Duration {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .build()
        .unwrap();
    let started = Instant::now();
    loop {
        let got = client
            .get(format!("{base}{path}"))
            .send()
            .await
            .map(|r| r.status().as_u16());
        if got.as_ref().ok() == Some(&want) {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < within,
            "{base}{path} never answered {want} (last {got:?})"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn start_cluster() -> (Arc<Cluster>, String) {
    let cluster = tokio::task::spawn_blocking(|| Cluster::start(ClusterOptions::ephemeral()))
        .await
        .unwrap()
        .expect("private PostgreSQL");
    let url = cluster.url("postgres");
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&url)
        .await
        .unwrap();
    sqlx::query("CREATE DATABASE chaos")
        .execute(&mut conn)
        .await
        .unwrap();
    (Arc::new(cluster), cluster_url(&url))
}

/// A database for a test that does not stop PostgreSQL: on the shared test server when the suite
/// runs through PgBouncer (which fronts that server), else on a private cluster.
async fn start_database() -> (Option<Arc<Cluster>>, String) {
    match (
        std::env::var("WEBEDT_TEST_POOLER_URL"),
        std::env::var("DATABASE_URL"),
    ) {
        (Ok(_), Ok(shared)) => {
            let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&shared)
                .await
                .unwrap();
            let name = format!("chaos_{}", uuid::Uuid::new_v4().simple());
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&mut conn)
                .await
                .unwrap();
            let base = shared.rsplit_once('/').unwrap().0;
            (None, format!("{base}/{name}"))
        }
        _ => {
            let (cluster, url) = start_cluster().await;
            (Some(cluster), url)
        }
    }
}

fn cluster_url(admin: &str) -> String {
    format!("{}/chaos", admin.rsplit_once('/').unwrap().0)
}

/// Live replicas as a load balancer sees them.
#[derive(Clone, Default)]
struct Balancer(Arc<Mutex<Vec<String>>>);

impl Balancer {
    fn set(&self, bases: Vec<String>) {
        *self.0.lock().unwrap() = bases;
    }
    fn remove(&self, base: &str) {
        self.0.lock().unwrap().retain(|b| b != base);
    }
    fn add(&self, base: String) {
        self.0.lock().unwrap().push(base);
    }
    fn pick(&self, n: usize) -> String {
        let live = self.0.lock().unwrap();
        live[n % live.len()].clone()
    }
}

/// A client of the replica at `base`, with no overall timeout (streams outlast any).
fn api(base: &str) -> Api {
    Api::new(base.to_string(), reqwest::Client::new())
}

async fn create_and_send(base: &str, token: &str, message: &str) -> String {
    let api = api(base);
    let id = api.create_session(token).await;
    let res = api.send(token, &id, message).await;
    assert_eq!(res.status(), 202);
    id
}

/// Follows a session's stream like a browser behind a load balancer; returns the seqs and types
/// received, in order, once the server closes the stream after a terminal event.
async fn follow(
    lb: Balancer,
    token: String,
    session: String,
    start: usize,
    within: Duration,
) -> Vec<(i64, String)> {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + within;
    let mut got: Vec<(i64, String)> = Vec::new();
    let mut attempt = start;
    loop {
        assert!(
            Instant::now() < deadline,
            "session {session} did not finish; got {got:?}"
        );
        let replica = Api::new(lb.pick(attempt), client.clone());
        attempt += 1;
        let last = got.last().map_or(0, |g| g.0);
        let res = replica
            .stream(
                &token,
                &format!("/api/sessions/{session}/events/stream"),
                Some(last),
            )
            .send()
            .await;
        let Ok(res) = res
            .map_err(|_| ())
            .and_then(|r| if r.status() == 200 { Ok(r) } else { Err(()) })
        else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let mut frames = SseReader::new(res);
        let mut ended_cleanly = false;
        // A stream silent for 20 s counts as dropped, like one that broke.
        while let Ok(Some(frame)) = frames.next_unless_silent(Duration::from_secs(20)).await {
            if let Some(id) = frame.id {
                if ["completed", "error", "interrupted"].contains(&frame.event.as_str()) {
                    ended_cleanly = true;
                }
                got.push((id, frame.event));
            }
        }
        if ended_cleanly {
            return got;
        }
        // Dropped (replica killed or shutting down): reconnect elsewhere with Last-Event-ID.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn stored(base: &str, token: &str, session: &str) -> Vec<(i64, String)> {
    let body: Value = api(base)
        .call(
            token,
            Method::GET,
            &format!("/api/sessions/{session}/events"),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["seq"].as_i64().unwrap(),
                e["type"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

async fn owner_of(db: &sqlx::PgPool, session: &str) -> Option<String> {
    sqlx::query_scalar("SELECT owner FROM active_runs WHERE chat_session_id = $1::uuid")
        .bind(session)
        .fetch_optional(db)
        .await
        .unwrap()
}

/// Clients streaming while replicas are broken: 16 in the test suite; the benchmark command runs
/// the kill -9 test with `CHAOS_STREAMS=100`.
fn streams() -> usize {
    std::env::var("CHAOS_STREAMS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(16)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_a_replica_loses_no_event_and_its_runs_are_ended_once() {
    let _serial = SERIAL.lock().await;
    let (_cluster, db) = start_database().await;
    let env = [
        ("DEMO_EVENT_COUNT", "60"),
        ("DEMO_EVENT_DELAY_MS", "50"),
        ("ORPHAN_SESSION_TIMEOUT_MINUTES", "0.05"),
        ("ORPHAN_CLEANUP_INTERVAL_MINUTES", "0.02"),
    ];
    let mut replicas = Vec::new();
    for i in 0..3 {
        replicas.push(spawn_replica(&db, &format!("replica-{i}"), &env).await);
    }
    let lb = Balancer::default();
    lb.set(replicas.iter().map(|r| r.base.clone()).collect());
    let token = api(&replicas[0].base).register("chaos@example.com").await;
    let pool = sqlx::PgPool::connect(&db).await.unwrap();

    let mut sessions = Vec::new();
    for i in 0..streams() {
        sessions.push(create_and_send(&replicas[i % 3].base, &token, &format!("job {i}")).await);
    }
    let clients: Vec<_> = sessions
        .iter()
        .enumerate()
        .map(|(i, s)| {
            tokio::spawn(follow(
                lb.clone(),
                token.clone(),
                s.clone(),
                i,
                Duration::from_secs(60),
            ))
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(800)).await;
    let mut owned_by_victim = Vec::new();
    for s in &sessions {
        if owner_of(&pool, s).await.as_deref() == Some("replica-0") {
            owned_by_victim.push(s.clone());
        }
    }
    assert!(!owned_by_victim.is_empty(), "the victim owns some runs");
    let victim = replicas.remove(0);
    lb.remove(&victim.base);
    let mut child = victim.child;
    child.start_kill().unwrap(); // SIGKILL: no cleanup of any kind
    child.wait().await.unwrap();

    for (client, session) in clients.into_iter().zip(&sessions) {
        let got = client.await.unwrap();
        let expected = stored(&replicas[0].base, &token, session).await;
        assert_eq!(
            got, expected,
            "session {session}: the client saw exactly what is stored"
        );
        let seqs: Vec<i64> = got.iter().map(|g| g.0).collect();
        assert_eq!(
            seqs,
            (1..=seqs.len() as i64).collect::<Vec<_>>(),
            "contiguous, no duplicate"
        );
        let terminal = &got.last().unwrap().1;
        let errors = got.iter().filter(|g| g.1 == "error").count();
        if owned_by_victim.contains(session) {
            assert_eq!(terminal, "error", "a lost run ends with an error event");
            assert_eq!(errors, 1, "cleaned exactly once");
        } else {
            assert_eq!(terminal, "completed", "a survivor's run completes");
            assert_eq!(errors, 0);
        }
    }
    let lost: Vec<String> = sqlx::query_scalar(
        "SELECT last_error FROM chat_sessions WHERE status = 'error' ORDER BY last_error",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(lost.len(), owned_by_victim.len());
    assert!(
        lost.iter()
            .all(|e| e == "run lost: replica replica-0 stopped"),
        "{lost:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_outage_under_load_flips_readiness_and_nothing_hangs_or_exits() {
    let _serial = SERIAL.lock().await;
    let (cluster, db) = start_cluster().await;
    let env = [("DB_CONNECT_TIMEOUT_MS", "1000")];
    let mut replicas = Vec::new();
    for i in 0..3 {
        replicas.push(spawn_replica(&db, &format!("pg-{i}"), &env).await);
    }
    let token = api(&replicas[0].base).register("outage@example.com").await;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let slowest = Arc::new(Mutex::new(Duration::ZERO));
    let load: Vec<_> = (0..6)
        .map(|i| {
            let base = replicas[i % 3].base.clone();
            let token = token.clone();
            let stop = stop.clone();
            let slowest = slowest.clone();
            tokio::spawn(async move {
                let client = reqwest::Client::builder()
                    .timeout(Duration::from_secs(30))
                    .build()
                    .unwrap();
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let t = Instant::now();
                    let _ = client
                        .get(format!("{base}/api/sessions"))
                        .bearer_auth(&token)
                        .send()
                        .await;
                    let took = t.elapsed();
                    let mut s = slowest.lock().unwrap();
                    *s = (*s).max(took);
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;

    let c = cluster.clone();
    tokio::task::spawn_blocking(move || c.stop())
        .await
        .unwrap()
        .unwrap();
    for r in &replicas {
        let took = wait_status(&r.base, "/ready", 503, Duration::from_secs(5)).await;
        eprintln!("{}: /ready 503 after {took:?}", r.id);
        assert_eq!(
            reqwest::get(format!("{}/live", r.base))
                .await
                .unwrap()
                .status(),
            200
        );
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let c = cluster.clone();
    tokio::task::spawn_blocking(move || c.start_again())
        .await
        .unwrap()
        .unwrap();
    let back = Instant::now();
    for r in &replicas {
        wait_status(&r.base, "/ready", 200, Duration::from_secs(5)).await;
    }
    eprintln!(
        "all replicas ready {:?} after PostgreSQL returned",
        back.elapsed()
    );
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for l in load {
        l.await.unwrap();
    }
    let slowest = *slowest.lock().unwrap();
    eprintln!("slowest request during the outage: {slowest:?}");
    assert!(
        slowest < Duration::from_millis(1000 + 3000),
        "connect timeout + margin, got {slowest:?}"
    );
    for r in &mut replicas {
        assert!(r.child.try_wait().unwrap().is_none(), "{} exited", r.id);
    }
    let res = api(&replicas[1].base)
        .call(&token, Method::GET, "/api/sessions", None)
        .await;
    assert_eq!(res.status(), 200, "serving again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupt_on_a_replica_that_does_not_own_the_run_stops_it_within_a_second() {
    let _serial = SERIAL.lock().await;
    let (_cluster, db) = start_cluster().await;
    let env = [("DEMO_EVENT_COUNT", "1000"), ("DEMO_EVENT_DELAY_MS", "20")];
    let a = spawn_replica(&db, "owner", &env).await;
    let b = spawn_replica(&db, "other", &env).await;
    let token = api(&a.base).register("irq@example.com").await;
    let session = create_and_send(&a.base, &token, "long").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let other = api(&b.base);
    let asked = Instant::now();
    let res = other
        .call(
            &token,
            Method::POST,
            &format!("/api/sessions/{session}/interrupt"),
            None,
        )
        .await;
    assert_eq!(res.status(), 202);
    loop {
        let s: Value = other
            .call(
                &token,
                Method::GET,
                &format!("/api/sessions/{session}"),
                None,
            )
            .await
            .json()
            .await
            .unwrap();
        if s["status"] == "interrupted" {
            break;
        }
        assert!(
            asked.elapsed() < Duration::from_secs(3),
            "still {}",
            s["status"]
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let took = asked.elapsed();
    eprintln!("interrupt via a non-owner replica took {took:?}");
    assert!(
        took < Duration::from_millis(1000 + 250),
        "within 1 s (+ polling margin): {took:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_restart_during_streams_loses_nothing_and_each_replica_exits_in_time() {
    let _serial = SERIAL.lock().await;
    let (_cluster, db) = start_cluster().await;
    let env = [
        ("DEMO_EVENT_COUNT", "80"),
        ("DEMO_EVENT_DELAY_MS", "50"),
        // One stored event per delta, so the count below is exact: with coalescing, a stalled
        // machine lets two 50 ms deltas share a window (seen in CI: 79 of 80).
        ("EVENT_TEXT_COALESCE_MS", "0"),
        ("LB_DRAIN_DELAY_MS", "300"),
        ("SHUTDOWN_TIMEOUT_MS", "10000"),
    ];
    let mut replicas = Vec::new();
    for i in 0..3 {
        replicas.push(spawn_replica(&db, &format!("v1-{i}"), &env).await);
    }
    let lb = Balancer::default();
    lb.set(replicas.iter().map(|r| r.base.clone()).collect());
    let token = api(&replicas[0].base).register("rolling@example.com").await;
    let mut sessions = Vec::new();
    for i in 0..streams() {
        sessions.push(create_and_send(&replicas[i % 3].base, &token, &format!("roll {i}")).await);
    }
    let clients: Vec<_> = sessions
        .iter()
        .enumerate()
        .map(|(i, s)| {
            tokio::spawn(follow(
                lb.clone(),
                token.clone(),
                s.clone(),
                i,
                Duration::from_secs(90),
            ))
        })
        .collect();

    for generation in 0..3 {
        let fresh = spawn_replica(&db, &format!("v2-{generation}"), &env).await;
        lb.add(fresh.base.clone());
        let old = replicas.remove(0);
        lb.remove(&old.base);
        let mut child = old.child;
        // SAFETY: signalling our own child process.
        unsafe {
            libc::kill(child.id().unwrap() as i32, libc::SIGTERM);
        }
        let sent = Instant::now();
        let status =
            tokio::time::timeout(Duration::from_millis(300 + 10_000 + 5_000), child.wait())
                .await
                .unwrap_or_else(|_| {
                    panic!("{} did not exit within drain + shutdown timeout", old.id)
                })
                .unwrap();
        eprintln!("{} exited {status} after {:?}", old.id, sent.elapsed());
        assert!(status.success(), "{}: {status}", old.id);
        replicas.push(fresh);
    }
    for (client, session) in clients.into_iter().zip(&sessions) {
        let got = client.await.unwrap();
        let expected = stored(&replicas[0].base, &token, session).await;
        assert_eq!(got, expected, "session {session}");
        assert_eq!(
            got.last().unwrap().1,
            "completed",
            "runs finish during graceful shutdown"
        );
        assert_eq!(
            got.iter().filter(|g| g.1 == "assistant_message").count(),
            80
        );
    }
}
