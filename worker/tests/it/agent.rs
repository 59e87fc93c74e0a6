//! Runs through the worker library: the demo, each wire format's multi-turn tool use, limits.

use crate::common::*;
use crate::fakes::*;

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
