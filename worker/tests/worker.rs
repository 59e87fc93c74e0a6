//! The worker end to end: real git (bare repositories over `file://` and smart HTTP through
//! `git http-backend`), fake model upstreams written from the Anthropic and OpenAI docs, real
//! Landlock/seccomp where the kernel has them.

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use webedt_contract::worker::WorkerConfig;
use webedt_worker::protocol::*;
use webedt_worker::{ProviderDefaults, Worker};

// ---------- helpers ----------

fn git(dir: &Path, args: &[&str]) -> String {
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
fn bare_repo(tmp: &Path, name: &str) -> PathBuf {
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

fn config(root: &Path) -> WorkerConfig {
    let mut c = WorkerConfig::embedded(root.to_str().unwrap());
    c.git_protocols = vec!["file".into(), "http".into()];
    c
}

fn worker(c: WorkerConfig) -> Worker {
    let mut p = ProviderDefaults::from_env(|_| None);
    p.demo_delay = Duration::ZERO;
    p.idle_timeout = Duration::from_secs(20);
    Worker::new(c, p).unwrap()
}

fn spec(url: &str, expected: Option<&str>) -> WorkspaceSpec {
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

fn request(
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

async fn run(w: &Worker, r: ExecuteRequest) -> Vec<WorkerEvent> {
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

fn last_changes(events: &[WorkerEvent]) -> Changes {
    events
        .iter()
        .rev()
        .find_map(|e| match e {
            WorkerEvent::Changes(c) => Some(c.clone()),
            _ => None,
        })
        .expect("a changes event")
}

fn results(events: &[WorkerEvent]) -> Vec<(String, String, bool)> {
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

fn assert_completed(events: &[WorkerEvent]) {
    assert!(
        matches!(events.last(), Some(WorkerEvent::Result { .. })),
        "{events:#?}"
    );
}

// ---------- fake model upstreams ----------

#[derive(Clone, Default)]
struct Upstream {
    /// Scripted response bodies, one per request (the last repeats).
    script: Arc<Vec<String>>,
    requests: Arc<Mutex<Vec<(HeaderMap, Value)>>>,
}

async fn fake_upstream(script: Vec<String>) -> (String, Upstream) {
    let up = Upstream {
        script: Arc::new(script),
        requests: Default::default(),
    };
    let state = up.clone();
    let app = axum::Router::new().fallback(move |headers: HeaderMap, body: Bytes| {
        let state = state.clone();
        async move {
            let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let n = {
                let mut r = state.requests.lock().unwrap();
                r.push((headers, v));
                r.len() - 1
            };
            let body = state.script[n.min(state.script.len() - 1)].clone();
            ([("content-type", "text/event-stream")], body)
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), up)
}

fn sse(event: &str, data: Value) -> String {
    format!("event: {event}\ndata: {data}\n\n")
}

/// An Anthropic streamed message: optional text, then tool_use blocks whose input JSON is sent
/// in the given fragments (split anywhere, as the API does).
fn anthropic(text: &str, tools: &[(&str, &str, &[&str])]) -> String {
    let mut s = sse(
        "message_start",
        json!({"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-x", "content": [], "stop_reason": null, "usage": {"input_tokens": 100, "output_tokens": 1}}}),
    );
    let mut i = 0;
    if !text.is_empty() {
        s += &sse(
            "content_block_start",
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        );
        s += &sse("ping", json!({"type": "ping"}));
        s += &sse(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}}),
        );
        s += &sse(
            "content_block_stop",
            json!({"type": "content_block_stop", "index": 0}),
        );
        i = 1;
    }
    for (id, name, fragments) in tools {
        s += &sse(
            "content_block_start",
            json!({"type": "content_block_start", "index": i, "content_block": {"type": "tool_use", "id": id, "name": name, "input": {}}}),
        );
        for f in fragments.iter() {
            s += &sse(
                "content_block_delta",
                json!({"type": "content_block_delta", "index": i, "delta": {"type": "input_json_delta", "partial_json": f}}),
            );
        }
        s += &sse(
            "content_block_stop",
            json!({"type": "content_block_stop", "index": i}),
        );
        i += 1;
    }
    let stop = if tools.is_empty() {
        "end_turn"
    } else {
        "tool_use"
    };
    s += &sse(
        "message_delta",
        json!({"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": null}, "usage": {"output_tokens": 42}}),
    );
    s += &sse("message_stop", json!({"type": "message_stop"}));
    s
}

/// An OpenAI chat-completions stream: text, then tool calls with arguments in fragments.
fn openai(text: &str, calls: &[(&str, &str, &[&str])]) -> String {
    let chunk = |delta: Value, finish: Value| {
        format!(
            "data: {}\n\n",
            json!({"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-x", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
        )
    };
    let mut s = chunk(json!({"role": "assistant", "content": ""}), Value::Null);
    if !text.is_empty() {
        s += &chunk(json!({"content": text}), Value::Null);
    }
    for (i, (id, name, fragments)) in calls.iter().enumerate() {
        s += &chunk(
            json!({"tool_calls": [{"index": i, "id": id, "type": "function", "function": {"name": name, "arguments": ""}}]}),
            Value::Null,
        );
        for f in fragments.iter() {
            s += &chunk(
                json!({"tool_calls": [{"index": i, "function": {"arguments": f}}]}),
                Value::Null,
            );
        }
    }
    s += &chunk(
        json!({}),
        json!(if calls.is_empty() {
            "stop"
        } else {
            "tool_calls"
        }),
    );
    s += &format!(
        "data: {}\n\n",
        json!({"id": "c1", "object": "chat.completion.chunk", "choices": [], "usage": {"prompt_tokens": 50, "completion_tokens": 7, "total_tokens": 57}})
    );
    s += "data: [DONE]\n\n";
    s
}

fn provider(kind: ProviderKind, base: &str, key: &str) -> ProviderSpec {
    ProviderSpec {
        kind,
        model: Some("test-model".into()),
        api_key: Some(Secret::new(key)),
        base_url: Some(base.into()),
    }
}

// ---------- smart HTTP remote ----------

const TOKEN: &str = "ghs_TESTTOKEN_0123456789abcdef";

async fn http_remote(project_root: PathBuf) -> String {
    use base64::Engine;
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("x-access-token:{TOKEN}"))
    );
    let app = axum::Router::new().fallback(
        move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
            let (expected, root) = (expected.clone(), project_root.clone());
            async move {
                if headers.get("authorization").and_then(|v| v.to_str().ok())
                    != Some(expected.as_str())
                {
                    return (
                        StatusCode::UNAUTHORIZED,
                        [("www-authenticate", "Basic realm=\"git\"".to_string())],
                        Vec::new(),
                    );
                }
                let h = |k: &str| {
                    headers
                        .get(k)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_string()
                };
                let mut child = tokio::process::Command::new("git")
                    .arg("http-backend")
                    .env_clear()
                    .env("PATH", std::env::var("PATH").unwrap())
                    .env("GIT_PROJECT_ROOT", &root)
                    .env("GIT_HTTP_EXPORT_ALL", "1")
                    .env("PATH_INFO", uri.path())
                    .env("REQUEST_METHOD", method.as_str())
                    .env("QUERY_STRING", uri.query().unwrap_or_default())
                    .env("CONTENT_TYPE", h("content-type"))
                    .env("CONTENT_LENGTH", body.len().to_string())
                    .env("HTTP_CONTENT_ENCODING", h("content-encoding"))
                    .env("HTTP_GIT_PROTOCOL", h("git-protocol"))
                    .env("REMOTE_USER", "x-access-token")
                    .env("REMOTE_ADDR", "127.0.0.1")
                    .stdin(std::process::Stdio::piped())
                    .stdout(std::process::Stdio::piped())
                    .spawn()
                    .unwrap();
                use tokio::io::AsyncWriteExt;
                let mut stdin = child.stdin.take().unwrap();
                stdin.write_all(&body).await.unwrap();
                drop(stdin);
                let out = child.wait_with_output().await.unwrap().stdout;
                let split = out
                    .windows(4)
                    .position(|w| w == b"\r\n\r\n")
                    .map(|p| (p, 4))
                    .or_else(|| out.windows(2).position(|w| w == b"\n\n").map(|p| (p, 2)))
                    .unwrap();
                let head = String::from_utf8_lossy(&out[..split.0]).to_string();
                let mut status = StatusCode::OK;
                let mut ctype = String::from("text/plain");
                for line in head.lines() {
                    if let Some(v) = line.strip_prefix("Status: ") {
                        status = StatusCode::from_u16(v[..3].parse().unwrap()).unwrap();
                    } else if let Some(v) = line.strip_prefix("Content-Type: ") {
                        ctype = v.trim().to_string();
                    }
                }
                (
                    status,
                    [("content-type", ctype)],
                    out[split.0 + split.1..].to_vec(),
                )
            }
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

// ---------- tests ----------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_run_edits_commits_pushes_and_a_follow_up_continues_on_the_branch() {
    let tmp = tempfile::tempdir().unwrap();
    let bare = bare_repo(tmp.path(), "demo");
    let url = format!("file://{}", bare.display());
    let w = worker(config(&tmp.path().join("root")));
    let started = Instant::now();
    let events = run(
        &w,
        request(
            "Mention the tests",
            Some(spec(&url, None)),
            Some(ProviderSpec {
                kind: ProviderKind::Demo,
                model: None,
                api_key: None,
                base_url: None,
            }),
        ),
    )
    .await;
    let elapsed = started.elapsed();
    if std::env::var("WORKER_TRANSCRIPT").is_ok() {
        for e in &events {
            println!("{}", e.to_sse().trim_end());
        }
        println!("# run took {} ms", elapsed.as_millis());
    }
    assert_completed(&events);
    let names: Vec<&str> = events
        .iter()
        .filter_map(|e| match e {
            WorkerEvent::ToolUse { name, .. } => Some(name.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(names, ["list_files", "read_file", "edit_file"]);
    let c = last_changes(&events);
    assert_eq!(c.branch, "webedt/0123456789abcdef");
    assert_eq!(c.base_commit, git(&bare, &["rev-parse", "main"]).trim());
    let head = c.head_commit.clone().expect("pushed");
    assert_eq!(
        git(&bare, &["rev-parse", "webedt/0123456789abcdef"]).trim(),
        head
    );
    assert_eq!(c.files.len(), 1);
    assert_eq!(
        (
            c.files[0].path.as_str(),
            c.files[0].status.as_str(),
            c.files[0].additions
        ),
        ("README.md", "modified", 2)
    );
    assert!(
        c.diff
            .contains("+> Edited by the WebEDT demo agent for: \"Mention the tests\""),
        "{}",
        c.diff
    );
    // The pushed commit, checked with git: author from the request, committer WebEDT, message.
    let log = git(
        &bare,
        &[
            "log",
            "-1",
            "--format=%an <%ae>|%cn|%s",
            "webedt/0123456789abcdef",
        ],
    );
    assert_eq!(
        log.trim(),
        "Octo Cat <583231+octocat@users.noreply.github.com>|WebEDT|Mention the tests"
    );
    let readme = git(&bare, &["show", "webedt/0123456789abcdef:README.md"]);
    assert!(
        readme.starts_with("# Sample project\n\n> Edited by the WebEDT demo agent"),
        "{readme}"
    );
    assert_eq!(
        git(&bare, &["rev-parse", "main"]),
        git(&bare, &["rev-parse", "main"])
    );
    // The run directory is gone.
    assert_eq!(
        std::fs::read_dir(tmp.path().join("root")).unwrap().count(),
        0
    );

    // A follow-up starts from the pushed head and adds a commit on top.
    let mut follow = request(
        "Once more",
        Some(spec(&url, Some(&head))),
        Some(ProviderSpec {
            kind: ProviderKind::Demo,
            model: None,
            api_key: None,
            base_url: None,
        }),
    );
    follow.history = vec![
        HistoryTurn {
            role: "user".into(),
            content: "Mention the tests".into(),
        },
        HistoryTurn {
            role: "assistant".into(),
            content: "Done".into(),
        },
    ];
    let events = run(&w, follow).await;
    assert_completed(&events);
    let c2 = last_changes(&events);
    let head2 = c2.head_commit.clone().unwrap();
    assert_ne!(head2, head);
    assert_eq!(
        c2.base_commit, c.base_commit,
        "the diff still starts at the base"
    );
    assert_eq!(
        git(&bare, &["rev-parse", &format!("{head2}^")]).trim(),
        head
    );
    assert_eq!(c2.files[0].additions, 4);

    // A session that expects an older head is refused, and nothing is pushed.
    let events = run(&w, request("again", Some(spec(&url, Some(&head))), None)).await;
    match events.last() {
        Some(WorkerEvent::Error { message }) => {
            assert!(message.starts_with("branch moved"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        git(&bare, &["rev-parse", "webedt/0123456789abcdef"]).trim(),
        head2
    );
    // So is a first run (no expected head) when the branch already exists.
    let events = run(&w, request("again", Some(spec(&url, None)), None)).await;
    assert!(
        matches!(events.last(), Some(WorkerEvent::Error { message }) if message.starts_with("branch moved"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anthropic_tool_use_parallel_calls_in_fragments_read_edit_done() {
    let tmp = tempfile::tempdir().unwrap();
    let bare = bare_repo(tmp.path(), "anth");
    let url = format!("file://{}", bare.display());
    let (base, up) = fake_upstream(vec![
        anthropic(
            "Let me look.",
            &[
                (
                    "toolu_A",
                    "read_file",
                    &["", "{\"pa", "th\": \"src/l", "ib.rs\"}"],
                ),
                ("toolu_B", "list_files", &[]),
            ],
        ),
        anthropic(
            "",
            &[(
                "toolu_C",
                "edit_file",
                &[
                    "{\"path\":\"src/lib.rs\",",
                    "\"old_str\":\"a - b\",\"new_str\":\"a + b\"}",
                ],
            )],
        ),
        anthropic("Fixed `add`: it subtracted.", &[]),
    ])
    .await;
    let w = worker(config(&tmp.path().join("root")));
    let events = run(
        &w,
        request(
            "Fix add",
            Some(spec(&url, None)),
            Some(provider(ProviderKind::Anthropic, &base, "sk-ant-KEY123")),
        ),
    )
    .await;
    assert_completed(&events);
    let r = results(&events);
    assert_eq!(r.len(), 3);
    assert!(r[0].1.contains("a - b") && !r[0].2, "{r:?}");
    assert!(r[1].1.contains("README.md") && r[1].1.contains("src/lib.rs"));
    assert!(!r[2].2, "{r:?}");
    let text: String = events
        .iter()
        .filter_map(|e| match e {
            WorkerEvent::Text { text } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(text, "Let me look.Fixed `add`: it subtracted.");
    match events.last() {
        Some(WorkerEvent::Result { usage, turns, .. }) => {
            assert_eq!(
                (usage.input_tokens, usage.output_tokens, *turns),
                (300, 126, 3)
            );
        }
        other => panic!("{other:?}"),
    }
    // What the upstream received: key header, tools, one user message answering both calls.
    let reqs = up.requests.lock().unwrap().clone();
    assert_eq!(reqs.len(), 3);
    assert_eq!(reqs[0].0["x-api-key"], "sk-ant-KEY123");
    assert_eq!(reqs[0].0["anthropic-version"], "2023-06-01");
    assert!(
        reqs[0].1["tools"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["name"] == "edit_file" && t["input_schema"]["type"] == "object")
    );
    let m = reqs[1].1["messages"].as_array().unwrap();
    assert_eq!(m.len(), 3);
    assert_eq!(
        m[1]["content"][1],
        json!({"type": "tool_use", "id": "toolu_A", "name": "read_file", "input": {"path": "src/lib.rs"}})
    );
    assert_eq!(m[1]["content"][2]["input"], json!({}));
    assert_eq!(m[2]["role"], "user");
    assert_eq!(m[2]["content"][0]["tool_use_id"], "toolu_A");
    assert_eq!(m[2]["content"][1]["tool_use_id"], "toolu_B");
    assert_eq!(m[2]["content"][0]["is_error"], false);
    // Pushed.
    assert_eq!(
        git(&bare, &["show", "webedt/0123456789abcdef:src/lib.rs"]),
        "pub fn add(a: i32, b: i32) -> i32 {\n    a + b\n}\n"
    );
    let c = last_changes(&events);
    assert_eq!((c.files[0].additions, c.files[0].deletions), (1, 1));
    // The key never shows in an event.
    assert!(!format!("{events:?}").contains("KEY123"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_fragments_malformed_call_and_tool_errors_are_fed_back() {
    let tmp = tempfile::tempdir().unwrap();
    let bare = bare_repo(tmp.path(), "oa");
    let url = format!("file://{}", bare.display());
    let (base, up) = fake_upstream(vec![
        openai(
            "",
            &[
                ("call_1", "read_file", &["{\"path\"", ": \"missing.rs\"}"]),
                (
                    "call_2",
                    "write_file",
                    &["{\"path\": \"x", "\", \"content\": "],
                ),
                ("call_3", "no_such_tool", &["{}"]),
                ("call_4", "read_file", &["{\"path\": \"../../etc/passwd\"}"]),
                ("call_5", "read_file", &["{\"path\": \"/etc/passwd\"}"]),
                ("call_6", "read_file", &["{\"path\": \"etc-link/passwd\"}"]),
                (
                    "call_7",
                    "write_file",
                    &["{\"path\": \".git/config\", \"content\": \"x\"}"],
                ),
            ],
        ),
        openai(
            "",
            &[(
                "call_8",
                "write_file",
                &["{\"path\": \"notes/hello.txt\", \"content\": \"hi\\n\"}"],
            )],
        ),
        openai("Wrote the note.", &[]),
    ])
    .await;
    let w = worker(config(&tmp.path().join("root")));
    let events = run(
        &w,
        request(
            "Add a note",
            Some(spec(&url, None)),
            Some(provider(ProviderKind::Openai, &base, "sk-OAKEY")),
        ),
    )
    .await;
    assert_completed(&events);
    let r = results(&events);
    assert_eq!(r.len(), 8, "{r:?}");
    assert!(
        r[..7].iter().all(|x| x.2),
        "all seven first calls fail: {r:?}"
    );
    assert!(r[1].1.contains("not valid JSON"), "{}", r[1].1);
    assert!(r[2].1.contains("unknown tool"));
    assert!(r[3].1.contains("`..` is not allowed"));
    assert!(r[4].1.contains("absolute paths"));
    assert!(r[5].1.contains("symbolic link"));
    assert!(r[6].1.contains(".git"));
    assert!(!r[7].2);
    let reqs = up.requests.lock().unwrap().clone();
    assert_eq!(reqs[0].0["authorization"], "Bearer sk-OAKEY");
    assert_eq!(reqs[0].1["tools"][0]["type"], "function");
    let m = reqs[1].1["messages"].as_array().unwrap();
    // system, user, assistant with 7 tool_calls, 7 tool messages.
    assert_eq!(m.len(), 10);
    assert_eq!(m[2]["tool_calls"].as_array().unwrap().len(), 7);
    assert_eq!(
        m[2]["tool_calls"][0]["function"]["arguments"],
        "{\"path\":\"missing.rs\"}"
    );
    assert_eq!(m[3]["role"], "tool");
    assert_eq!(m[3]["tool_call_id"], "call_1");
    assert!(m[3]["content"].as_str().unwrap().starts_with("error: "));
    assert!(m[4]["content"].as_str().unwrap().contains("not valid JSON"));
    assert_eq!(
        git(&bare, &["show", "webedt/0123456789abcdef:notes/hello.txt"]),
        "hi\n"
    );
    assert!(!format!("{events:?}").contains("OAKEY"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_turn_limit_stops_a_model_that_never_stops() {
    let tmp = tempfile::tempdir().unwrap();
    let bare = bare_repo(tmp.path(), "limit");
    let url = format!("file://{}", bare.display());
    let (base, up) = fake_upstream(vec![openai("again", &[("c", "list_files", &["{}"])])]).await;
    let mut c = config(&tmp.path().join("root"));
    c.max_turns = 3;
    let w = worker(c);
    let events = run(
        &w,
        request(
            "loop",
            Some(spec(&url, None)),
            Some(provider(ProviderKind::Openai, &base, "k")),
        ),
    )
    .await;
    match events.last() {
        Some(WorkerEvent::Error { message }) => {
            assert!(message.contains("WORKER_MAX_TURNS"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(up.requests.lock().unwrap().len(), 3);
    // Nothing changed: the report says so, and no branch was pushed.
    let ch = last_changes(&events);
    assert!(ch.head_commit.is_none() && ch.files.is_empty());
    assert!(git(&bare, &["branch", "--list", "webedt/*"]).is_empty());
}

fn sleepers(tag: &str) -> usize {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| {
            std::fs::read(e.path().join("cmdline"))
                .map(|c| String::from_utf8_lossy(&c).replace('\0', " ").trim() == tag)
                .unwrap_or(false)
        })
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_are_confined_and_smart_http_pushes_with_the_token_hidden() {
    let tmp = tempfile::tempdir().unwrap();
    let projects = tmp.path().join("projects");
    std::fs::create_dir_all(&projects).unwrap();
    let bare = bare_repo(&projects, "repo");
    let remote = http_remote(projects.clone()).await;
    let root = tmp.path().join("root");
    let mut c = config(&root);
    c.allow_commands = true;
    c.command_timeout_ms = 1500;
    let w = worker(c);
    let conf = w.confinement();
    if !conf.complete() {
        eprintln!("SKIPPED confinement checks: this kernel lacks Landlock or seccomp ({conf:?})");
    }
    assert!(w.commands_enabled() == conf.complete());
    // A sibling run's workspace, with a secret, under the same root.
    let sibling = root.join("run-sibling/work");
    std::fs::create_dir_all(&sibling).unwrap();
    std::fs::write(sibling.join("secret.txt"), "SIBLING-SECRET").unwrap();
    let outside = tmp.path().join("outside.txt");
    let gitdir_write = "echo x >> \"$(sed -n 's/^gitdir: //p' .git)/config\"; echo rc=$?";
    let cmds: Vec<String> = vec![
        format!("echo hi > {}", outside.display()),
        gitdir_write.into(),
        format!("cat {}/secret.txt", sibling.display()),
        "env; cat \"$(sed -n 's/^gitdir: //p' .git)/config\"".into(),
        "setsid sleep 613 & sleep 614 & sleep 615".into(),
        "python3 -c 'import socket; socket.socket(socket.AF_INET)' 2>&1 | tail -1; python3 -c 'import socket; socket.socket(socket.AF_UNIX); print(\"unix ok\")'".into(),
        "echo ok > made-by-command.txt".into(),
    ];
    let calls: Vec<(String, String, Vec<String>)> = cmds
        .iter()
        .enumerate()
        .map(|(i, c)| {
            (
                format!("call_{i}"),
                "run_command".to_string(),
                vec![json!({"command": c}).to_string()],
            )
        })
        .collect();
    let calls_ref: Vec<(&str, &str, Vec<&str>)> = calls
        .iter()
        .map(|(a, b, c)| {
            (
                a.as_str(),
                b.as_str(),
                c.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    let calls_ref2: Vec<(&str, &str, &[&str])> = calls_ref
        .iter()
        .map(|(a, b, c)| (*a, *b, c.as_slice()))
        .collect();
    let (base, _up) = fake_upstream(vec![openai("", &calls_ref2), openai("done", &[])]).await;
    let mut s = spec(&format!("{remote}/repo.git"), None);
    s.credential = Some(Credential {
        username: "x-access-token".into(),
        token: Secret::new(TOKEN),
    });
    let events = run(
        &w,
        request(
            "commands",
            Some(s.clone()),
            Some(provider(ProviderKind::Openai, &base, "sk-PROVIDERKEY")),
        ),
    )
    .await;
    let all = format!("{events:?}");
    assert!(
        !all.contains(TOKEN) && !all.contains("TESTTOKEN"),
        "the token leaked into events"
    );
    assert!(!all.contains("PROVIDERKEY"));
    assert_completed(&events);
    // Pushed over smart HTTP with the token.
    let ch = last_changes(&events);
    assert_eq!(
        git(&bare, &["rev-parse", "webedt/0123456789abcdef"]).trim(),
        ch.head_commit.unwrap()
    );
    if conf.complete() {
        let r = results(&events);
        assert!(
            !outside.exists(),
            "a write outside the workspace was refused"
        );
        assert!(
            r[1].1.contains("rc=1") || r[1].1.contains("ermission denied"),
            "git dir write: {}",
            r[1].1
        );
        // The repository's own config file, not `git config --list`: that also lists the
        // machine's global config, whose values may contain an "x" of their own.
        let remote_config = std::fs::read_to_string(bare.join("config")).unwrap();
        assert!(
            !remote_config.lines().any(|l| l.trim() == "x"),
            "remote untouched: {remote_config}"
        );
        assert!(
            r[2].2 && !r[2].1.contains("SIBLING-SECRET"),
            "sibling read: {}",
            r[2].1
        );
        assert!(
            r[3].1.contains("HOME=") && r[3].1.contains("[remote \"origin\"]"),
            "{}",
            r[3].1
        );
        assert!(r[4].2 && r[4].1.contains("timed out"), "{}", r[4].1);
        assert_eq!(
            sleepers("sleep 613") + sleepers("sleep 614") + sleepers("sleep 615"),
            0,
            "nothing outlives the command"
        );
        assert!(
            r[5].1.contains("PermissionError") && r[5].1.contains("unix ok"),
            "network refused, Unix sockets allowed: {}",
            r[5].1
        );
        assert_eq!(
            git(
                &bare,
                &["show", "webedt/0123456789abcdef:made-by-command.txt"]
            ),
            "ok\n"
        );
    }
    // A wrong token: the clone fails with a message, and the token is not in it.
    let mut bad = s.clone();
    bad.credential = Some(Credential {
        username: "x-access-token".into(),
        token: Secret::new("WRONG-TOKEN-xyz"),
    });
    bad.working_branch = "webedt/fedcba9876543210".into();
    let events = run(
        &w,
        request(
            "x",
            Some(bad),
            Some(provider(ProviderKind::Demo, &base, "k")),
        ),
    )
    .await;
    match events.last() {
        Some(WorkerEvent::Error { message }) => assert!(
            !message.contains("WRONG-TOKEN") && message.contains("git"),
            "{message}"
        ),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_http_a_closed_connection_interrupts_the_run_mid_tool() {
    let tmp = tempfile::tempdir().unwrap();
    let bare = bare_repo(tmp.path(), "intr");
    let url = format!("file://{}", bare.display());
    let mut c = config(&tmp.path().join("root"));
    c.allow_commands = true;
    c.allow_unconfined = true;
    let w = worker(c);
    let (base, _up) = fake_upstream(vec![
        openai(
            "",
            &[("c1", "run_command", &["{\"command\": \"sleep 616\"}"])],
        ),
        openai("done", &[]),
    ])
    .await;
    let app = webedt_worker::server::router(w.clone(), "s3cret-s3cret-s3cret".into());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let client = reqwest::Client::new();
    let body = serde_json::to_value(request(
        "sleep",
        Some(spec(&url, None)),
        Some(provider(ProviderKind::Openai, &base, "k")),
    ))
    .unwrap();
    // Without the secret: 401 with a JSON code.
    let r = client
        .post(format!("http://{addr}/execute"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "unauthorized"
    );
    let health: Value = client
        .get(format!("http://{addr}/health"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(health["confinement"]["landlock"].is_boolean(), "{health}");
    let mut r = client
        .post(format!("http://{addr}/execute"))
        .bearer_auth("s3cret-s3cret-s3cret")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let mut seen = String::new();
    while !seen.contains("event: tool_use") {
        seen.push_str(&String::from_utf8_lossy(&r.chunk().await.unwrap().unwrap()));
    }
    assert!(seen.starts_with(": keep-alive"), "{seen}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sleepers("sleep 616"), 1);
    let dropped = Instant::now();
    drop(r);
    // Within the keep-alive period plus a margin, the run is gone, and so is its command.
    loop {
        let h: Value = client
            .get(format!("http://{addr}/health"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if h["runs"] == 0 && sleepers("sleep 616") == 0 {
            break;
        }
        assert!(
            dropped.elapsed() < Duration::from_secs(3),
            "still running: {h}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!("interrupt took {} ms", dropped.elapsed().as_millis());
    let m = client
        .get(format!("http://{addr}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        m.contains("webedt_worker_runs_total{outcome=\"interrupted\"} 1"),
        "{m}"
    );
    // `/interrupt` is the fast path: with no such run it says so.
    let r: Value = client
        .post(format!("http://{addr}/interrupt"))
        .bearer_auth("s3cret-s3cret-s3cret")
        .json(&json!({"chatSessionId": "nope"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["interrupted"], false);
}
