//! Helpers: git, bare repositories, worker configuration and requests, event checks.
//! The imports every test module shares are re-exported from here.

pub use axum::body::Bytes;
pub use axum::http::{HeaderMap, Method, StatusCode, Uri};
pub use serde_json::{Value, json};
pub use std::path::{Path, PathBuf};
pub use std::process::Command;
pub use std::sync::{Arc, Mutex};
pub use std::time::{Duration, Instant};
pub use webedt_contract::worker::WorkerConfig;
pub use webedt_worker::protocol::*;
pub use webedt_worker::{ProviderDefaults, Worker};

pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "Seed")
        .env("GIT_AUTHOR_EMAIL", "seed@example.com")
        .env("GIT_COMMITTER_NAME", "Seed")
        .env("GIT_COMMITTER_EMAIL", "seed@example.com")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A bare repository with `main`: README.md, src/lib.rs, a symlink leading out.
pub fn bare_repo(tmp: &Path, name: &str) -> PathBuf {
    let seed = tmp.join(format!("{name}-seed"));
    std::fs::create_dir_all(seed.join("src")).unwrap();
    std::fs::write(
        seed.join("README.md"),
        "# Sample project\n\nIt adds numbers.\n",
    )
    .unwrap();
    std::fs::write(
        seed.join("src/lib.rs"),
        "pub fn add(a: i32, b: i32) -> i32 {\n    a - b\n}\n",
    )
    .unwrap();
    std::os::unix::fs::symlink("/etc", seed.join("etc-link")).unwrap();
    git(&seed, &["init", "-q", "-b", "main"]);
    git(&seed, &["add", "-A"]);
    git(&seed, &["commit", "-q", "-m", "seed"]);
    let bare = tmp.join(format!("{name}.git"));
    git(
        tmp,
        &[
            "clone",
            "-q",
            "--bare",
            seed.to_str().unwrap(),
            bare.to_str().unwrap(),
        ],
    );
    git(&bare, &["config", "uploadpack.allowFilter", "true"]);
    git(&bare, &["config", "http.receivepack", "true"]);
    bare
}

pub fn config(root: &Path) -> WorkerConfig {
    let mut c = WorkerConfig::embedded(root.to_str().unwrap());
    c.git_protocols = vec!["file".into(), "http".into()];
    // The smart-HTTP test remote listens on loopback: allowlisted like a company git server.
    c.outbound_allowed_hosts = vec!["127.0.0.1".into()];
    c
}

pub fn worker(c: WorkerConfig) -> Worker {
    let mut p = ProviderDefaults::from_env(|_| None);
    p.demo_delay = Duration::ZERO;
    p.idle_timeout = Duration::from_secs(20);
    Worker::new(c, p).unwrap()
}

pub fn spec(url: &str, expected: Option<&str>) -> WorkspaceSpec {
    WorkspaceSpec {
        repository_url: url.into(),
        base_branch: "main".into(),
        working_branch: "webedt/0123456789abcdef".into(),
        expected_head: expected.map(str::to_string),
        credential: None,
        author: Author {
            name: "Octo Cat".into(),
            email: "583231+octocat@users.noreply.github.com".into(),
        },
    }
}

pub fn request(
    prompt: &str,
    workspace: Option<WorkspaceSpec>,
    provider: Option<ProviderSpec>,
) -> ExecuteRequest {
    ExecuteRequest {
        kind: Some("execute".into()),
        chat_session_id: "11111111-2222-3333-4444-555555555555".into(),
        prompt: prompt.into(),
        history: vec![],
        model: None,
        workspace,
        provider,
    }
}

pub async fn run(w: &Worker, r: ExecuteRequest) -> Vec<WorkerEvent> {
    let mut h = w.start(r).unwrap();
    let mut out = Vec::new();
    while let Some(e) = tokio::time::timeout(Duration::from_secs(60), h.events.recv())
        .await
        .expect("run finishes")
    {
        out.push(e);
    }
    out
}

pub fn last_changes(events: &[WorkerEvent]) -> Changes {
    events
        .iter()
        .rev()
        .find_map(|e| match e {
            WorkerEvent::Changes(c) => Some(c.clone()),
            _ => None,
        })
        .expect("a changes event")
}

pub fn results(events: &[WorkerEvent]) -> Vec<(String, String, bool)> {
    events
        .iter()
        .filter_map(|e| match e {
            WorkerEvent::ToolResult {
                tool_use_id,
                content,
                is_error,
            } => Some((tool_use_id.clone(), content.clone(), *is_error)),
            _ => None,
        })
        .collect()
}

pub fn assert_completed(events: &[WorkerEvent]) {
    assert!(
        matches!(events.last(), Some(WorkerEvent::Result { .. })),
        "{events:#?}"
    );
}
